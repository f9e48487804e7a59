//! The cockpit's state and its one reducer. Everything that changes the screen arrives here as a
//! [`Msg`]: key presses, fleet data from the source task, config-file changes, what the last
//! frame laid out. Nothing else mutates [`App`] (drawing reads it), so the render loop only has
//! to ask whether anything changed.

mod fleet_views;

use std::path::{Path, PathBuf};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::widgets::TableState;

use crate::provision::fleet::arrange::{GroupBy, GroupKey, Row};
use crate::provision::fleet::model::SovereignStatus;

use super::keymap::{Action, Keymap, KeymapCatalog};
use super::msg::Drawn;
pub use super::msg::{FleetMsg, Level, Msg, Notice, ViewKind};
use super::palette::{self, Command, Palette};
use super::pane::{KeyCx, Outcome, Pane, PaneStack};
pub use super::pane::{Overlay, View};
use super::theme::{ColorLevel, Theme, ThemeCatalog};
use super::troubleshoot::{self as ts, TroubleshootView};
use super::wizard::{Effects, WizardScreen};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Nav,
    Main,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NavItem {
    Sovereign(String),
    View(ViewKind),
}

/// How the cockpit was started.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Shown in the title bar: where the data comes from (e.g. that it is fixture data).
    pub banner: String,
    pub level: ColorLevel,
    /// Theme name; `None` picks by colour depth.
    pub theme: Option<String>,
    pub keymap: Option<String>,
    /// `$XDG_CONFIG_HOME/sovtui`; `None` disables user themes and keymaps.
    pub config_dir: Option<PathBuf>,
}

impl Settings {
    /// Settings from the process environment: colour ladder, `SOVTUI_THEME`, `SOVTUI_KEYMAP`.
    pub fn from_env(banner: impl Into<String>) -> Self {
        let non_empty = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Settings {
            banner: banner.into(),
            level: ColorLevel::from_process_env(),
            theme: non_empty("SOVTUI_THEME"),
            keymap: non_empty("SOVTUI_KEYMAP"),
            config_dir: Some(crate::config::paths::config_dir()),
        }
    }
}

pub struct App {
    pub banner: String,
    pub fleet: Vec<SovereignStatus>,
    /// Set until the first data arrives.
    pub waiting_for_data: bool,
    pub source_error: Option<String>,
    /// What is on screen, bottom to top (see [`super::pane`]).
    panes: PaneStack,
    pub focus: Focus,
    pub notice: Option<Notice>,
    pub nav_selected: usize,
    pub fleet_filter: String,
    pub detail_filter: String,
    pub fleet_table: TableState,
    pub detail_table: TableState,
    /// Rows visible in the main list at the last render (page size for PageUp/PageDown).
    pub page: usize,
    pub armed: bool,
    /// Fleet views: matrix selection, live hub, transitions, events, sort, clock.
    pub fv: super::views::FleetViews,
    pub theme: Theme,
    pub themes: ThemeCatalog,
    pub keymap: Keymap,
    pub keymaps: KeymapCatalog,
    /// Theme and keymap names (built-ins and user files), read once and again whenever the
    /// config watcher reports a change, so the help overlay and the palette never read the
    /// directories while drawing.
    pub config_names: ConfigNames,
    pub level: ColorLevel,
    /// The wizard screen, kept while the operator looks elsewhere so nothing typed is lost.
    pub wizard: Option<Box<WizardScreen>>,
    /// Where effect tasks (live checks, create, follow) send their replies.
    pub effects: Effects,
    /// catalyst-api root: `SOVTUI_CATALYST_API` at start, or a [`Msg::CatalystApi`].
    pub catalyst_api: Option<String>,
    /// Where the wizard draft is saved (`None`: not saved).
    pub wizard_draft_path: Option<PathBuf>,
    /// The troubleshooting walk: `Some` exactly while it is on the pane stack.
    pub troubleshoot: Option<TroubleshootView>,
    /// The walk set aside while a related action's view is open; `:troubleshoot` on the same
    /// Sovereign brings it back as it was.
    pub troubleshoot_parked: Option<TroubleshootView>,
    /// Text for the terminal clipboard; the runtime writes it as OSC 52 after the next frame.
    pub clipboard: Option<String>,
    /// The recovery pane, kept while the operator looks elsewhere (a purge keeps reporting).
    pub recover: Option<Box<super::recover::RecoverScreen>>,
    /// The decommission pane, kept while the operator looks elsewhere (a wipe keeps reporting).
    pub decommission: Option<Box<super::decommission::DecommissionScreen>>,
    /// The pre-flight pane, kept while the operator looks elsewhere (a run keeps going).
    pub preflight: Option<Box<super::preflight::PreflightScreen>>,
    /// Hetzner API and token handed in by whoever started the cockpit ([`Msg::HetznerEndpoint`]).
    pub hetzner: Option<crate::provision::hetzner::client::Credentials>,
    /// Where the recovery pane looks up a Sovereign's `hetzner` token source.
    pub fleet_file: Option<PathBuf>,
    /// The drill pane, kept while the operator looks elsewhere (a run keeps reporting).
    pub drill: Option<Box<super::drill::DrillScreen>>,
    /// Where drills are journaled and their reports written.
    pub drill_state_dir: PathBuf,
    /// Set by the demo: the simulated world's speed (drills report world time too).
    pub world_speed: Option<f64>,
    /// The demo's provisioning timeline, waiting for the first key.
    pub demo_gate: Option<super::msg::DemoGate>,
    /// The demo world's clock ([`Action::PauseWorld`]); `None` outside the demo.
    pub demo_clock: Option<super::msg::DemoClock>,
    /// Whether the demo's world stands still (shown in the title bar, in words).
    pub world_paused: bool,
    /// The demo's simulated world, for the wizard.
    pub demo_world: Option<super::msg::DemoWorld>,
    /// The fleet file the live hub follows (from its `FleetLoaded`): where a Sovereign the
    /// wizard provisions joins the fleet. `None` without a live hub: nothing is written.
    pub join_fleet_file: Option<PathBuf>,
    quit: bool,
    dirty: bool,
}

