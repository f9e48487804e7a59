//! The cockpit: app state, one reducer, panes, views, themes, keymaps, the terminal and its
//! render loop.
//!
//! Data flow: background tasks (a fleet data source, the config watcher, signal handlers) send
//! typed [`msg::Msg`]s on one bounded channel; [`app::App::update`] is the only code that changes
//! state; [`runtime::event_loop`] draws a frame only when the state changed, at most 30 per
//! second, each in synchronized output. Drawing ([`ui::draw`]) reads the app and returns what the
//! frame laid out ([`msg::Drawn`]), which goes back to the reducer as a message.
//!
//! To plug a data source in, pass [`runtime::run`] a closure that receives a
//! [`source::FleetSender`] and reports `SovereignStatus` snapshots or updates through it
//! (`sovtui demo` and the live cockpit both pass [`source::live_fleet_source`], the demo on the
//! simulated world's `fleet.toml`).
//!
//! What is on screen is a stack of panes ([`pane`]): the palette and the navigation raise a
//! pane, `esc` pops the top one, keys go to the top one. To add a pane with its own state: a
//! [`pane::View`] variant, an `App` slot, `impl pane::Pane`, its line in `App::top_pane`, an open
//! function that calls [`app::App::raise`], and a [`msg::ViewKind`] / palette command to reach it.
//! Draw with the theme's slots (never colour alone: give every state a symbol). Effects
//! (network calls, destructive steps) run as tasks holding a clone of the channel sender and
//! report back as messages; destructive ones only when [`app::App::armed`] is set.
//!
//! Modules: `msg` (messages; everything below the reducer imports it, never `app`), `app`
//! (state, reducer), `pane` (the stack and the pane trait), `ui` (drawing), `palette`
//! (commands and completion), `theme` / `keymap` (TOML files, colour depth, conflicts), `watch`
//! (live reload), `source` (fleet data sources), `runtime` (terminal, signals, event loop),
//! `wizard` (the provisioning wizard and the Phase 0/1 progress screen; it needs the
//! catalyst-api root, from `SOVTUI_CATALYST_API` or a `Msg::CatalystApi(url)` sent by whoever
//! starts the cockpit), `views` (state of the matrix and HelmRelease detail, armed Flux actions;
//! the live source hands the cockpit its `FleetHandle` as `FleetMsg::Connected`), `recover`,
//! `drill`, `troubleshoot` (the panes of §2.2, §6 and §7).

pub mod app;
pub mod arming;
pub mod decommission;
pub mod drill;
pub mod keymap;
pub mod msg;
pub mod palette;
pub mod pane;
pub mod pane_task;
pub mod playbook;
pub mod preflight;
pub mod recover;
pub mod runtime;
pub mod source;
pub mod theme;
pub mod troubleshoot;
pub mod ui;
pub mod views;
pub mod watch;
pub mod wizard;

pub use app::{App, Settings};
pub use msg::{FleetMsg, Msg, Notice};
pub use runtime::{ExitReason, run};
pub use source::FleetSender;
