//! The pane model. What the cockpit shows is a stack of panes ([`PaneStack`]): the fleet list
//! at the bottom, never popped; at most one base view on it (a Sovereign, the matrix, the
//! wizard, the recovery pane), a HelmRelease's detail on a Sovereign or the matrix; the
//! floating panes (the troubleshooting walk, the drill) over those; an overlay (help, palette,
//! filter, confirm prompt) on top. The palette and the navigation raise a pane, `esc` pops the
//! top one, keys go to the top one first.
//!
//! Panes with their own state implement [`Pane`] (keys in, an [`Outcome`] out; drawing from
//! `&self`): the wizard, the recovery pane, the drill pane, the troubleshooting walk. Their state
//! lives in the app's slots while they are off the stack, so nothing typed or running is lost
//! when the operator looks elsewhere. The fleet views share the app's fleet, filters and
//! selections; the reducer handles their keys and `ui` draws them.

use std::path::PathBuf;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::provision::hetzner::client::Credentials;

use super::decommission::{self, DecommissionScreen};
use super::drill::{self, DrillScreen};
use super::keymap::Action;
use super::msg::Notice;
use super::palette::Palette;
use super::preflight::{self, PreflightScreen};
use super::recover::{self, RecoverScreen};
use super::theme::Theme;
use super::troubleshoot::{self as ts, TroubleshootView};
use super::views::PendingAction;
use super::wizard::{self, Effects, WizardScreen};

/// One pane of the stack (overlays are [`Overlay`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// The fleet list: the bottom of the stack.
    Fleet,
    Sovereign(String),
    /// The provisioning wizard, then the run it started (state in `App::wizard`).
    Wizard,
    /// Sovereigns × components.
    Matrix,
    /// One HelmRelease of one Sovereign (on that Sovereign, or on the matrix).
    Release {
        fqdn: String,
        name: String,
    },
    /// The recovery pane of one Sovereign (state in `App::recover`).
    Recover,
    /// The troubleshooting walk (state in `App::troubleshoot`).
    Troubleshoot,
    /// The drill pane (state in `App::drill`).
    Drill,
    /// The decommission pane (state in `App::decommission`).
    Decommission,
    /// The pre-flight checklist (state in `App::preflight`).
    Preflight,
}

impl View {
    /// Sits over whatever base view is shown (a base view's opening hides it).
    pub fn floats(&self) -> bool {
        matches!(self, View::Troubleshoot | View::Drill)
    }
}

/// The top layer, when there is one: it takes every key until it closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    Palette(Palette),
    Filter,
    /// An armed action waiting for `y` (anything else cancels).
    Confirm(PendingAction),
}

/// The panes on screen, bottom to top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneStack {
    /// `views[0]` is [`View::Fleet`]; then base views, then floating panes.
    views: Vec<View>,
    overlay: Option<Overlay>,
    /// Where `esc` returns to: for each view raised over panes it hid, its depth in `views` and
    /// the panes it hid (newest last). Popping the view at that depth puts them back.
    returns: Vec<(usize, Vec<View>)>,
}

/// How many raises back `esc` can return (older return points are forgotten).
const RETURNS_KEPT: usize = 16;

impl Default for PaneStack {
    fn default() -> Self {
        PaneStack {
            views: vec![View::Fleet],
            overlay: None,
            returns: Vec::new(),
        }
    }
}

impl PaneStack {
    /// The base view: the topmost pane that is not floating (the fleet list at least).
    pub fn view(&self) -> &View {
        self.views
            .iter()
            .rev()
            .find(|v| !v.floats())
            .unwrap_or(&View::Fleet)
    }

    /// The topmost pane (overlays aside).
    pub fn top(&self) -> &View {
        self.views.last().unwrap_or(&View::Fleet)
    }

    pub fn contains(&self, view: &View) -> bool {
        self.views.contains(view)
    }