impl App {
    pub fn new(settings: Settings) -> App {
        let themes = ThemeCatalog::new(settings.config_dir.as_ref().map(|d| d.join("themes")));
        let keymaps = KeymapCatalog::new(settings.config_dir.clone());
        let mut notices = Vec::new();
        let level = settings.level;
        let wanted_theme = settings
            .theme
            .clone()
            .unwrap_or_else(|| level.default_theme().to_string());
        let theme = match themes.load(&wanted_theme, level) {
            Ok(t) => t,
            Err(e) => {
                notices.push(Notice::error(format!(
                    "theme {} used instead — {e}",
                    level.default_theme()
                )));
                builtin_theme(level)
            }
        };
        let wanted_keymap = settings.keymap.clone().unwrap_or_else(|| "default".into());
        let keymap = match keymaps.load(&wanted_keymap) {
            Ok(k) => k,
            Err(e) => {
                notices.push(Notice::error(format!("user keymap ignored — {e}")));
                keymaps
                    .load_without_overlay(&wanted_keymap)
                    .or_else(|_| KeymapCatalog::new(None).load("default"))
                    .unwrap_or_else(|e| panic!("built-in keymap is broken: {e}"))
            }
        };
        for n in &notices {
            tracing::warn!(notice = %n.text, "configuration problem at start");
        }
        App {
            banner: settings.banner,
            fleet: Vec::new(),
            waiting_for_data: true,
            source_error: None,
            panes: PaneStack::default(),
            focus: Focus::Main,
            notice: notices.pop(),
            nav_selected: 0,
            fleet_filter: String::new(),
            detail_filter: String::new(),
            fleet_table: TableState::default().with_selected(Some(0)),
            detail_table: TableState::default().with_selected(Some(0)),
            page: 10,
            armed: false,
            fv: super::views::FleetViews {
                worst_first_above: crate::provision::fleet::arrange::worst_first_above(),
                ..Default::default()
            },
            theme,
            config_names: ConfigNames::read(&themes, &keymaps),
            themes,
            keymap,
            keymaps,
            level,
            wizard: None,
            effects: Effects::default(),
            catalyst_api: std::env::var("SOVTUI_CATALYST_API")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            wizard_draft_path: Some(crate::provision::wizard::default_draft_path()),
            troubleshoot: None,
            troubleshoot_parked: None,
            clipboard: None,
            recover: None,
            decommission: None,
            preflight: None,
            hetzner: None,
            fleet_file: Some(crate::config::paths::fleet_file()),
            drill: None,
            drill_state_dir: crate::config::paths::state_dir(),
            world_speed: None,
            demo_gate: None,
            demo_clock: None,
            world_paused: false,
            demo_world: None,
            join_fleet_file: None,
            quit: false,
            dirty: true,
        }
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether the screen needs redrawing; clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    // ---- the pane stack -----------------------------------------------------------------

    /// The base view: the fleet list, a Sovereign, the matrix, a HelmRelease, the wizard or the
    /// recovery pane (floating panes and overlays aside).
    pub fn view(&self) -> &View {
        self.panes.view()
    }

    /// The panes on screen, bottom to top, and the overlay.
    pub fn panes(&self) -> &PaneStack {
        &self.panes
    }

    pub fn overlay(&self) -> Option<&Overlay> {
        self.panes.overlay()
    }

    /// Whether the drill pane is on the stack.
    /// The pane on top of the stack: what is on screen (overlays aside).
    pub fn top_view(&self) -> &View {
        self.panes.top()
    }

    pub fn drill_shown(&self) -> bool {
        self.panes.contains(&View::Drill)
    }

    /// Show `view` (see [`PaneStack::raise`]). A walk that leaves the stack is set aside, to
    /// come back with `:troubleshoot`; the drill pane's state stays in its slot.
    pub fn raise(&mut self, view: View) {
        if self.panes.raise(view).contains(&View::Troubleshoot) {
            self.troubleshoot_parked = self.troubleshoot.take();
        }
    }

    /// After `esc` put panes back (`PaneStack::pop`, `return_home`): the walk set aside comes
    /// back with them; a pane whose state has gone meanwhile is not shown empty.
    fn returned(&mut self, back: &[View]) {
        if back.contains(&View::Troubleshoot) && self.troubleshoot.is_none() {
            self.troubleshoot = self.troubleshoot_parked.take();
        }
        for v in back {
            let gone = match v {
                View::Troubleshoot => self.troubleshoot.is_none(),
                View::Drill => self.drill.is_none(),
                View::Wizard => self.wizard.is_none(),
                View::Recover => self.recover.is_none(),
                View::Decommission => self.decommission.is_none(),
                View::Preflight => self.preflight.is_none(),
                View::Fleet | View::Sovereign(_) | View::Matrix | View::Release { .. } => false,
            };
            if gone {
                self.panes.remove(v);
            }
        }
    }

    /// Pop the top pane, and take back what it hid.
    fn pop_pane(&mut self) {
        let before: Vec<View> = self.panes.views().to_vec();
        self.panes.pop();
        let back: Vec<View> = self
            .panes
            .views()
            .iter()
            .filter(|v| !before.contains(v))
            .cloned()
            .collect();
        self.returned(&back);
    }

    /// Take the walk off the stack, closing it.
    fn close_troubleshoot(&mut self) {
        self.panes.remove(&View::Troubleshoot);
        self.troubleshoot = None;
    }

    /// The pane with its own state on top of the stack, if the top is one.
    pub fn top_pane(&self) -> Option<&dyn Pane> {
        match self.panes.top() {
            View::Wizard => self.wizard.as_deref().map(|p| p as &dyn Pane),
            View::Recover => self.recover.as_deref().map(|p| p as &dyn Pane),
            View::Decommission => self.decommission.as_deref().map(|p| p as &dyn Pane),
            View::Preflight => self.preflight.as_deref().map(|p| p as &dyn Pane),
            View::Drill => self.drill.as_deref().map(|p| p as &dyn Pane),
            View::Troubleshoot => self.troubleshoot.as_ref().map(|p| p as &dyn Pane),
            View::Fleet | View::Sovereign(_) | View::Matrix | View::Release { .. } => None,
        }
    }

    fn top_pane_mut(&mut self) -> Option<&mut dyn Pane> {
        match self.panes.top() {
            View::Wizard => self.wizard.as_deref_mut().map(|p| p as &mut dyn Pane),
            View::Recover => self.recover.as_deref_mut().map(|p| p as &mut dyn Pane),
            View::Decommission => self.decommission.as_deref_mut().map(|p| p as &mut dyn Pane),
            View::Preflight => self.preflight.as_deref_mut().map(|p| p as &mut dyn Pane),
            View::Drill => self.drill.as_deref_mut().map(|p| p as &mut dyn Pane),
            View::Troubleshoot => self.troubleshoot.as_mut().map(|p| p as &mut dyn Pane),
            View::Fleet | View::Sovereign(_) | View::Matrix | View::Release { .. } => None,
        }
    }

    /// What a pane's keys may use of the cockpit.
    fn key_cx(&self) -> KeyCx {
        KeyCx {
            armed: self.armed,
            effects: self.effects.clone(),
            catalyst_api: self.catalyst_api.clone(),
            hetzner: self.hetzner.clone(),
            fleet_file: self.fleet_file.clone(),
            drill: self.drill_conn(),
        }
    }

    /// Take in what the frame just drawn laid out (what drawing used to write into the state).
    fn on_drawn(&mut self, d: Drawn) {
        if let Some(page) = d.page {
            self.page = page;
        }
        if let Some(t) = d.fleet_table {
            self.fleet_table = t;
        }
        if let Some(t) = d.detail_table {
            self.detail_table = t;
        }
        if let Some(t) = d.matrix_table {
            self.fv.matrix_table = t;
        }
        if let (Some(shown), Some(Overlay::Help { .. })) = (d.help_scroll, self.overlay()) {
            self.panes.set_overlay(Overlay::Help { scroll: shown });
        }
    }

    /// The one reducer.
    pub fn update(&mut self, msg: Msg) {
        match msg {
            Msg::Input(Event::Key(key)) => {
                if key.kind != KeyEventKind::Release {
                    if let Some(gate) = self.demo_gate.take() {
                        gate.go.notify_one();
                        self.notice = Some(Notice::info(format!(
                            "demo: provisioning {} started — watch it in the fleet",
                            gate.sovereigns.join(", ")
                        )));
                    }
                    self.on_key(key);
                    self.dirty = true;
                }
            }
            Msg::Input(Event::Resize(..)) => self.dirty = true,
            Msg::Input(_) => {}
            Msg::Fleet(FleetMsg::Tick) => {
                // Running drills show step timers.
                if self.fleet.iter().any(|s| !s.connection.is_live())
                    || self.drill.as_ref().is_some_and(|d| d.is_running())
                {
                    self.dirty = true;
                }
                if self
                    .troubleshoot
                    .as_ref()
                    .is_some_and(|t| t.refresh_due(ts::REFRESH_EVERY))
                {
                    self.start_troubleshoot_gather();
                }
            }
            Msg::Fleet(f) => {
                self.on_fleet(f);
                self.dirty = true;
            }
            Msg::ConfigChanged(paths) => self.on_config_changed(&paths),
            Msg::Notice(n) => {
                self.notice = Some(n);
                self.dirty = true;
            }
            Msg::Drawn(d) => self.on_drawn(d),
            Msg::Wizard(m) => {
                if let Some(w) = self.wizard.as_mut() {
                    w.on_msg(m, &self.effects, self.catalyst_api.as_deref());
                }
                self.dirty = true;
            }
            Msg::CatalystApi(url) => self.catalyst_api = Some(url),
            Msg::Recover(m) => {
                if let Some(r) = self.recover.as_mut() {
                    r.on_msg(m);
                }
                self.dirty = true;
            }
            Msg::HetznerEndpoint(creds) => {
                self.hetzner = Some(creds);
                let conn = self.preflight_conn();
                if let Some(w) = self.wizard.as_mut() {
                    w.preflight_conn = conn;
                }
            }
            Msg::Decommission(m) => {
                if let Some(d) = self.decommission.as_mut() {
                    d.on_msg(m);
                }
                self.dirty = true;
            }
            Msg::Troubleshoot(m) => {
                if let Some(t) = self.troubleshoot.as_mut()
                    && t.on_gathered(m)
                {
                    self.dirty = true;
                }
            }
            Msg::DrillStateDir(dir) => self.drill_state_dir = dir,
            Msg::DemoWorld(world) => {
                self.wizard_draft_path = Some(world.state_dir.join("wizard-draft.json"));
                if let Some(w) = self.wizard.as_mut() {
                    w.use_demo_world(world.clone());
                }
                self.demo_world = Some(world);
            }
            Msg::DemoGate(gate) => {
                self.notice = Some(Notice::info(format!(
                    "demo: press any key to start provisioning {} — its Phase 0 and Phase 1 run on screen",
                    gate.sovereigns.join(", ")
                )));
                self.demo_gate = Some(gate);
                self.dirty = true;
            }
            Msg::WorldSpeed(speed) => self.world_speed = Some(speed),
            Msg::DemoClock(clock) => {
                self.demo_clock = Some(clock);
                self.dirty = true;
            }
            Msg::Drill(m) => {
                if let Some(d) = self.drill.as_mut() {
                    d.on_msg(m);
                }
                self.dirty = true;
            }
            Msg::Preflight(m) => {
                if let Some(p) = self.preflight.as_mut() {
                    p.on_msg(m);
                }
                self.dirty = true;
            }
        }
    }

    /// How the drill pane reaches a Sovereign (live hub, fleet file, Hetzner credentials).
    pub fn drill_conn(&self) -> super::drill::Conn {
        super::drill::Conn {
            live: self.fv.live.as_ref().map(|l| l.handle.clone()),
            fleet_file: self.fleet_file.clone(),
            hetzner: self.hetzner.clone(),
        }
    }

    /// Open the drill pane for `fqdn` (else the Sovereign in view or selected) and fetch its
    /// plan; reopening the same Sovereign keeps a pane that is planned, offered or running.
    pub fn open_drill(&mut self, fqdn: Option<String>) {
        let fqdn = fqdn
            .or_else(|| self.selected_sovereign().map(|s| s.fqdn.clone()))
            .or_else(|| self.drill.as_ref().map(|d| d.fqdn.clone()));
        let Some(fqdn) = fqdn else {
            self.notice = Some(Notice::warn(
                "drill: select a multi-region Sovereign first (or :drill FQDN)",
            ));
            return;
        };
        use super::drill::Phase;
        let keep = self.drill.as_deref().is_some_and(|d| {
            (d.fqdn == fqdn && !matches!(d.phase, Phase::Done | Phase::Failed(_))) || d.is_running()
        });
        if keep {
            if self.drill.as_deref().is_some_and(|d| d.fqdn != fqdn) {
                self.notice = Some(Notice::warn(
                    "a drill is running: it stays on screen until it ends",
                ));
            }
        } else {
            let mut screen = super::drill::DrillScreen::new(&fqdn, self.drill_state_dir.clone());
            screen.world_speed = self.world_speed;
            screen.world_paused = self.world_paused;
            screen.start_plan(self.effects.tx.as_ref(), &self.drill_conn());
            self.drill = Some(Box::new(screen));
        }
        self.raise(View::Drill);
        self.focus = Focus::Main;
    }

    /// At start: offer the newest unfinished drill of an earlier session (resume or roll back),
    /// and name the interrupted Phase-0 applies and purges — all from the one journal listing.
    pub fn offer_unfinished(&mut self) {
        use crate::provision::journal::{self, Op};
        let listing = journal::unfinished(&journal::root(&self.drill_state_dir));
        let mut said = Vec::new();
        let mut drills = super::drill::unfinished_drills(&listing, &self.drill_state_dir);
        if !drills.is_empty() {
            let first = drills.remove(0);
            said.push(format!(
                "unfinished drill {} on {} (SSH dropped?): resume or roll back it here{}",
                first.run_id.clone().unwrap_or_default(),
                first.fqdn,
                if drills.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} more: sovtui drill resume|rollback {}",
                        drills.len(),
                        drills
                            .iter()
                            .filter_map(|r| r.run_id.clone())
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                }
            ));
            self.drill = Some(Box::new(first));
            self.raise(View::Drill);
        }
        let applies: Vec<String> = listing.of(Op::Phase0Apply).map(|r| r.describe()).collect();
        if !applies.is_empty() {
            said.push(format!(
                "interrupted Phase-0 apply of {} — :recover on the Sovereign to purge",
                applies.join(", ")
            ));
        }
        for p in listing.of(Op::Purge) {
            said.push(format!(
                "interrupted purge of {} — :recover on it again (safe: re-lists and verifies)",
                p.describe()
            ));
        }
        said.extend(
            listing
                .unreadable
                .iter()
                .map(|e| format!("journal unreadable: {e}")),
        );
        if !said.is_empty() {
            self.notice = Some(Notice::warn(said.join(" · ")));
        }
    }

    /// Open the recovery pane for the Sovereign in view (or selected in the fleet list) and
    /// start its dry run; reopening the same Sovereign keeps the pane as it was.
    pub fn open_recover(&mut self) {
        self.open_recover_for(None);
    }

    /// Open the recovery pane for `fqdn`, or (`None`) for the Sovereign in view.
    pub fn open_recover_for(&mut self, wanted: Option<String>) {
        let fqdn = match self.view() {
            _ if wanted.is_some() => wanted,
            View::Sovereign(fqdn) | View::Release { fqdn, .. } => Some(fqdn.clone()),
            View::Fleet | View::Matrix => self
                .sovereign_at_row(self.fleet_view_selection())
                .map(|s| s.fqdn.clone()),
            View::Wizard
            | View::Recover
            | View::Decommission
            | View::Preflight
            | View::Troubleshoot
            | View::Drill => None,
        };
        let fqdn = match (fqdn, &self.recover) {
            (Some(f), _) => f,
            (None, Some(r)) => r.fqdn.clone(),
            (None, None) => {
                self.notice = Some(Notice::warn(
                    "recover: select a Sovereign in the fleet list first",
                ));
                return;
            }
        };
        // A finished or failed pane is replaced by a fresh dry run; a running one is kept.
        let fresh = |r: &super::recover::RecoverScreen| {
            r.fqdn == fqdn
                && matches!(
                    r.phase,
                    super::recover::Phase::Planning
                        | super::recover::Phase::Planned
                        | super::recover::Phase::Applying
                )
        };
        if !self.recover.as_deref().is_some_and(fresh) {
            let mut screen = super::recover::RecoverScreen::new(&fqdn, self.catalyst_api.clone());
            // Journaled where `offer_unfinished` looks at the next start (the demo's own state
            // dir in the demo, the operator's otherwise).
            screen.options.journal_dir =
                Some(crate::provision::journal::root(&self.drill_state_dir));
            screen.start_plan(
                self.effects.tx.as_ref(),
                self.hetzner.clone(),
                self.fleet_file.clone(),
            );
            self.recover = Some(Box::new(screen));
        }
        self.raise(View::Recover);
        self.focus = Focus::Main;
    }

    /// Open the decommission pane for `fqdn` (else the Sovereign in view or selected, else the
    /// one shown last) and start its dry run. A pane whose wipe is running stays as it is; any
    /// other is replaced by a fresh dry run, so reopening shows the record as it is now.
    pub fn open_decommission(&mut self, fqdn: Option<String>) {
        let fqdn = fqdn
            .or_else(|| self.selected_sovereign().map(|s| s.fqdn.clone()))
            .or_else(|| self.decommission.as_ref().map(|d| d.fqdn.clone()));
        let Some(fqdn) = fqdn else {
            self.notice = Some(Notice::warn(
                "decommission: select a Sovereign first (or :decommission FQDN)",
            ));
            return;
        };
        if self.decommission.as_deref().is_some_and(|d| d.is_running()) {
            if self.decommission.as_deref().is_some_and(|d| d.fqdn != fqdn) {
                self.notice = Some(Notice::warn(
                    "a decommission is running: it stays on screen until it ends",
                ));
            }
        } else {
            let mut screen = super::decommission::DecommissionScreen::new(
                &fqdn,
                crate::provision::journal::root(&self.drill_state_dir),
            );
            let conn = super::decommission::Conn {
                fleet_file: self.fleet_file.clone(),
                catalyst_api: self.catalyst_api.clone(),
                hetzner: self.hetzner.clone(),
            };
            screen.start_plan(self.effects.tx.as_ref(), &conn);
            self.decommission = Some(Box::new(screen));
        }
        self.raise(View::Decommission);
    }

    /// How the pre-flight reaches the fleet file and the Hetzner API handed to the cockpit.
    pub fn preflight_conn(&self) -> super::preflight::Conn {
        super::preflight::Conn {
            fleet_file: self.fleet_file.clone(),
            hetzner: self.hetzner.clone(),
        }
    }

    /// Open the pre-flight pane and run the checklist: for `fqdn`, else (from the wizard) the
    /// wizard's request, else the Sovereign in view or selected, else the one shown last.
    pub fn open_preflight(&mut self, fqdn: Option<String>) {
        let from_wizard = if fqdn.is_none() && self.view() == &View::Wizard {
            self.wizard
                .as_ref()
                .map(|w| w.wizard.to_request())
                .filter(|r| !r.sovereign_fqdn.is_empty())
        } else {
            None
        };
        let target = match (&fqdn, &from_wizard) {
            (Some(f), _) => Some((f.clone(), None)),
            (None, Some(r)) => Some((r.sovereign_fqdn.clone(), Some(r.clone()))),
            (None, None) => self
                .selected_sovereign()
                .map(|s| (s.fqdn.clone(), None))
                .or_else(|| {
                    self.preflight
                        .as_ref()
                        .map(|p| (p.fqdn.clone(), p.request.clone()))
                }),
        };
        let Some((fqdn, request)) = target else {
            self.notice = Some(Notice::warn(
                "preflight: select a Sovereign, fill in the wizard, or :preflight FQDN",
            ));
            return;
        };
        let keep = self
            .preflight
            .as_deref()
            .is_some_and(|p| p.fqdn == fqdn && p.request == request);
        if !keep {
            let mut screen = super::preflight::PreflightScreen::new(&fqdn, request);
            screen.start(self.effects.tx.as_ref(), &self.preflight_conn());
            self.preflight = Some(Box::new(screen));
        }
        self.raise(View::Preflight);
        self.focus = Focus::Main;
    }

    /// Open the wizard (creating it, with a draft offered for restore, the first time).
    pub fn open_wizard(&mut self) {
        if self.wizard.is_none() {
            let mut w = WizardScreen::new(
                crate::provision::wizard::WizardConfig::default(),
                self.wizard_draft_path.clone(),
            );
            if let Some(world) = &self.demo_world {
                w.use_demo_world(world.clone());
            }
            self.wizard = Some(Box::new(w));
        }
        let conn = self.preflight_conn();
        let journal_root = crate::provision::journal::root(&self.drill_state_dir);
        let fx = self.effects.clone();
        if let Some(w) = self.wizard.as_mut() {
            w.fleet_file = self.join_fleet_file.clone();
            w.preflight_conn = conn;
            w.journal_root = Some(journal_root);
            w.ensure_preflight(&fx);
        }
        self.raise(View::Wizard);
        self.focus = Focus::Main;
    }

    fn on_fleet(&mut self, msg: FleetMsg) {
        // The matrix's column order survives a message that only changes states on one
        // Sovereign (checked after the message is applied), and one that leaves the fleet alone.
        let touched = match &msg {
            FleetMsg::Update(s) => Some(s.fqdn.clone()),
            FleetMsg::Event(e) if self.leaves_columns(e) => {
                self.on_fleet_msg(msg);
                return;
            }
            FleetMsg::Event(e) => e.fqdn().map(str::to_string),
            FleetMsg::Connected(_)
            | FleetMsg::SourceError(_)
            | FleetMsg::ReleaseEvents { .. }
            | FleetMsg::Tick => {
                self.on_fleet_msg(msg);
                return;
            }
            FleetMsg::Snapshot(_) | FleetMsg::Removed(_) => None,
        };
        use super::views::fleet_matrix::column_shape;
        let shape = |app: &App| {
            let i = app.fleet_position(touched.as_deref()?)?;
            let s = &app.fleet[i];
            Some((i, app.fleet.len(), column_shape(s), s.components.len()))
        };
        let before = shape(self);
        self.on_fleet_msg(msg);
        let after = shape(self);
        if before.is_some() && before == after {
            return;
        }
        // A Sovereign that arrived, or had no components before, only adds to the union of
        // components; when all of them are columns already, the columns stay. This is every
        // Sovereign but the first few while a large fleet syncs (recomputing was a pass over the
        // whole fleet each time, most of the initial sync's work at 2,000 Sovereigns).
        let grew_from_nothing = match (before, after) {
            (None, Some(_)) => true,
            (Some((_, len0, _, 0)), Some((_, len1, _, _))) => len0 == len1,
            _ => false,
        };
        if let (true, Some((i, ..))) = (grew_from_nothing, after)
            && self.matrix_columns_cover(i)
        {
            return;
        }
        self.refresh_matrix_columns();
    }

    /// Whether `e` leaves every component's namespace, name and dependencies as they are, so the
    /// column order cannot change. Most events under load are state changes; fingerprinting the
    /// Sovereign before and after each was a quarter of the cockpit's CPU in the soak.
    fn leaves_columns(&self, e: &crate::provision::fleet::FleetEvent) -> bool {
        use crate::provision::fleet::FleetEvent as E;
        match e {
            E::ComponentChanged {
                fqdn, component, ..
            } => self.fleet_position(fqdn).is_some_and(|i| {
                self.fleet[i].components.iter().any(|c| {
                    c.namespace == component.namespace
                        && c.name == component.name
                        && c.depends_on == component.depends_on
                })
            }),
            E::Synced { .. }
            | E::Connection { .. }
            | E::ObjectChanged { .. }
            | E::ObjectRemoved { .. }
            | E::FleetFileError { .. } => true,
            E::FleetLoaded { .. }
            | E::SovereignAdded { .. }
            | E::SovereignRemoved { .. }
            | E::Snapshot { .. }
            | E::ComponentRemoved { .. } => false,
        }
    }

    fn on_fleet_msg(&mut self, msg: FleetMsg) {
        // What changed in `fleet`: `None` nothing, `Some(Some(i))` only `fleet[i]`, `Some(None)`
        // more (the fleet views' index is then rebuilt).
        let mut changed: Option<Option<usize>> = None;
        match msg {
            FleetMsg::Snapshot(fleet) => {
                self.fleet = fleet;
                self.waiting_for_data = false;
                self.source_error = None;
                changed = Some(None);
            }
            FleetMsg::Update(s) => {
                match self.fleet_position(&s.fqdn) {
                    Some(i) => {
                        self.fv.record_transitions(&self.fleet[i], &s);
                        self.fleet[i] = s;
                        changed = Some(Some(i));
                    }
                    None => {
                        self.fleet.push(s);
                        changed = Some(None);
                    }
                }
                self.waiting_for_data = false;
            }
            FleetMsg::Removed(fqdn) => {
                self.fleet.retain(|s| s.fqdn != fqdn);
                changed = Some(None);
            }
            FleetMsg::Connected(live) => self.fv.live = Some(live),
            FleetMsg::Tick => {}
            FleetMsg::ReleaseEvents { fqdn, name, result } => {
                self.fv.events = Some(super::views::ReleaseEvents { fqdn, name, result });
            }
            FleetMsg::Event(event) => {
                use crate::provision::fleet::FleetEvent;
                let at = event.fqdn().and_then(|f| self.fleet_position(f));
                let len = self.fleet.len();
                // Transitions, read against the state before the event (a copy of the whole
                // Sovereign per event was most of the reducer's allocation at 2,000).
                if let Some(i) = at {
                    let before = &self.fleet[i];
                    match &*event {
                        FleetEvent::ComponentChanged { component, .. } => {
                            if let Some(old) =
                                before.components.iter().find(|c| c.name == component.name)
                            {
                                self.fv.record_transition(&before.fqdn, old, component);
                            }
                        }
                        FleetEvent::Snapshot { status } => {
                            self.fv.record_transitions(before, status)
                        }
                        _ => {}
                    }
                }
                match &*event {
                    FleetEvent::FleetFileError { error } => {
                        // The hub keeps the last good fleet; say what is wrong and where.
                        self.notice = Some(Notice::error(format!(
                            "fleet file: {error} (keeping the last good fleet)"
                        )));
                    }
                    FleetEvent::FleetLoaded { sovereigns, path } => {
                        self.waiting_for_data = sovereigns.is_empty() && self.fleet.is_empty();
                        self.source_error = None;
                        // The file the hub follows is the one new Sovereigns join.
                        if let Some(p) = path {
                            self.fleet_file = Some(p.clone());
                            self.join_fleet_file = Some(p.clone());
                            let conn = self.preflight_conn();
                            if let Some(w) = self.wizard.as_mut() {
                                w.fleet_file = Some(p.clone());
                                w.preflight_conn = conn;
                            }
                        }
                    }
                    _ => self.waiting_for_data = false,
                }
                event.apply_to(&mut self.fleet);
                let same_place = |i: usize| {
                    self.fleet.len() == len
                        && self.fleet.get(i).map(|s| s.fqdn.as_str()) == event.fqdn()
                };
                changed = Some(at.filter(|&i| same_place(i)));
            }
            FleetMsg::SourceError(e) => {
                tracing::warn!(error = %e, "fleet source error");
                self.notice = Some(Notice::error(format!("data source: {e}")));
                self.source_error = Some(e);
            }
        }
        if let Some(t) = &mut self.troubleshoot {
            let status = self.fleet.iter().find(|s| s.fqdn == t.fqdn);
            t.set_fleet_status(status);
        }
        if let Some(one) = changed {
            self.fleet_changed(one);
        }
        self.nav_selected = self.nav_selected.min(self.nav_len().saturating_sub(1));
    }

    // ---- the fleet views' rows ----------------------------------------------------------

    /// Where `fqdn` is in `fleet` (the index's map, checked; a scan if it is behind).
    fn fleet_position(&self, fqdn: &str) -> Option<usize> {
        match self.fv.index.position(fqdn) {
            Some(i) if self.fleet.get(i).is_some_and(|s| s.fqdn == fqdn) => Some(i),
            _ => self.fleet.iter().position(|s| s.fqdn == fqdn),
        }
    }

    /// The grouping in force: the operator's choice, else by the fleet's size.
    fn grouping(&self) -> GroupBy {
        self.fv
            .group_chosen
            .unwrap_or_else(|| GroupBy::default_for(self.fleet.len(), self.fv.worst_first_above))
    }

    /// Bring the rows up to date after `fleet` changed (`Some(i)`: only `fleet[i]`), keeping
    /// each list's selection on the Sovereign (or group header) it was on.
    fn fleet_changed(&mut self, one: Option<usize>) {
        let kept = self.remember_selections();
        match one {
            Some(i) => {
                if !self.fv.index.update(&self.fleet, i) {
                    return;
                }
            }
            None => {
                let g = self.grouping();
                self.fv.index.set_group_by(g);
                self.fv.index.rebuild(&self.fleet);
            }
        }
        self.restore_selections(kept);
    }

    /// The row each fleet list has selected, and its group.
    fn remember_selections(&self) -> [Option<(Row, Option<GroupKey>)>; 2] {
        let ix = &self.fv.index;
        let at = |t: &TableState| {
            let row = *ix.rows().get(t.selected().unwrap_or(0))?;
            Some((row, ix.groups().get(row.group()).map(|g| g.key.clone())))
        };
        [at(&self.fleet_table), at(&self.fv.matrix_table)]
    }

    /// Put each selection back on what it was on; a list that had no rows starts on its first
    /// Sovereign (not on the group header above it).
    fn restore_selections(&mut self, kept: [Option<(Row, Option<GroupKey>)>; 2]) {
        let ix = &self.fv.index;
        let first = ix.rows().iter().position(|r| r.sovereign().is_some());
        let place = |kept: Option<(Row, Option<GroupKey>)>| match kept {
            Some((row, key)) => ix.find_row(row, key.as_ref()),
            None => first,
        };
        let [fleet, matrix] = kept.map(place);
        if let Some(r) = fleet {
            self.fleet_table.select(Some(r));
        }
        if let Some(r) = matrix {
            self.fv.matrix_table.select(Some(r));
        }
    }

    /// The fleet views' rows: group headers and Sovereigns (filter, grouping, folds applied).
    pub fn fleet_rows(&self) -> &[Row] {
        self.fv.index.rows()
    }

    /// The Sovereign on `row` of the fleet views (`None` on a group header).
    pub fn sovereign_at_row(&self, row: usize) -> Option<&SovereignStatus> {
        let i = self.fleet_rows().get(row)?.sovereign()?;
        self.fleet.get(i)
    }

    /// The selected row of the fleet view on screen (the matrix or the overview).
    fn fleet_view_selection(&self) -> usize {
        match self.view() {
            View::Matrix => self.fv.matrix_table.selected(),
            _ => self.fleet_table.selected(),
        }
        .unwrap_or(0)
    }

    /// Re-apply the fleet filter after it was edited.
    fn sync_fleet_filter(&mut self) {
        self.fv.index.set_filter(&self.fleet_filter);
    }

    /// Cycle the grouping (none → tag → worst), or set it.
    pub fn set_grouping(&mut self, group: Option<GroupBy>) {
        let group = group.unwrap_or_else(|| self.grouping().next());
        self.fv.group_chosen = Some(group);
        let kept = self.remember_selections();
        self.fv.index.set_group_by(group);
        self.restore_selections(kept);
        self.notice = Some(Notice::info(match group {
            GroupBy::None => "not grouped".to_string(),
            GroupBy::Tag => "grouped by tag".to_string(),
            GroupBy::Worst => "grouped by worst state, worst first".to_string(),
        }));
    }

    /// Fold or unfold the group under the cursor (`None`), or every group.
    pub fn fold(&mut self, all: Option<bool>) {
        if !matches!(self.view(), View::Fleet | View::Matrix) {
            return;
        }
        if self.fv.index.group_by() == GroupBy::None {
            self.notice = Some(Notice::warn(
                "nothing to fold: the list is not grouped (group it first)",
            ));
            return;
        }
        match all {
            Some(fold) => {
                self.fv.index.fold_all(fold);
                self.reset_selection();
            }
            None => {
                let row = self.fleet_view_selection();
                if let Some(header) = self.fv.index.toggle_fold(row) {
                    match self.view() {
                        View::Matrix => self.fv.matrix_table.select(Some(header)),
                        _ => self.fleet_table.select(Some(header)),
                    }
                }
            }
        }
    }

    fn on_config_changed(&mut self, paths: &[PathBuf]) {
        // A file may have appeared or gone: the names shown by help and the palette follow.
        self.config_names = ConfigNames::read(&self.themes, &self.keymaps);
        let theme_hit = paths.iter().any(|p| self.is_active_theme_file(p));
        let keymap_hit = paths.iter().any(|p| self.is_active_keymap_file(p));
        if theme_hit {
            let name = self.theme.name.clone();
            self.switch_theme(&name, true);
        }
        if keymap_hit {
            let name = self.keymap.name.clone();
            self.switch_keymap(&name, true);
        }
    }

    fn is_active_theme_file(&self, path: &Path) -> bool {
        let Some(dir) = &self.themes.user_dir else {
            return false;
        };
        path.parent() == Some(dir.as_path())
            && path.file_stem().and_then(|s| s.to_str()) == Some(self.theme.name.as_str())
            && path.extension().is_some_and(|e| e == "toml")
    }

    fn is_active_keymap_file(&self, path: &Path) -> bool {
        if self.keymaps.overlay_file().as_deref() == Some(path) {
            return true;
        }
        let Some(dir) = self.keymaps.user_dir() else {
            return false;
        };
        path.parent() == Some(dir.as_path())
            && path.file_stem().and_then(|s| s.to_str()) == Some(self.keymap.name.as_str())
    }

    /// Load and apply a theme; on error say so and keep the current one.
    pub fn switch_theme(&mut self, name: &str, reload: bool) {
        match self.themes.load(name, self.level) {
            Ok(theme) => {
                tracing::info!(theme = name, reload, "theme applied");
                self.theme = theme;
                self.notice = Some(Notice::info(if reload {
                    format!("theme {name} reloaded")
                } else {
                    format!("theme {name}")
                }));
            }
            Err(e) => {
                tracing::warn!(error = %e, "theme refused");
                self.notice = Some(Notice::error(format!(
                    "keeping theme {} — {e}",
                    self.theme.name
                )));
            }
        }
        self.dirty = true;
    }

    pub fn switch_keymap(&mut self, name: &str, reload: bool) {
        match self.keymaps.load(name) {
            Ok(keymap) => {
                tracing::info!(keymap = name, reload, "keymap applied");
                self.keymap = keymap;
                self.notice = Some(Notice::info(if reload {
                    format!("keymap {name} reloaded")
                } else {
                    format!("keymap {name}")
                }));
            }
            Err(e) => {
                tracing::warn!(error = %e, "keymap refused");
                self.notice = Some(Notice::error(format!(
                    "keeping keymap {} — {e}",
                    self.keymap.name
                )));
            }
        }
        self.dirty = true;
    }

    // ---- derived views of the state -------------------------------------------------------

    pub fn nav_items(&self) -> Vec<NavItem> {
        (0..self.nav_len())
            .filter_map(|i| self.nav_item(i))
            .collect()
    }

    /// How many items the navigation holds (every Sovereign, then the views).
    pub fn nav_len(&self) -> usize {
        self.fleet.len() + ViewKind::ALL.len()
    }

    /// Item `i` of the navigation, without building the whole list (2,000 Sovereigns).
    pub fn nav_item(&self, i: usize) -> Option<NavItem> {
        match self.fleet.get(i) {
            Some(s) => Some(NavItem::Sovereign(s.fqdn.clone())),
            None => ViewKind::ALL
                .get(i - self.fleet.len())
                .map(|k| NavItem::View(*k)),
        }
    }

    /// Indices into `fleet` of the Sovereigns the fleet views show, in row order (headers and
    /// folded groups aside).
    pub fn visible_fleet(&self) -> Vec<usize> {
        self.fleet_rows()
            .iter()
            .filter_map(|r| r.sovereign())
            .collect()
    }

    pub fn current_sovereign(&self) -> Option<&SovereignStatus> {
        match self.view() {
            View::Sovereign(fqdn) => self.fleet.iter().find(|s| &s.fqdn == fqdn),
            View::Release { fqdn, .. } => self.fleet.iter().find(|s| &s.fqdn == fqdn),
            View::Fleet
            | View::Matrix
            | View::Wizard
            | View::Recover
            | View::Decommission
            | View::Preflight
            | View::Troubleshoot
            | View::Drill => None,
        }
    }

    /// Indices into the current Sovereign's components that pass the detail filter, worst
    /// state first (stable, so equal states keep the dependency order of the kit).
    pub fn visible_components(&self) -> Vec<usize> {
        let Some(s) = self.current_sovereign() else {
            return Vec::new();
        };
        let f = self.detail_filter.to_lowercase();
        let mut idx: Vec<usize> = s
            .components
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                f.is_empty()
                    || c.name.to_lowercase().contains(&f)
                    || c.state.as_str().contains(&f)
                    || c.message.to_lowercase().contains(&f)
            })
            .map(|(i, _)| i)
            .collect();
        // Bootstrap-kit (DAG) order unless the operator asked for worst first (`:sort`).
        if self.fv.sort == super::views::SortMode::Worst {
            idx.sort_by_key(|&i| std::cmp::Reverse(s.components[i].state.severity()));
        }
        idx
    }

    /// Whether the fleet filter (rather than the detail filter) is the one in use.
    fn fleet_filter_in_use(&self) -> bool {
        matches!(self.view(), View::Fleet | View::Matrix)
    }

    fn filter_mut(&mut self) -> &mut String {
        if self.fleet_filter_in_use() {
            &mut self.fleet_filter
        } else {
            &mut self.detail_filter
        }
    }

    pub fn filter(&self) -> &str {
        if self.fleet_filter_in_use() {
            &self.fleet_filter
        } else {
            &self.detail_filter
        }
    }

    pub fn at_root(&self) -> bool {
        self.view() == &View::Fleet && self.overlay().is_none()
    }

    // ---- keys ---------------------------------------------------------------------------

    fn on_key(&mut self, key: KeyEvent) {
        let action = self.keymap.action_for(&key);
        // Quitting from anywhere works even inside text inputs.
        if action == Some(Action::ForceQuit)
            || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL))
        {
            self.quit = true;
            return;
        }
        // The overlay takes every key; then the top pane, if it has its own state (while the
        // main area has the focus, unless it is modal); what it passes goes to the shell.
        match self.panes.take_overlay() {
            Some(Overlay::Palette(p)) => return self.on_palette_key(p, key),
            Some(Overlay::Filter) => return self.on_filter_key(key, action),
            Some(Overlay::Help { scroll }) => return self.on_help_key(scroll, action),
            Some(Overlay::Confirm(pending)) => return self.on_confirm_key(pending, key),
            None => {}
        }
        let focus = self.focus;
        let outcome = if self
            .top_pane()
            .is_some_and(|p| focus == Focus::Main || p.modal())
        {
            let cx = self.key_cx();
            self.top_pane_mut()
                .map_or(Outcome::Pass, |p| p.on_key(key, action, &cx))
        } else {
            Outcome::Pass
        };
        match outcome {
            Outcome::Pass => {
                if let Some(a) = action {
                    self.on_action(a);
                }
            }
            Outcome::Done => {}
            Outcome::Close => {
                if self.panes.top() == &View::Troubleshoot {
                    self.close_troubleshoot();
                } else {
                    self.pop_pane();
                }
            }
            Outcome::Say(n) => self.notice = Some(n),
            Outcome::Copy(text) => {
                self.notice = Some(Notice::info(format!(
                    "copied {} command line(s) to the clipboard (OSC 52)",
                    text.lines().count()
                )));
                self.clipboard = Some(text);
            }
            Outcome::Gather => self.start_troubleshoot_gather(),
            Outcome::OpenRelated(r) => self.open_related(r),
        }
    }

    fn on_help_key(&mut self, scroll: u16, action: Option<Action>) {
        let scroll = match action {
            Some(Action::Back | Action::Help | Action::Quit) => return,
            Some(Action::Up) => scroll.saturating_sub(1),
            Some(Action::Down) => scroll.saturating_add(1),
            Some(Action::PageUp) => scroll.saturating_sub(10),
            Some(Action::PageDown) => scroll.saturating_add(10),
            Some(Action::Top) => 0,
            _ => scroll,
        };
        self.panes.set_overlay(Overlay::Help { scroll });
    }

    fn on_filter_key(&mut self, key: KeyEvent, action: Option<Action>) {
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => {
                self.filter_mut().clear();
                self.sync_fleet_filter();
                self.reset_selection();
                return;
            }
            KeyCode::Enter => return,
            KeyCode::Backspace => {
                self.filter_mut().pop();
                self.sync_fleet_filter();
                self.reset_selection();
            }
            KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown => {
                if let Some(a) = action {
                    self.move_selection(a);
                }
            }
            KeyCode::Char(c) if plain => {
                self.filter_mut().push(c);
                self.sync_fleet_filter();
                self.reset_selection();
            }
            _ => {}
        }
        self.panes.set_overlay(Overlay::Filter);
    }

    fn on_palette_key(&mut self, mut p: Palette, key: KeyEvent) {
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        let candidates = palette::candidates(
            &p.input,
            &self.config_names.themes,
            &self.config_names.keymaps,
        );
        match key.code {
            KeyCode::Esc => return,
            KeyCode::Enter => {
                match palette::resolve(&p.input, &candidates, p.selected) {
                    palette::Resolved::Run(cmd) => self.run_command(cmd),
                    palette::Resolved::Complete(text) => {
                        p.input = text;
                        p.selected = 0;
                        self.panes.set_overlay(Overlay::Palette(p));
                    }
                    palette::Resolved::Unknown(text) => {
                        self.notice = Some(Notice::error(format!(
                            "unknown command: {text} (press : then tab to see the commands)"
                        )));
                    }
                    palette::Resolved::Empty => {}
                }
                return;
            }
            KeyCode::Tab => {
                if let Some(c) = candidates.get(p.selected.min(candidates.len().saturating_sub(1)))
                {
                    p.input = c.text.clone();
                    p.selected = 0;
                }
            }
            KeyCode::Up | KeyCode::BackTab => p.selected = p.selected.saturating_sub(1),
            KeyCode::Down => {
                p.selected = (p.selected + 1).min(candidates.len().saturating_sub(1));
            }
            KeyCode::Backspace => {
                if p.input.pop().is_none() {
                    return;
                }
                p.selected = 0;
            }
            KeyCode::Char(c) if plain => {
                p.input.push(c);
                p.selected = 0;
            }
            _ => {}
        }
        self.panes.set_overlay(Overlay::Palette(p));
    }

    /// Run a palette command; every command is also reachable from tests through here.
    pub fn run_command(&mut self, cmd: Command) {
        tracing::debug!(?cmd, "palette command");
        // A jump selects a row of the base view: the drill pane over it steps aside (a run
        // keeps going). Commands that raise a pane hide what was on screen instead, and `esc`
        // returns to it (`PaneStack::raise`).
        if matches!(cmd, Command::Jump(_)) {
            self.panes.remove(&View::Drill);
        }
        match cmd {
            Command::Fleet => {
                self.raise(View::Fleet);
                self.focus = Focus::Main;
            }
            Command::View(ViewKind::Wizard) => self.open_wizard(),
            Command::View(ViewKind::Troubleshoot) => self.open_troubleshoot(),
            Command::View(ViewKind::Recover) => self.open_recover(),
            Command::View(ViewKind::Drill) => self.open_drill(None),
            Command::Drill(fqdn) => self.open_drill(Some(fqdn)),
            Command::Decommission(fqdn) => self.open_decommission(fqdn),
            Command::Preflight(fqdn) => self.open_preflight(fqdn),
            Command::View(kind) => self.notice = Some(kind.not_built_notice()),
            Command::Theme(None) => {
                self.notice = Some(Notice::info(format!(
                    "themes: {} (current: {}, terminal: {})",
                    self.config_names.themes.join(", "),
                    self.theme.name,
                    self.level.label()
                )))
            }
            Command::Theme(Some(name)) => self.switch_theme(&name, false),
            Command::Keymap(None) => {
                self.notice = Some(Notice::info(format!(
                    "keymaps: {} (current: {})",
                    self.config_names.keymaps.join(", "),
                    self.keymap.name
                )))
            }
            Command::Keymap(Some(name)) => self.switch_keymap(&name, false),
            Command::Help => self.panes.set_overlay(Overlay::Help { scroll: 0 }),
            Command::Arm => self.on_action(Action::Arm),
            Command::Disarm => self.on_action(Action::Disarm),
            Command::Quit => self.quit = true,
            Command::Matrix => {
                self.raise(View::Matrix);
                self.focus = Focus::Main;
            }
            Command::Sort => self.toggle_sort(),
            Command::Group(g) => self.set_grouping(g),
            Command::Fold(all) => self.fold(all),
            Command::Jump(name) => self.jump(&name),
            Command::Flux(action) => self.request_action(action),
        }
    }

    fn on_action(&mut self, action: Action) {
        match action {
            Action::Quit => {
                if self.at_root() {
                    self.quit = true;
                } else {
                    self.back();
                }
            }
            Action::ForceQuit => self.quit = true,
            Action::Back => self.back(),
            Action::Help => self.panes.set_overlay(Overlay::Help { scroll: 0 }),
            Action::Palette => self.panes.set_overlay(Overlay::Palette(Palette::default())),
            Action::Filter => self.panes.set_overlay(Overlay::Filter),
            Action::Group if matches!(self.view(), View::Fleet | View::Matrix) => {
                self.set_grouping(None)
            }
            Action::Fold => self.fold(None),
            Action::Group => {}
            // The matrix has no navigation pane (it takes the whole width).
            Action::FocusNext | Action::FocusPrev if self.view() == &View::Matrix => {}
            Action::Left | Action::Right if self.view() == &View::Matrix => {
                self.move_matrix_column(action == Action::Right)
            }
            Action::Left => self.focus = Focus::Nav,
            Action::Right => self.focus = Focus::Main,
            Action::FocusNext | Action::FocusPrev => {
                self.focus = match self.focus {
                    Focus::Nav => Focus::Main,
                    Focus::Main => Focus::Nav,
                }
            }
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => self.move_selection(action),
            Action::Select => self.select(),
            Action::Arm => {
                self.armed = true;
                tracing::warn!("cockpit armed");
                self.notice = Some(Notice::warn(
                    "ARMED: destructive operations are allowed (each still asks for the FQDN); :disarm returns to read-only",
                ));
            }
            Action::Disarm => {
                self.armed = false;
                tracing::info!("cockpit disarmed");
                self.notice = Some(Notice::info("read-only again"));
            }
            Action::PauseWorld => self.toggle_world_pause(),
        }
    }

    /// Stop or restart the demo world's clock. Refused outside the demo (a real fleet has no
    /// clock to stop) and while a drill runs: its Hetzner actions run on that clock, so a pause
    /// would stall them until the drill's deadlines rolled it back, and its world-time figures
    /// assume the world ran.
    fn toggle_world_pause(&mut self) {
        let Some(clock) = self.demo_clock.clone() else {
            self.notice = Some(Notice::warn(
                "pause: only the demo's simulated world has a clock to pause",
            ));
            return;
        };
        if !self.world_paused && self.drill.as_ref().is_some_and(|d| d.is_running()) {
            self.notice = Some(Notice::warn(
                "pause refused: a drill is running on the simulated world (pause after it ends)",
            ));
            return;
        }
        self.world_paused = !self.world_paused;
        (clock.set_paused)(self.world_paused);
        if let Some(d) = self.drill.as_mut() {
            d.world_paused = self.world_paused;
        }
        tracing::info!(paused = self.world_paused, "demo world clock");
        let key = self
            .keymap
            .hint(Action::PauseWorld)
            .unwrap_or_else(|| ":pause_world".into());
        self.notice = Some(Notice::info(if self.world_paused {
            format!("world PAUSED: simulated time stands still — {key} resumes it")
        } else {
            format!("world running again — {key} pauses it")
        }));
    }

    /// `esc`: pop the top pane (the matrix first leaves its cell cursor); on the fleet list,
    /// clear the filter, then the focus, then the notice.
    fn back(&mut self) {
        match self.panes.top() {
            View::Troubleshoot => self.close_troubleshoot(),
            View::Drill | View::Release { .. } | View::Decommission | View::Preflight => {
                self.pop_pane()
            }
            View::Matrix if self.fv.matrix_col.is_some() => self.fv.matrix_col = None,
            View::Matrix => self.pop_pane(),
            View::Sovereign(_) | View::Wizard | View::Recover => {
                self.pop_pane();
                self.detail_filter.clear();
            }
            View::Fleet if !self.fleet_filter.is_empty() => {
                self.fleet_filter.clear();
                self.sync_fleet_filter();
                self.reset_selection();
            }
            View::Fleet if self.focus == Focus::Nav => self.focus = Focus::Main,
            View::Fleet => {
                let back = self.panes.return_home();
                if back.is_empty() {
                    self.notice = None;
                } else {
                    self.returned(&back);
                }
            }
        }
    }

    fn select(&mut self) {
        match self.focus {
            Focus::Nav => match self.nav_item(self.nav_selected) {
                Some(NavItem::Sovereign(fqdn)) => self.open_sovereign(fqdn),
                Some(NavItem::View(ViewKind::Fleet)) => {
                    self.raise(View::Fleet);
                    self.focus = Focus::Main;
                }
                Some(NavItem::View(ViewKind::Wizard)) => self.open_wizard(),
                Some(NavItem::View(ViewKind::Troubleshoot)) => self.open_troubleshoot(),
                Some(NavItem::View(ViewKind::Recover)) => self.open_recover(),
                Some(NavItem::View(ViewKind::Drill)) => self.open_drill(None),
                None => {}
            },
            Focus::Main => {
                if let View::Sovereign(fqdn) = self.view() {
                    let fqdn = fqdn.clone();
                    self.open_selected_release(fqdn);
                } else if self.view() == &View::Matrix && self.fv.matrix_col.is_some() {
                    self.open_matrix_cell();
                } else if matches!(self.view(), View::Fleet | View::Matrix) {
                    let row = self.fleet_view_selection();
                    match self.fleet_rows().get(row) {
                        // Enter on a group header folds or unfolds it.
                        Some(Row::Header(_)) => self.fold(None),
                        Some(Row::Sovereign { index, .. }) => {
                            let fqdn = self.fleet[*index as usize].fqdn.clone();
                            self.open_sovereign(fqdn);
                        }
                        None => {}
                    }
                }
            }
        }
    }

    /// The Sovereign a command acts on: the one open in detail, else the fleet row selected.
    pub fn selected_sovereign(&self) -> Option<&SovereignStatus> {
        if let Some(s) = self.current_sovereign() {
            return Some(s);
        }
        let sel = match self.view() {
            View::Fleet | View::Matrix => self.fleet_view_selection(),
            _ => self.fleet_table.selected().unwrap_or(0),
        };
        self.sovereign_at_row(sel)
    }

    fn open_troubleshoot(&mut self) {
        // From a view a related action opened, the walk set aside comes back.
        let parked = self.troubleshoot_parked.as_ref().map(|p| p.fqdn.clone());
        let fqdn = match (self.view(), parked) {
            (View::Recover | View::Wizard, Some(f)) => Some(f),
            _ => self.selected_sovereign().map(|s| s.fqdn.clone()),
        };
        let Some(fqdn) = fqdn else {
            self.notice = Some(Notice::warn("troubleshoot: select a Sovereign first"));
            return;
        };
        let status = self.fleet.iter().find(|s| s.fqdn == fqdn).cloned();
        if let Some(mut parked) = self.troubleshoot_parked.take()
            && parked.fqdn == fqdn
        {
            parked.set_fleet_status(status.as_ref());
            self.troubleshoot = Some(parked);
            self.raise(View::Troubleshoot);
            self.focus = Focus::Main;
            self.start_troubleshoot_gather();
            return;
        }
        let tree = match crate::provision::troubleshoot::Tree::load_default() {
            Ok(t) => std::sync::Arc::new(t),
            Err(e) => {
                self.notice = Some(Notice::error(format!("troubleshooting tree: {e}")));
                return;
            }
        };
        let evidence = ts::evidence_from_fleet(status.as_ref());
        let mut view = TroubleshootView::open(tree, &fqdn, evidence);
        view.set_fleet_status(status.as_ref());
        self.troubleshoot = Some(view);
        self.raise(View::Troubleshoot);
        self.focus = Focus::Main;
        self.start_troubleshoot_gather();
    }

    /// Gather the walk's evidence in the background (catalyst-api, the cluster); the result
    /// arrives as [`Msg::Troubleshoot`]. One gather at a time.
    pub fn start_troubleshoot_gather(&mut self) {
        let Some(t) = self.troubleshoot.as_mut() else {
            return;
        };
        if t.gather.in_flight.is_some() {
            return;
        }
        let seq = t.begin_gather();
        let req = ts::GatherRequest {
            fqdn: t.fqdn.clone(),
            seq,
            fleet_file: self.fleet_file.clone(),
            live: self.fv.live.as_ref().map(|l| l.handle.clone()),
            catalyst_api: self.catalyst_api.clone(),
        };
        if let Err(e) = ts::spawn_gather(req, self.effects.tx.as_ref()) {
            t.gather_failed(format!("not gathering: {e}"));
        }
    }

    /// Open the view of a leaf's related action, setting the walk aside.
    fn open_related(&mut self, r: ts::Related) {
        use ts::Related;
        match r {
            Related::Recover { fqdn } => {
                self.park_troubleshoot();
                self.open_recover_for(Some(fqdn));
            }
            Related::Reconcile {
                fqdn,
                object,
                action,
            } => {
                let found = object.and_then(|(ns, name)| {
                    self.fleet
                        .iter()
                        .find(|s| s.fqdn == fqdn)?
                        .components
                        .iter()
                        .find(|c| c.namespace == ns && c.name == name)
                        .map(|c| (c.namespace.clone(), c.name.clone()))
                });
                let Some((namespace, name)) = found else {
                    self.notice = Some(Notice::warn(format!(
                        "reconcile: the evidence names no HelmRelease of {fqdn} — open the Sovereign and pick one"
                    )));
                    return;
                };
                if !self.armed {
                    self.notice = Some(Notice::warn(format!(
                        "reconcile {namespace}/{name}: read-only — :arm first, then open the action again"
                    )));
                    return;
                }
                self.panes
                    .set_overlay(Overlay::Confirm(super::views::PendingAction {
                        fqdn,
                        target: crate::provision::fleet::ObjectRef {
                            kind: crate::provision::fleet::FluxKind::HelmRelease,
                            namespace,
                            name,
                        },
                        action,
                    }));
            }
            Related::WizardCredentials => {
                self.park_troubleshoot();
                self.open_wizard();
                let Some(w) = self.wizard.as_mut() else {
                    return;
                };
                if !matches!(w.mode, super::wizard::Mode::Form) {
                    self.notice = Some(Notice::warn(
                        "wizard: a run is shown — press N for a new wizard, then go to Credentials",
                    ));
                    return;
                }
                use crate::provision::wizard::Step;
                self.notice = Some(match w.wizard.goto(Step::Credentials) {
                    Ok(_) => Notice::info("wizard: Credentials step"),
                    Err(reason) => Notice::warn(format!(
                        "wizard: Credentials needs the earlier steps first — {reason}"
                    )),
                });
                w.cursor = 0;
            }
            Related::NoView { action, why } => {
                self.notice = Some(Notice::warn(format!("{action}: {why}")))
            }
        }
    }

    /// Take the walk off the stack, keeping it for `:troubleshoot` on the same Sovereign.
    fn park_troubleshoot(&mut self) {
        self.panes.remove(&View::Troubleshoot);
        self.troubleshoot_parked = self.troubleshoot.take();
    }

    fn open_sovereign(&mut self, fqdn: String) {
        self.raise(View::Sovereign(fqdn));
        self.focus = Focus::Main;
        self.detail_filter.clear();
        self.detail_table = TableState::default().with_selected(Some(0));
    }

    fn reset_selection(&mut self) {
        let fresh = TableState::default().with_selected(Some(0));
        // A grouped list starts on its first Sovereign, not on the header above it.
        let first = self
            .fleet_rows()
            .iter()
            .position(|r| r.sovereign().is_some())
            .unwrap_or(0);
        let fleet_fresh = TableState::default().with_selected(Some(first));
        match self.view() {
            View::Fleet => self.fleet_table = fleet_fresh,
            View::Matrix => self.fv.matrix_table = fleet_fresh,
            View::Sovereign(_)
            | View::Wizard
            | View::Release { .. }
            | View::Recover
            | View::Decommission
            | View::Preflight
            | View::Troubleshoot
            | View::Drill => self.detail_table = fresh,
        }
    }

    fn move_selection(&mut self, action: Action) {
        let page = self.page.max(1);
        let (len, current) = match (self.focus, self.panes.view()) {
            (Focus::Nav, _) => (self.nav_len(), self.nav_selected),
            (Focus::Main, View::Fleet) => (
                self.fleet_rows().len(),
                self.fleet_table.selected().unwrap_or(0),
            ),
            (Focus::Main, View::Sovereign(_)) => (
                self.visible_components().len(),
                self.detail_table.selected().unwrap_or(0),
            ),
            (Focus::Main, View::Recover) => {
                if let Some(r) = self.recover.as_mut() {
                    r.scroll = match action {
                        Action::Up | Action::PageUp | Action::Top => r.scroll.saturating_sub(1),
                        _ => (r.scroll + 1).min(r.rows.len().saturating_sub(1)),
                    };
                }
                return;
            }
            (Focus::Main, View::Wizard) => {
                // Vim-style and remapped movement keys reach the form as arrows.
                let code = match action {
                    Action::Up | Action::Top => KeyCode::Up,
                    Action::Down | Action::Bottom => KeyCode::Down,
                    Action::PageUp => KeyCode::PageUp,
                    _ => KeyCode::PageDown,
                };
                if let Some(w) = self.wizard.as_mut() {
                    w.on_key(
                        KeyEvent::new(code, KeyModifiers::NONE),
                        &self.effects,
                        self.catalyst_api.as_deref(),
                    );
                }
                return;
            }
            (Focus::Main, View::Matrix) => (
                self.fleet_rows().len(),
                self.fv.matrix_table.selected().unwrap_or(0),
            ),
            (
                Focus::Main,
                View::Release { .. }
                | View::Decommission
                | View::Preflight
                | View::Troubleshoot
                | View::Drill,
            ) => return,
        };
        if len == 0 {
            return;
        }
        let last = len - 1;
        let next = match action {
            Action::Up => current.saturating_sub(1),
            Action::Down => (current + 1).min(last),
            Action::PageUp => current.saturating_sub(page),
            Action::PageDown => (current + page).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            _ => current,
        };
        match (self.focus, self.panes.view()) {
            (Focus::Nav, _) => self.nav_selected = next,
            (Focus::Main, View::Fleet) => self.fleet_table.select(Some(next)),
            (Focus::Main, View::Sovereign(_)) => self.detail_table.select(Some(next)),
            (Focus::Main, View::Matrix) => self.fv.matrix_table.select(Some(next)),
            (
                Focus::Main,
                View::Wizard
                | View::Recover
                | View::Decommission
                | View::Preflight
                | View::Release { .. }
                | View::Troubleshoot
                | View::Drill,
            ) => {}
        }
    }

    /// Files whose change must reach this app (for the watcher).
    pub fn watched_dir(&self) -> Option<PathBuf> {
        self.keymaps.config_dir.clone()
    }
}

fn builtin_theme(level: ColorLevel) -> Theme {
    ThemeCatalog::new(None)
        .load(level.default_theme(), level)
        .unwrap_or_else(|e| panic!("built-in theme is broken: {e}"))
}

/// The theme and keymap names the cockpit offers (see [`App::config_names`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigNames {
    pub themes: Vec<String>,
    pub keymaps: Vec<String>,
}

impl ConfigNames {
    pub fn read(themes: &ThemeCatalog, keymaps: &KeymapCatalog) -> Self {
        ConfigNames {
            themes: themes.names(),
            keymaps: keymaps.names(),
        }
    }
}
