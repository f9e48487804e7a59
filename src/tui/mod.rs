//! The cockpit: app state, one reducer, views, themes, keymaps, the terminal and its render loop.
//!
//! Data flow: background tasks (a fleet data source, the config watcher, signal handlers) send
//! typed [`app::Msg`]s on one bounded channel; [`app::App::update`] is the only code that changes
//! state; [`runtime::event_loop`] draws a frame only when the state changed, at most 30 per
//! second, each in synchronized output.
//!
//! To plug a data source in, pass [`runtime::run`] a closure that receives a
//! [`source::FleetSender`] and reports `SovereignStatus` snapshots or updates through it
//! (`sovtui demo` and the live cockpit both pass [`source::live_fleet_source`], the demo on the
//! simulated world's `fleet.toml`).
//!
//! To add a view: add its variant to [`app::View`] (state) and make [`app::ViewKind::built`]
//! return true for it (the nav entry and the palette command then open it instead of the "not
//! built yet" notice), handle its keys in `App::on_action`, and draw it from [`ui::draw`] with
//! the theme's slots (never colour alone: give every state a symbol). Effects (network calls,
//! destructive steps) run as tasks holding a clone of the channel sender and report back as
//! messages; destructive ones only when [`app::App::armed`] is set.
//!
//! Modules: `app` (state, messages, reducer), `ui` (drawing), `palette` (commands and
//! completion), `theme` / `keymap` (TOML files, colour depth, conflicts), `watch` (live reload),
//! `source` (fleet data sources), `runtime` (terminal, signals, event loop), `wizard` (the
//! provisioning wizard and the Phase 0/1 progress screen; it needs the catalyst-api root, from
//! `SOVTUI_CATALYST_API` or a `Msg::CatalystApi(url)` sent by whoever starts the cockpit).
//! `views` (the
//! matrix and HelmRelease detail, armed Flux actions; the live source hands the cockpit its
//! `FleetHandle` as `FleetMsg::Connected`, and effects report back as messages).

pub mod app;
pub mod arming;
pub mod drill;
pub mod keymap;
pub mod palette;
pub mod playbook;
pub mod recover;
pub mod runtime;
pub mod source;
pub mod theme;
pub mod troubleshoot;
pub mod ui;
pub mod views;
pub mod watch;
pub mod wizard;

pub use app::{App, FleetMsg, Msg, Notice, Settings};
pub use runtime::{ExitReason, run};
pub use source::FleetSender;
