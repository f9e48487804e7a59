//! sovtui: a terminal cockpit for operators of OpenOva Sovereigns.
//!
//! `provision` is the library every front-end uses (it never touches the terminal), `sim` is the
//! simulated world on real wire protocols, `tui` is the cockpit, `cli` the headless front-end.

pub mod alloc_tuning;
pub mod cli;
pub mod logging;
pub mod tui;

pub use sovtui_core::{config, provision};
#[cfg(feature = "world")]
pub use sovtui_world::sim;
