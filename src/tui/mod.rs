//! The cockpit: app state, one reducer, views, themes, keymaps, the terminal and its render loop.
//!
//! Data flow: background tasks (a fleet data source, the config watcher, signal handlers) send
//! typed [`app::Msg`]s on one bounded channel; [`app::App::update`] is the only code that changes
//! state; [`runtime::event_loop`] draws a frame only when the state changed, at most 30 per
//! second, each in synchronized output.
//!
//! To plug a data source in, pass [`runtime::run`] a closure that receives a
//! [`source::FleetSender`] and reports `SovereignStatus` snapshots or updates through it.

pub mod app;
pub mod keymap;
pub mod palette;
pub mod runtime;
pub mod source;
pub mod theme;
pub mod ui;
pub mod watch;

pub use app::{App, FleetMsg, Msg, Notice, Settings};
pub use runtime::{ExitReason, run};
pub use source::FleetSender;