    /// The panes, bottom to top.
    pub fn views(&self) -> &[View] {
        &self.views
    }

    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlay.as_ref()
    }

    pub fn set_overlay(&mut self, overlay: Overlay) {
        self.overlay = Some(overlay);
    }

    pub fn take_overlay(&mut self) -> Option<Overlay> {
        self.overlay.take()
    }

    /// Show `view`. A floating pane is raised (moved to the top, or pushed); a HelmRelease
    /// detail goes on its base view; any other view replaces the base view. Returns the panes
    /// that left the stack, so their owner can set their state aside.
    pub fn raise(&mut self, view: View) -> Vec<View> {
        let keep = match &view {
            View::Troubleshoot | View::Drill => {
                self.views.retain(|v| v != &view);
                self.views.push(view);
                return Vec::new();
            }
            // On the base view: the floating panes and an earlier detail go.
            View::Release { .. } => self
                .views
                .iter()
                .position(|v| matches!(v, View::Release { .. }) || v.floats())
                .unwrap_or(self.views.len())
                .max(1),
            _ => 1,
        };
        let gone = self.views.split_off(keep);
        if view != View::Fleet {
            self.views.push(view);
        }
        // One rule for every pane: `esc` on the raised view returns to what it hid.
        let same = gone.len() == 1 && self.views.last() == gone.first();
        if !gone.is_empty() && !same {
            self.returns.push((keep, gone.clone()));
            if self.returns.len() > RETURNS_KEPT {
                self.returns.remove(0);
            }
        }
        gone
    }

    /// Put back what the view at `depth` hid when it was raised (if it hid anything).
    fn restore(&mut self, depth: usize) -> Vec<View> {
        match self.returns.last() {
            Some((d, _)) if *d == depth && self.views.len() == depth => {
                let (_, hidden) = self.returns.pop().unwrap_or_default();
                self.views.extend(hidden.iter().cloned());
                hidden
            }
            _ => Vec::new(),
        }
    }

    /// On the fleet list (nothing to pop): return to what `:fleet` hid, if anything. Returns
    /// the panes put back.
    pub fn return_home(&mut self) -> Vec<View> {
        if self.views.len() == 1 {
            self.restore(1)
        } else {
            Vec::new()
        }
    }

    /// Take `view` off the stack wherever it is; whether it was there.
    pub fn remove(&mut self, view: &View) -> bool {
        let before = self.views.len();
        if view != &View::Fleet {
            self.views.retain(|v| v != view);
        }
        self.views.len() != before
    }

    /// Pop the top pane (never the fleet list); what it hid when it was raised comes back.
    pub fn pop(&mut self) -> Option<View> {
        if self.views.len() > 1 {
            let top = self.views.pop();
            self.restore(self.views.len());
            top
        } else {
            None
        }
    }
}

/// What a pane's key handling asks of the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not this pane's key: the shell's keys (palette, help, back, movement) get it.
    Pass,
    /// Used.
    Done,
    /// Leave: pop the pane.
    Close,
    /// Tell the operator.
    Say(Notice),
    /// Put this text on the terminal clipboard (the runtime writes OSC 52 after the frame).
    Copy(String),
    /// Gather the walk's evidence again now.
    Gather,
    /// Open the view of a troubleshooting leaf's related action.
    OpenRelated(ts::Related),
}

/// What a pane's key handling may use of the cockpit: the arming state and the ways out to
/// effect tasks and services.
pub struct KeyCx {
    pub armed: bool,
    pub effects: Effects,
    pub catalyst_api: Option<String>,
    pub hetzner: Option<Credentials>,
    pub fleet_file: Option<PathBuf>,
    pub drill: drill::Conn,
}

/// What drawing a pane may use.
pub struct DrawCx<'a> {
    pub theme: &'a Theme,
    pub armed: bool,
}

