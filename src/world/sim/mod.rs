//! The simulated OpenOva world: Kubernetes apiservers, catalyst-api, PDM and the Hetzner Cloud API
//! on loopback, speaking the real wire protocols so the real clients are exercised end to end.

pub mod catalyst;
pub mod clock;
pub mod control;
pub mod hetzner;
pub mod ingress;
pub mod kube;
pub mod operator;
pub mod pgpair;
pub mod scenario;
pub mod world;
