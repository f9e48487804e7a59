//! The provisioning wizard and the Phase 0/1 progress screen of the cockpit.
//!
//! The rules live in [`crate::provision::wizard::Wizard`]; this module only binds keys and text
//! inputs to it, performs the live checks and the create POST as tasks (replies come back as
//! [`WizardMsg`]s through the reducer, so the render loop never waits on the network), hands the
//! draft to a writer task on every change (written once the keys pause, never by the reducer) and,
//! once the deployment exists, follows it ([`progress`]).

pub mod cluster;
pub mod draw;
pub mod gate;
pub mod progress;
mod rows;

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::{mpsc, watch};
use tui_textarea::TextArea;

use crate::provision::catalyst::{CatalystClient, CreateResponse};
use crate::provision::wizard::{
    CheckReply, CheckRequest, DEBOUNCE, Draft, Ticket, ToggleOutcome, Wizard, WizardConfig,
    discard_draft, load_draft, write_draft,
};

use super::msg::{Msg, Notice};
pub use progress::{ProgressMsg, ProgressScreen};
pub use rows::{Row, rows};

/// The rows of the screen's current step: the form's, plus (in the demo, on Credentials) the
/// offer of the simulated world's Hetzner token and project.
pub fn screen_rows(s: &WizardScreen) -> Vec<Row> {
    let mut list = rows(&s.wizard, &s.private_key_path);
    if s.wizard.step() == crate::provision::wizard::Step::Review && matches!(s.mode, Mode::Form) {
        // Before the Provision button (the last row): the §1.2 gate.
        let at = list.len().saturating_sub(1);
        let gate = s.preflight.rows(&s.preflight_override);
        list.splice(at..at, gate);
    }
    if let Some(world) = &s.demo_world
        && s.wizard.step() == crate::provision::wizard::Step::Credentials
    {
        list.insert(
            0,
            Row::Action {
                action: rows::ActionId::WorldHetzner,
                label: format!(
                    "use the simulated world's Hetzner token and project ({}) — the demo's, not a real project",
                    world.hetzner_project
                ),
                disabled: None,
            },
        );
    }
    list
}

/// Replies of the wizard's and the progress screen's tasks.
#[derive(Debug, Clone)]
pub enum WizardMsg {
    /// The debounce timer of edit generation `n` ran out.
    Debounce(u64),
    /// The answer to a live check.
    Checked(Ticket, CheckReply),
    /// The create POST answered.
    Created(Result<CreateResponse, CreateFailure>),
    Progress(ProgressMsg),
    /// The draft writer could not write (or remove) the draft.
    DraftNotSaved(String),
    /// The Review step's pre-flight came back (for run `seq`).
    Preflight {
        seq: u64,
        result: Result<crate::provision::preflight::Report, String>,
    },
    /// Provision sent nothing: the journal of the gated create could not be written.
    NotSent(String),
}

/// How long the writer gathers changes after the first one before writing: a burst of keys
/// costs one write (at most one per this interval while typing), and the write (with its fsync)
/// happens on a blocking thread, not in the reducer.
pub const DRAFT_DEBOUNCE: Duration = Duration::from_millis(400);

/// What the draft writer should do next; only the latest wish is kept (a `watch` channel, so
/// the queue between the reducer and the writer is one slot: a newer draft replaces an older one
/// not yet written, which loses nothing).
#[derive(Debug, Clone, PartialEq)]
enum DraftOp {
    Idle,
    Save(Box<Draft>),
    Discard,
}