/// A pane with its own state.
pub trait Pane {
    /// Takes every key whatever has the focus (else only while the main area has it).
    fn modal(&self) -> bool {
        false
    }
    fn on_key(&mut self, key: KeyEvent, action: Option<Action>, cx: &KeyCx) -> Outcome;
    fn draw(&self, frame: &mut Frame, area: Rect, cx: &DrawCx);
}

fn used(b: bool) -> Outcome {
    if b { Outcome::Done } else { Outcome::Pass }
}

/// Keys the shell keeps even on the wizard form (help, palette, focus, leaving), when not typing.
fn is_shell_key(action: Option<Action>) -> bool {
    matches!(
        action,
        Some(
            Action::Help
                | Action::Palette
                | Action::FocusNext
                | Action::FocusPrev
                | Action::Quit
                | Action::ForceQuit
        )
    )
}

impl Pane for WizardScreen {
    fn on_key(&mut self, key: KeyEvent, action: Option<Action>, cx: &KeyCx) -> Outcome {
        if !(self.captures_text() || action.is_none() || !is_shell_key(action)) {
            return Outcome::Pass;
        }
        used(WizardScreen::on_key(
            self,
            key,
            &cx.effects,
            cx.catalyst_api.as_deref(),
        ))
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &DrawCx) {
        wizard::draw::draw(frame, area, self, cx.theme);
    }
}

impl Pane for RecoverScreen {
    fn on_key(&mut self, key: KeyEvent, _: Option<Action>, cx: &KeyCx) -> Outcome {
        used(RecoverScreen::on_key(
            self,
            key,
            cx.armed,
            cx.effects.tx.as_ref(),
            cx.hetzner.clone(),
            cx.fleet_file.clone(),
        ))
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &DrawCx) {
        recover::draw(frame, area, self, cx.armed, cx.theme);
    }
}

impl Pane for DecommissionScreen {
    fn on_key(&mut self, key: KeyEvent, _: Option<Action>, cx: &KeyCx) -> Outcome {
        let conn = decommission::Conn {
            fleet_file: cx.fleet_file.clone(),
            catalyst_api: cx.catalyst_api.clone(),
            hetzner: cx.hetzner.clone(),
        };
        used(DecommissionScreen::on_key(
            self,
            key,
            cx.armed,
            cx.effects.tx.as_ref(),
            &conn,
        ))
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &DrawCx) {
        decommission::draw(frame, area, self, cx.armed, cx.theme);
    }
}

impl Pane for PreflightScreen {
    fn on_key(&mut self, key: KeyEvent, _: Option<Action>, cx: &KeyCx) -> Outcome {
        let conn = preflight::Conn {
            fleet_file: cx.fleet_file.clone(),
            hetzner: cx.hetzner.clone(),
        };
        used(PreflightScreen::on_key(
            self,
            key,
            cx.effects.tx.as_ref(),
            &conn,
        ))
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &DrawCx) {
        preflight::draw(frame, area, self, cx.theme);
    }
}

impl Pane for DrillScreen {
    fn on_key(&mut self, key: KeyEvent, _: Option<Action>, cx: &KeyCx) -> Outcome {
        used(DrillScreen::on_key(
            self,
            key,
            cx.armed,
            cx.effects.tx.as_ref(),
            &cx.drill,
        ))
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &DrawCx) {
        drill::draw::draw(frame, area, self, cx.armed, cx.theme);
    }
}

impl Pane for TroubleshootView {
    fn modal(&self) -> bool {
        true
    }

    fn on_key(&mut self, key: KeyEvent, action: Option<Action>, _: &KeyCx) -> Outcome {
        if action == Some(Action::Palette) {
            return Outcome::Pass;
        }
        match TroubleshootView::on_key(self, key, action) {
            ts::Reply::Stay => Outcome::Done,
            ts::Reply::Close => Outcome::Close,
            ts::Reply::Copy(text) => Outcome::Copy(text),
            ts::Reply::Say(text) => Outcome::Say(Notice::warn(text)),
            ts::Reply::Gather => Outcome::Gather,
            ts::Reply::Open(r) => Outcome::OpenRelated(r),
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &DrawCx) {
        TroubleshootView::draw(self, frame, area, cx.theme);
    }
}

#[cfg(test)]
mod tests {
    use super::{PaneStack, View};

