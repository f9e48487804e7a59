//! Helpers shared by the integration tests (each test file that needs them says `mod support;`).
#![allow(dead_code)] // not every test file uses every helper

pub mod cockpit;
pub mod diagnose;
pub mod hcloud;
pub mod hetzner;
pub mod hostile;
pub mod pty;
pub mod tools;