/// The task that writes drafts for one wizard screen. Dropping the sender ends it after it has
/// carried out the last wish.
fn spawn_draft_writer(path: PathBuf, fx: &Effects) -> Option<watch::Sender<DraftOp>> {
    let tx = fx.tx.clone()?;
    let handle = tokio::runtime::Handle::try_current().ok()?;
    let (wtx, mut wrx) = watch::channel(DraftOp::Idle);
    handle.spawn(async move {
        let mut done = DraftOp::Idle;
        loop {
            let open = wrx.changed().await.is_ok();
            if open && matches!(*wrx.borrow(), DraftOp::Save(_)) {
                // Coalesce a burst of keys; a discard is carried out at once.
                let _ = tokio::time::timeout(DRAFT_DEBOUNCE, async {
                    while wrx.changed().await.is_ok() {
                        if matches!(*wrx.borrow(), DraftOp::Discard) {
                            break;
                        }
                    }
                })
                .await;
            }
            let op = wrx.borrow_and_update().clone();
            if op != done {
                let target = path.clone();
                let what = op.clone();
                let result = tokio::task::spawn_blocking(move || match what {
                    DraftOp::Save(d) => write_draft(&d, &target).map_err(|e| e.to_string()),
                    DraftOp::Discard => discard_draft(&target).map_err(|e| e.to_string()),
                    DraftOp::Idle => Ok(()),
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                match result {
                    Ok(()) => done = op,
                    Err(e) => {
                        let _ = tx.send(Msg::Wizard(WizardMsg::DraftNotSaved(e))).await;
                    }
                }
            }
            if !open {
                return;
            }
        }
    });
    Some(wtx)
}

/// A create POST that did not succeed: the HTTP answer, or no answer at all (status 0).
#[derive(Debug, Clone)]
pub struct CreateFailure {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// Spawns effect tasks holding a clone of the reducer's sender. Without a sender (or outside a
/// tokio runtime, e.g. in snapshot tests) nothing is spawned and the state simply waits.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    pub tx: Option<mpsc::Sender<Msg>>,
}

impl Effects {
    pub fn spawn<F>(&self, fut: F) -> bool
    where
        F: std::future::Future<Output = Option<WizardMsg>> + Send + 'static,
    {
        let (Some(tx), Ok(handle)) = (self.tx.clone(), tokio::runtime::Handle::try_current())
        else {
            return false;
        };
        handle.spawn(async move {
            if let Some(m) = fut.await {
                let _ = tx.send(Msg::Wizard(m)).await;
            }
        });
        true
    }
}

/// What the wizard screen shows: the form, or the run it started.
pub enum Mode {
    Form,
    Progress(Box<ProgressScreen>),
}

/// The wizard screen's state.
pub struct WizardScreen {
    pub wizard: Wizard,
    pub mode: Mode,
    /// Row under the cursor on the current step.
    pub cursor: usize,
    /// The text input being edited, with the field it edits.
    pub editing: Option<(String, TextArea<'static>)>,
    /// A draft found at start, offered for restore (r) or discard (d).
    pub restore_offer: Option<Draft>,
    pub draft_path: Option<PathBuf>,
    /// Where the generated private key will be written (the operator edits and confirms it).
    pub private_key_path: String,
    /// Waiting for the create POST.
    pub provisioning: bool,
    /// Last thing said on the form (check failures, write errors, API answers).
    pub message: Option<Notice>,
    /// The fleet file a provisioned Sovereign joins (the cockpit's; `None`: it does not join).
    pub fleet_file: Option<PathBuf>,
    /// The demo's simulated world (its token and project offered on Credentials).
    pub demo_world: Option<super::msg::DemoWorld>,
    /// The Review step's pre-flight (runbook §1.2), gating Provision.
    pub preflight: gate::ReviewGate,
    /// What the operator typed to override ✗ items (`A,C` or `override`).
    pub preflight_override: String,
    /// How the pre-flight reaches the fleet file and the Hetzner API (set by the cockpit).
    pub preflight_conn: super::preflight::Conn,
    /// Where a gated create is journaled (`None`: the operator's state dir).
    pub journal_root: Option<PathBuf>,
    /// Provision was pressed while the pre-flight was still checking: decided when it answers.
    pub awaiting_preflight: bool,
    edit_gen: u64,
    saved: Option<Draft>,
    /// The draft writer task (absent until the first change, and without a runtime).
    draft_writer: Option<watch::Sender<DraftOp>>,
}

impl WizardScreen {
    /// A fresh wizard; a draft at `draft_path` is offered for restore, never applied silently.
    pub fn new(config: WizardConfig, draft_path: Option<PathBuf>) -> Self {
        let (restore_offer, message) = match draft_path.as_deref().map(load_draft) {
            Some(Ok(d)) => (d, None),
            Some(Err(e)) => (
                None,
                Some(Notice::error(format!("draft not restorable: {e}"))),
            ),
            None => (None, None),
        };
        let wizard = Wizard::new(config);
        let private_key_path = default_key_dir()
            .join(wizard.suggested_private_key_name())
            .display()
            .to_string();
        WizardScreen {
            wizard,
            mode: Mode::Form,
            cursor: 0,
            editing: None,
            restore_offer,
            draft_path,
            private_key_path,
            provisioning: false,
            message,
            fleet_file: None,
            demo_world: None,
            preflight: gate::ReviewGate::default(),
            preflight_override: String::new(),
            preflight_conn: super::preflight::Conn::default(),
            journal_root: None,
            awaiting_preflight: false,
            edit_gen: 0,
            saved: None,
            draft_writer: None,
        }
    }

    /// In the demo: offer the simulated world's Hetzner credentials, and keep the files the
    /// wizard writes (the generated private key) inside the demo's own state dir.
    pub fn use_demo_world(&mut self, world: super::msg::DemoWorld) {
        self.private_key_path = world
            .state_dir
            .join(self.wizard.suggested_private_key_name())
            .display()
            .to_string();
        self.demo_world = Some(world);
    }

    /// The screen's title for the nav and the pane.
    pub fn title(&self) -> String {
        match &self.mode {
            Mode::Form => format!(
                "Wizard — step {}/7 {}",
                self.wizard.step().number(),
                self.wizard.step().title()
            ),
            Mode::Progress(p) => format!("Provisioning {}", p.title()),
        }
    }

    /// Whether keys should go to a text input first (the palette and quit keys stay away).
    pub fn captures_text(&self) -> bool {
        self.editing.is_some() || matches!(&self.mode, Mode::Progress(p) if p.searching)
    }

    /// Handle a key; returns false when the screen did not use it (the shell's keymap then does).
    pub fn on_key(&mut self, key: KeyEvent, fx: &Effects, api: Option<&str>) -> bool {
        if let Mode::Progress(p) = &mut self.mode {
            if key.code == KeyCode::Char('N') && !p.following && !p.searching {
                // The run is over (or was left): start a fresh wizard; the finished run stays
                // readable through `sovtui deploy watch`.
                self.wizard = Wizard::new(self.wizard.config().clone());
                self.mode = Mode::Form;
                self.cursor = 0;
                self.message = Some(Notice::info("new wizard"));
                return true;
            }
            return p.on_key(key, fx, api);
        }
        if self.editing.is_some() {
            self.on_edit_key(key, fx);
            return true;
        }
        let used = self.on_form_key(key, fx, api);
        self.ensure_preflight(fx);
        used
    }

    /// On Review, with the form showing: start the pre-flight when there is none for the request
    /// as it stands (entering Review, or after going back and changing it).
    pub fn ensure_preflight(&mut self, fx: &Effects) {
        if self.wizard.step() != crate::provision::wizard::Step::Review
            || !matches!(self.mode, Mode::Form)
        {
            return;
        }
        let req = self.wizard.to_request();
        if !self.preflight.is_for(&req) {
            self.preflight.start(req, &self.preflight_conn, fx);
        }
    }

    fn on_form_key(&mut self, key: KeyEvent, fx: &Effects, api: Option<&str>) -> bool {
        if let Some(draft) = self.restore_offer.take() {
            match key.code {
                KeyCode::Char('r') => {
                    let (w, notes) = Wizard::restore(draft, self.wizard.config().clone());
                    self.wizard = w;
                    self.cursor = 0;
                    self.message = Some(Notice::info(if notes.notes.is_empty() {
                        "draft restored".to_string()
                    } else {
                        format!("draft restored — {}", notes.notes.join("; "))
                    }));
                    self.changed(fx);
                }
                KeyCode::Char('d') => {
                    self.discard_draft(fx);
                    self.message = Some(Notice::info("draft discarded"));
                }
                _ => {
                    self.restore_offer = Some(draft);
                    return false;
                }
            }
            return true;
        }
        if let Some(p) = self.wizard.pending_cascade().cloned() {
            match key.code {
                KeyCode::Char('y') | KeyCode::Enter => {
                    match self.wizard.confirm_cascade() {
                        Ok(applied) => {
                            self.message = Some(Notice::info(format!(
                                "applied: +{} −{}",
                                applied.add.join(" +"),
                                applied.remove.join(" −")
                            )))
                        }
                        Err(e) => self.message = Some(Notice::error(e.to_string())),
                    }
                    self.changed(fx);
                    return true;
                }
                KeyCode::Char('n') | KeyCode::Esc => {
                    self.wizard.cancel_cascade();
                    self.message = Some(Notice::info(format!("not applied: {:?}", p.change)));
                    return true;
                }
                _ => return true,
            }
        }
        let list = screen_rows(self);
        self.cursor = self.cursor.min(list.len().saturating_sub(1));
        let row = list.get(self.cursor).cloned();
        match key.code {
            KeyCode::Up => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Down => self.cursor = (self.cursor + 1).min(list.len().saturating_sub(1)),
            KeyCode::PageUp => self.cursor = self.cursor.saturating_sub(10),
            KeyCode::PageDown => self.cursor = (self.cursor + 10).min(list.len().saturating_sub(1)),
            KeyCode::Char(']') => self.next(fx),
            KeyCode::Char('[') => {
                self.wizard.back();
                self.cursor = 0;
                self.changed(fx);
            }
            KeyCode::Left | KeyCode::Right | KeyCode::Char(' ') | KeyCode::Enter => {
                let Some(row) = row else { return true };
                let delta = if key.code == KeyCode::Left { -1 } else { 1 };
                self.activate(row, key.code, delta, fx, api);
            }
            _ => return false,
        }
        true
    }

    fn next(&mut self, fx: &Effects) {
        match self.wizard.next() {
            Ok(_) => {
                self.cursor = 0;
                self.message = None;
            }
            Err(reason) => self.message = Some(Notice::warn(format!("Next disabled — {reason}"))),
        }
        self.changed(fx);
    }

    fn activate(&mut self, row: Row, code: KeyCode, delta: i64, fx: &Effects, api: Option<&str>) {
        let enter = code == KeyCode::Enter;
        let result: Result<(), String> = match row {
            Row::Text { field, secret, .. } if enter || code == KeyCode::Char(' ') => {
                let initial = if secret {
                    String::new()
                } else if field == "sshPrivateKeyPath" {
                    self.private_key_path.clone()
                } else if field == gate::OVERRIDE_FIELD {
                    self.preflight_override.clone()
                } else {
                    self.wizard.text(&field).unwrap_or_default()
                };
                let mut ta = TextArea::new(vec![initial]);
                if secret {
                    ta.set_mask_char('•');
                }
                ta.move_cursor(tui_textarea::CursorMove::End);
                self.editing = Some((field, ta));
                Ok(())
            }
            Row::Text { .. } => Ok(()),
            Row::Choice { choice, .. } => rows::cycle(&mut self.wizard, &choice, delta),
            Row::Toggle { toggle, .. } => rows::flip(&mut self.wizard, &toggle),
            Row::Component { id, .. } => match self.wizard.toggle_component(id) {
                Ok(ToggleOutcome::NeedsConfirmation(p)) => {
                    self.message = Some(Notice::warn(format!(
                        "{id}: this also {}{}— y to apply, n to cancel",
                        if p.add.is_empty() {
                            String::new()
                        } else {
                            format!("adds {} ", p.add.join(", "))
                        },
                        if p.remove.is_empty() {
                            String::new()
                        } else {
                            format!("removes {} ", p.remove.join(", "))
                        }
                    )));
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
            Row::Action { action, .. } if enter || code == KeyCode::Char(' ') => {
                self.run_action(action, fx, api);
                Ok(())
            }
            Row::Action { .. } | Row::Info { .. } => Ok(()),
        };
        if let Err(e) = result {
            self.message = Some(Notice::error(e));
        }
        self.changed(fx);
    }

    fn run_action(&mut self, action: rows::ActionId, fx: &Effects, api: Option<&str>) {
        match action {
            rows::ActionId::Next => self.next(fx),
            rows::ActionId::DemoToken(p) => self.wizard.use_demo_token(p),
            rows::ActionId::WorldHetzner => {
                if let Some(world) = self.demo_world.clone() {
                    self.wizard.set_token(
                        crate::provision::wizard::Provider::Hetzner,
                        &world.hetzner_token,
                    );
                    self.wizard.set_hetzner_project_id(&world.hetzner_project);
                    self.message = Some(Notice::info(format!(
                        "the simulated world's Hetzner token and project {} (demo only)",
                        world.hetzner_project
                    )));
                }
            }
            rows::ActionId::GenerateKey => {
                let req = self.wizard.request_ssh_key();
                self.send_check(req, fx, api);
            }
            rows::ActionId::SaveKey => {
                let path = PathBuf::from(expand_home(&self.private_key_path));
                match self.wizard.save_private_key(&path, false) {
                    Ok(()) => {
                        self.message = Some(Notice::info(format!(
                            "private key written to {} (mode 0600)",
                            path.display()
                        )))
                    }
                    Err(e) => self.message = Some(Notice::error(e.to_string())),
                }
            }
            rows::ActionId::Provision => self.provision(fx, api),
            rows::ActionId::Preflight => {
                let req = self.wizard.to_request();
                self.preflight.start(req, &self.preflight_conn, fx);
            }
        }
    }

    fn provision(&mut self, fx: &Effects, api: Option<&str>) {
        if self.provisioning {
            return;
        }
        let req = match self.wizard.provision() {
            Ok(r) => r,
            Err(reason) => {
                self.message = Some(Notice::warn(format!("Provision disabled — {reason}")));
                return;
            }
        };
        let Some(api) = api.map(str::to_string) else {
            self.message = Some(Notice::error(
                "no catalyst-api URL: pass --api or set SOVTUI_CATALYST_API",
            ));
            return;
        };
        self.ensure_preflight(fx);
        if self.preflight.is_checking() {
            // Decided once the pre-flight answers (`on_msg`); nothing is sent before.
            self.provisioning = true;
            self.awaiting_preflight = true;
            self.message = Some(Notice::info(
                "Provision waits for the pre-flight (§1.2 A–H) to answer…",
            ));
            return;
        }
        let plan = match self.preflight.decide(&req, &api, &self.preflight_override) {
            Ok(plan) => plan,
            Err(why) => {
                self.ensure_preflight(fx);
                self.message = Some(Notice::warn(format!("Provision refused — {why}")));
                return;
            }
        };
        let root = self
            .journal_root
            .clone()
            .unwrap_or_else(crate::provision::journal::default_root);
        let body = req.to_json();
        self.provisioning = true;
        self.message = Some(Notice::info("provisioning: POST /api/v1/deployments…"));
        let spawned = fx.spawn(async move {
            // No journal, no create: the gate's report and any override are on disk first.
            let mut journal = match plan {
                Some(plan) => match tokio::task::spawn_blocking(move || {
                    crate::provision::preflight::gate::journal_create(&root, &plan)
                })
                .await
                {
                    Ok(Ok(j)) => Some(j),
                    Ok(Err(e)) => return Some(WizardMsg::NotSent(e.to_string())),
                    Err(e) => return Some(WizardMsg::NotSent(e.to_string())),
                },
                None => None,
            };
            let result = post_create(&api, body).await;
            if let Some(mut j) = journal.take() {
                let outcome = match &result {
                    Ok(c) => Ok(c.id.clone()),
                    Err(f) => Err(format!("HTTP {}: {}", f.status, f.body)),
                };
                let recorded = tokio::task::spawn_blocking(move || match outcome {
                    Ok(id) => crate::provision::preflight::gate::created(&mut j, &id),
                    Err(e) => crate::provision::preflight::gate::not_created(&mut j, &e),
                })
                .await;
                if let Ok(Err(e)) = recorded {
                    tracing::warn!(error = %e, "provision journal: the create's answer not recorded");
                }
            }
            Some(WizardMsg::Created(result))
        });
        if !spawned {
            self.provisioning = false;
            self.message = Some(Notice::error("cannot start the request (no task runtime)"));
        }
    }

    fn on_edit_key(&mut self, key: KeyEvent, fx: &Effects) {
        let Some((field, ta)) = self.editing.as_mut() else {
            return;
        };
        let field = field.clone();
        match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Tab => {
                self.editing = None;
                return;
            }
            // One-line inputs: a pasted newline must not split the value.
            KeyCode::Char('m') if key.modifiers.contains(KeyModifiers::CONTROL) => return,
            _ => {
                ta.input(key);
            }
        }
        let value = ta.lines().join("");
        if field == "sshPrivateKeyPath" {
            self.private_key_path = value;
        } else if field == gate::OVERRIDE_FIELD {
            self.preflight_override = value;
        } else if let Err(e) = self.wizard.set_text(&field, &value) {
            self.message = Some(Notice::error(e.to_string()));
        }
        self.changed(fx);
    }

    /// Hand `op` to the draft writer (started on first use). Without a runtime (snapshot tests)
    /// there is no writer and the file is written here.
    fn draft_op(&mut self, op: DraftOp, fx: &Effects) {
        let Some(path) = self.draft_path.clone() else {
            return;
        };
        if self.draft_writer.is_none() {
            self.draft_writer = spawn_draft_writer(path.clone(), fx);
        }
        let result = match (&self.draft_writer, op) {
            (Some(w), op) => {
                w.send_replace(op);
                Ok(())
            }
            (None, DraftOp::Save(d)) => write_draft(&d, &path).map_err(|e| e.to_string()),
            (None, DraftOp::Discard) => discard_draft(&path).map_err(|e| e.to_string()),
            (None, DraftOp::Idle) => Ok(()),
        };
        if let Err(e) = result {
            self.message = Some(Notice::error(format!("draft not saved: {e}")));
        }
    }

    fn discard_draft(&mut self, fx: &Effects) {
        self.draft_op(DraftOp::Discard, fx);
    }

    /// After every change: queue the draft if it differs, and restart the debounce timer.
    fn changed(&mut self, fx: &Effects) {
        let draft = self.wizard.draft();
        if self.saved.as_ref() != Some(&draft) {
            self.draft_op(DraftOp::Save(Box::new(draft.clone())), fx);
            self.saved = Some(draft);
        }
        if self.wizard.has_due_checks() {
            self.edit_gen += 1;
            let generation = self.edit_gen;
            fx.spawn(async move {
                tokio::time::sleep(DEBOUNCE).await;
                Some(WizardMsg::Debounce(generation))
            });
        }
    }

    fn send_check(&mut self, req: CheckRequest, fx: &Effects, api: Option<&str>) {
        let Some(api) = api.map(str::to_string) else {
            self.wizard.complete(
                req.ticket,
                &CheckReply::Transport("no catalyst-api URL configured".into()),
            );
            return;
        };
        let ticket = req.ticket;
        fx.spawn(async move {
            let reply = post_check(&api, &req).await;
            Some(WizardMsg::Checked(ticket, reply))
        });
    }

    /// A reply of one of this screen's tasks.
    pub fn on_msg(&mut self, msg: WizardMsg, fx: &Effects, api: Option<&str>) {
        match msg {
            WizardMsg::Debounce(g) if g == self.edit_gen => {
                for req in self.wizard.due_checks() {
                    self.send_check(req, fx, api);
                }
            }
            WizardMsg::Debounce(_) => {}
            WizardMsg::Checked(ticket, reply) => {
                self.wizard.complete(ticket, &reply);
                let draft = self.wizard.draft();
                if self.saved.as_ref() != Some(&draft) {
                    self.changed(fx);
                }
            }
            WizardMsg::Preflight { seq, result } => {
                self.preflight.on_result(seq, result);
                if self.awaiting_preflight && !self.preflight.is_checking() {
                    self.awaiting_preflight = false;
                    self.provisioning = false;
                    self.provision(fx, api);
                }
            }
            WizardMsg::NotSent(e) => {
                self.provisioning = false;
                self.message = Some(Notice::error(format!("nothing was sent — {e}")));
            }
            WizardMsg::DraftNotSaved(e) => {
                self.message = Some(Notice::error(format!("draft not saved: {e}")));
            }
            WizardMsg::Created(result) => {
                self.provisioning = false;
                match result {
                    Ok(created) => {
                        self.discard_draft(fx);
                        let fqdn = self.wizard.fqdn().unwrap_or_default();
                        let mut screen = ProgressScreen::new(created.id.clone(), fqdn);
                        screen.join_fleet = self.fleet_file.clone();
                        screen.start(fx, api, Some(created.stream_url.clone()));
                        self.mode = Mode::Progress(Box::new(screen));
                    }
                    Err(f) => {
                        let problem = self.wizard.apply_create_error(
                            f.status,
                            f.content_type.as_deref(),
                            &f.body,
                        );
                        self.cursor = 0;
                        self.message = Some(Notice::error(format!(
                            "catalyst-api refused (HTTP {}): {} — see {}",
                            problem.status,
                            problem.message,
                            problem.step.title()
                        )));
                    }
                }
            }
            WizardMsg::Progress(p) => {
                if let Mode::Progress(screen) = &mut self.mode {
                    screen.on_msg(p, fx, api);
                }
            }
        }
    }
}

fn default_key_dir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), |h| PathBuf::from(h).join(".ssh"))
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_string(),
    }
}