    fn sov() -> View {
        View::Sovereign("a.example".into())
    }

    fn release() -> View {
        View::Release {
            fqdn: "a.example".into(),
            name: "bp-cilium".into(),
        }
    }

    #[test]
    fn a_base_view_replaces_the_base_and_hides_the_floating_panes() {
        let mut s = PaneStack::default();
        s.raise(View::Wizard);
        s.raise(View::Troubleshoot);
        assert_eq!(s.raise(sov()), vec![View::Wizard, View::Troubleshoot]);
        assert_eq!(s.views(), &[View::Fleet, sov()]);
        assert_eq!(s.raise(View::Fleet), vec![sov()]);
        assert_eq!(s.views(), &[View::Fleet]);
    }

    /// The one rule: whatever a raise hid, `esc` on the raised view brings back — through
    /// nested raises, and from the fleet list after `:fleet`.
    #[test]
    fn esc_returns_to_what_each_raise_hid() {
        let mut s = PaneStack::default();
        s.raise(sov());
        s.raise(View::Troubleshoot);
        s.raise(View::Matrix);
        s.raise(View::Wizard);
        assert_eq!(s.views(), &[View::Fleet, View::Wizard]);
        assert_eq!(s.pop(), Some(View::Wizard));
        assert_eq!(s.views(), &[View::Fleet, View::Matrix]);
        assert_eq!(s.pop(), Some(View::Matrix));
        assert_eq!(s.views(), &[View::Fleet, sov(), View::Troubleshoot]);
        // A view raised over itself hides nothing.
        s.pop();
        s.raise(sov());
        assert_eq!(s.pop(), Some(sov()));
        assert_eq!(s.views(), &[View::Fleet]);
        // :fleet from a walk: esc on the fleet list returns to it.
        s.raise(sov());
        s.raise(View::Troubleshoot);
        s.raise(View::Fleet);
        assert_eq!(s.views(), &[View::Fleet]);
        assert_eq!(s.return_home(), vec![sov(), View::Troubleshoot]);
        assert_eq!(s.top(), &View::Troubleshoot);
        assert_eq!(s.return_home(), vec![], "only from the fleet list");
    }

    #[test]
    fn a_floating_pane_is_raised_over_the_other_and_popped_back() {
        let mut s = PaneStack::default();
        s.raise(sov());
        s.raise(View::Drill);
        s.raise(View::Troubleshoot);
        assert_eq!(s.top(), &View::Troubleshoot);
        s.raise(View::Drill);
        assert_eq!(
            s.views(),
            &[View::Fleet, sov(), View::Troubleshoot, View::Drill]
        );
        assert_eq!(
            s.view(),
            &sov(),
            "the base view stays under the floating panes"
        );
        assert_eq!(s.pop(), Some(View::Drill));
        assert_eq!(s.top(), &View::Troubleshoot);
    }

    #[test]
    fn a_release_goes_on_its_base_and_the_fleet_list_is_never_popped() {
        let mut s = PaneStack::default();
        s.raise(View::Matrix);
        s.raise(View::Drill);
        assert_eq!(s.raise(release()), vec![View::Drill]);
        assert_eq!(s.views(), &[View::Fleet, View::Matrix, release()]);
        assert_eq!(s.pop(), Some(release()));
        // Back to where the operator was: the drill it hid.
        assert_eq!(s.views(), &[View::Fleet, View::Matrix, View::Drill]);
        assert_eq!(s.pop(), Some(View::Drill));
        assert_eq!(s.pop(), Some(View::Matrix));
        assert_eq!(s.pop(), None);
        assert!(!s.remove(&View::Fleet));
        assert_eq!(s.view(), &View::Fleet);
    }
}
