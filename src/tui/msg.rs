//! The messages the cockpit's reducer accepts and the small types they carry. Everything that
//! sends into the reducer (sources, effect tasks, panes) imports this module, never `app`: the
//! reducer sits above them all.

use std::path::PathBuf;

use crossterm::event::Event;
use ratatui::widgets::TableState;

use crate::provision::fleet::model::SovereignStatus;

/// Everything the reducer accepts.
#[derive(Debug, Clone)]
pub enum Msg {
    Input(Event),
    Fleet(FleetMsg),
    /// Files under the config dir changed (from the notify watcher).
    ConfigChanged(Vec<PathBuf>),
    Notice(Notice),
    /// Replies of the wizard's and the progress screen's tasks.
    Wizard(super::wizard::WizardMsg),
    /// The catalyst-api root the wizard talks to (`sovtui demo` sends the world's URL).
    CatalystApi(String),
    /// Replies of the recovery pane's plan and purge tasks.
    Recover(super::recover::RecoverMsg),
    /// The Hetzner API the recovery pane uses (`sovtui demo` sends the world's; `Debug` masks
    /// the token).
    HetznerEndpoint(crate::provision::hetzner::client::Credentials),
    /// A background evidence gather of the troubleshooting walk came back.
    Troubleshoot(super::troubleshoot::GatherMsg),
    /// Replies of the drill pane's plan and run tasks.
    Drill(super::drill::DrillMsg),
    /// Replies of the decommission pane's plan and wipe tasks.
    Decommission(super::decommission::DecommissionMsg),
    /// A pre-flight run (the `:preflight` pane's) came back.
    Preflight(super::preflight::PreflightMsg),
    /// The demo holds its provisioning timeline until the operator's first key: the reducer
    /// notifies this on the first key press and says what started.
    DemoGate(DemoGate),
    /// The demo's simulated world, offered to the wizard (its Hetzner token and project) and
    /// where the demo's files go (never the operator's `~/.ssh` or real state dir).
    DemoWorld(DemoWorld),
    /// Where drills are journaled (`sovtui demo`: its own state dir, gone with its world).
    DrillStateDir(PathBuf),
    /// The fleet is a simulated world running this many times faster than the wall clock
    /// (`sovtui demo --speed`): drills report their timings in world time too.
    WorldSpeed(f64),
    /// The demo's simulated world can be paused: the reducer stops and restarts its clock
    /// through this ([`Action::PauseWorld`](super::keymap::Action::PauseWorld)).
    DemoClock(DemoClock),
    /// What the frame just drawn laid out (never marks the screen dirty).
    Drawn(Drawn),
}

/// What a fleet data source reports. The demo feeds these from a fixture; the live fleet
/// watcher sends the same messages.
#[derive(Debug, Clone)]
pub enum FleetMsg {
    /// The whole fleet, replacing what was shown.
    Snapshot(Vec<SovereignStatus>),
    /// One Sovereign, added or replacing the one with the same FQDN.
    Update(SovereignStatus),
    Removed(String),
    /// The source itself failed; the last data stays on screen.
    SourceError(String),
    /// A change from the live fleet watcher, applied to the shown fleet in place.
    Event(Box<crate::provision::fleet::FleetEvent>),
    /// The live source's handle to the fleet hub: armed actions and on-demand reads go through it.
    Connected(super::views::LiveFleet),
    /// A second passed: redraw only if some Sovereign is stale (its "stale for N s" grows).
    Tick,
    /// Kubernetes Events of one HelmRelease, fetched on demand for its detail view.
    ReleaseEvents {
        fqdn: String,
        name: String,
        result: Result<Vec<crate::provision::fleet::EventView>, String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: Level,
    pub text: String,
}

impl Notice {
    pub fn info(text: impl Into<String>) -> Self {
        Notice {
            level: Level::Info,
            text: text.into(),
        }
    }
    pub fn warn(text: impl Into<String>) -> Self {
        Notice {
            level: Level::Warn,
            text: text.into(),
        }
    }
    pub fn error(text: impl Into<String>) -> Self {
        Notice {
            level: Level::Error,
            text: text.into(),
        }
    }
}

/// The views the cockpit will have. Only the fleet views exist so far; the others are listed so
/// the operator can see what is coming, and say so honestly when picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    Fleet,
    Wizard,
    Troubleshoot,
    Drill,
    Recover,
}

impl ViewKind {
    pub const ALL: [ViewKind; 5] = [
        ViewKind::Fleet,
        ViewKind::Wizard,
        ViewKind::Troubleshoot,
        ViewKind::Drill,
        ViewKind::Recover,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ViewKind::Fleet => "Fleet overview",
            ViewKind::Wizard => "Wizard",
            ViewKind::Troubleshoot => "Troubleshoot",
            ViewKind::Drill => "Failover drill",
            ViewKind::Recover => "Recover (§2.2)",
        }
    }

    pub fn built(self) -> bool {
        matches!(
            self,
            ViewKind::Fleet
                | ViewKind::Wizard
                | ViewKind::Troubleshoot
                | ViewKind::Recover
                | ViewKind::Drill
        )
    }

    pub fn not_built_notice(self) -> Notice {
        Notice::warn(format!(
            "{}: not built yet — this build has the fleet overview, Sovereign detail and the wizard",
            self.label()
        ))
    }
}

/// What the last frame laid out, handed back to the reducer ([`Msg::Drawn`]) so that drawing
/// never writes into the state: list page sizes, scroll offsets, selections clamped to what is
/// still there, the help overlay's scroll clamped to its text. `None`: that pane was not drawn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drawn {
    /// Rows visible in the main list (page size for PageUp/PageDown).
    pub page: Option<usize>,
    pub fleet_table: Option<TableState>,
    pub detail_table: Option<TableState>,
    pub matrix_table: Option<TableState>,
    pub help_scroll: Option<u16>,
}

/// What waits for the operator's first key in the demo (see [`Msg::DemoGate`]).
#[derive(Debug, Clone)]
pub struct DemoGate {
    pub go: std::sync::Arc<tokio::sync::Notify>,
    /// The Sovereigns whose provisioning starts then.
    pub sovereigns: Vec<String>,
}

/// The demo world's clock, as the cockpit may pause it: `set(true)` stops simulated time,
/// `set(false)` restarts it. A closure, so the cockpit never depends on the world's types.
#[derive(Clone)]
pub struct DemoClock {
    pub set_paused: std::sync::Arc<dyn Fn(bool) + Send + Sync>,
}

impl std::fmt::Debug for DemoClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoClock")
    }
}

/// The simulated world the demo runs, as the wizard may use it. `Debug` masks the token.
#[derive(Clone)]
pub struct DemoWorld {
    pub hetzner_token: String,
    pub hetzner_project: String,
    /// The demo's own state dir: the wizard's draft and saved key go here.
    pub state_dir: PathBuf,
}

impl std::fmt::Debug for DemoWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoWorld")
            .field("hetzner_token", &"<masked>")
            .field("hetzner_project", &self.hetzner_project)
            .field("state_dir", &self.state_dir)
            .finish()
    }
}