/// Perform a live check: POST its body and hand back the raw answer (the wizard decodes it).
pub async fn post_check(api: &str, req: &CheckRequest) -> CheckReply {
    let client = match CatalystClient::new(api) {
        Ok(c) => c,
        Err(e) => return CheckReply::Transport(e.to_string()),
    };
    match client.post_raw(&req.check.path(), &req.check.body()).await {
        Ok((status, content_type, body)) => CheckReply::Http {
            status,
            content_type,
            body,
        },
        Err(e) => CheckReply::Transport(e.to_string()),
    }
}

/// POST the create body of contract §4.8 exactly as the wizard built it.
pub async fn post_create(
    api: &str,
    body: serde_json::Value,
) -> Result<CreateResponse, CreateFailure> {
    let fail = |status, content_type, body| CreateFailure {
        status,
        content_type,
        body,
    };
    let client = CatalystClient::new(api).map_err(|e| fail(0, None, e.to_string()))?;
    let (status, content_type, text) = client
        .post_raw("/api/v1/deployments", &body)
        .await
        .map_err(|e| fail(503, None, e.to_string()))?;
    if !(200..300).contains(&status) {
        return Err(fail(status, content_type, text));
    }
    serde_json::from_str(&text).map_err(|e| {
        fail(
            502,
            Some("text/plain".into()),
            format!("malformed create answer: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_without_a_runtime_spawn_nothing() {
        let (tx, _rx) = mpsc::channel(1);
        let fx = Effects { tx: Some(tx) };
        assert!(!fx.spawn(async { None }));
        assert!(!Effects::default().spawn(async { None }));
    }
}
