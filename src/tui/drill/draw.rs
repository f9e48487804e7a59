//! Drawing the drill pane: plan (preconditions, touches, kill mode, confirm), live run
//! (timeline with timers, probe, Continuum, Hetzner objects) and the final report.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{DrillScreen, Phase, RunMode};
use crate::provision::drill::dataplane;
use crate::provision::drill::report::Report;
use crate::provision::drill::steps::{Promotion, ServerKill, Step};
use crate::tui::arming::pane_frame;
use crate::tui::theme::{Slot, Theme};

fn secs(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn kill_label(k: ServerKill) -> &'static str {
    match k {
        ServerKill::PowerOff => "power off the control-plane server (reversible)",
        ServerKill::Terminate => "TERMINATE the control-plane server (rebuilt on failback)",
    }
}

fn promotion_label(p: Promotion) -> &'static str {
    match p {
        Promotion::ContinuumSwitchover => "Continuum switchover request",
        Promotion::HelmReleaseValue => "HelmRelease value cnpgPair.replica.promoted (§7.4)",
    }
}

fn data_plane_line<'a>(s: &DrillScreen, theme: &Theme) -> Line<'a> {
    match s.data_plane.as_deref() {
        Some(dataplane::POSTGRES) => Line::from(vec![
            Span::styled(" data plane: ", theme.style(Slot::Muted)),
            Span::raw("PostgreSQL (real rows through the write probe)"),
        ]),
        Some(other) => Line::from(vec![
            Span::styled(" data plane: ", theme.style(Slot::Muted)),
            Span::styled(
                if other == dataplane::MODELLED {
                    dataplane::describe(other).to_string()
                } else {
                    format!("{} — {}", other.to_uppercase(), dataplane::describe(other))
                },
                theme.style(Slot::NoticeWarn),
            ),
        ]),
        None => Line::raw(""),
    }
}

fn plan_lines<'a>(s: &DrillScreen, theme: &Theme) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    let Some(p) = &s.plan else {
        return out;
    };
    out.push(Line::raw(format!(
        " Continuum {}/{} · pair {} · {} in {} → {} in {} · RTO {} s · RPO {} s",
        p.namespace,
        p.continuum,
        p.pair,
        p.primary_cluster,
        p.primary_region,
        p.replica_cluster,
        p.replica_region,
        p.rto_seconds,
        p.rpo_seconds
    )));
    // The project and token the kill will act on, before anything is armed (one token rule).
    if let Some(h) = &p.hetzner {
        out.push(Line::styled(
            format!(" {}", h.line()),
            theme.style(Slot::Muted),
        ));
    }
    out.push(data_plane_line(s, theme));
    let keys = s.phase == Phase::Planned;
    out.push(Line::from(vec![
        Span::styled(" kill mode: ", theme.style(Slot::Muted)),
        Span::raw(kill_label(p.options.server_kill)),
        Span::styled(if keys { "  [F2]" } else { "" }, theme.style(Slot::HintKey)),
    ]));
    out.push(Line::from(vec![
        Span::styled(" promotion: ", theme.style(Slot::Muted)),
        Span::raw(promotion_label(p.options.promotion)),
        Span::styled(if keys { "  [F3]" } else { "" }, theme.style(Slot::HintKey)),
    ]));
    out.push(Line::styled(" Preconditions", theme.style(Slot::Header)));
    for c in &p.preconditions {
        let (sym, slot) = if c.ok {
            ("✓", Slot::StateInstalled)
        } else {
            ("✗", Slot::StateFailed)
        };
        out.push(Line::from(vec![
            Span::styled(format!("  {sym} "), theme.style(slot)),
            Span::raw(format!("{:<28} ", c.name)),
            Span::styled(c.evidence.clone(), theme.style(Slot::Muted)),
        ]));
    }
    out.push(Line::styled(" Will touch", theme.style(Slot::Header)));
    for t in &p.touches {
        out.push(Line::from(vec![
            Span::raw(format!(
                "  {:<8} {:<22} {}{}: {} ",
                t.step.name(),
                t.kind,
                t.name,
                t.id.as_ref().map(|i| format!(" #{i}")).unwrap_or_default(),
                t.action
            )),
            Span::styled(format!("(undo: {})", t.undo), theme.style(Slot::Muted)),
        ]));
    }
    out
}

fn timeline_lines<'a>(s: &DrillScreen, theme: &Theme) -> Vec<Line<'a>> {
    let mut out = vec![Line::styled(" Timeline", theme.style(Slot::Header))];
    let now = s.now();
    let timeline = s
        .report
        .as_ref()
        .map(|r| r.timeline.clone())
        .unwrap_or_default();
    let mut shown = Vec::new();
    for step in Step::ORDER {
        let entry = timeline.iter().rev().find(|t| t.step == step.name());
        shown.push(step.name().to_string());
        out.push(timing_line(step.title(), entry, now, s.world_speed, theme));
    }
    for t in timeline.iter().filter(|t| t.step.starts_with("rollback ")) {
        let title = t.step.replace("rollback ", "undo ");
        out.push(timing_line(&title, Some(t), now, s.world_speed, theme));
    }
    out
}

fn timing_line<'a>(
    title: &str,
    entry: Option<&crate::provision::drill::report::StepTiming>,
    now: chrono::DateTime<chrono::Utc>,
    world_speed: Option<f64>,
    theme: &Theme,
) -> Line<'a> {
    // In a sped-up world a step's wall time is followed by its world time.
    let timed = |ms: i64| match world_speed {
        Some(speed) if speed != 1.0 => {
            format!("{} · {} world", secs(ms), secs((ms as f64 * speed) as i64))
        }
        _ => secs(ms),
    };
    let (sym, slot, timer, outcome) = match entry {
        None => (
            "·",
            Slot::StatePending,
            String::new(),
            "pending".to_string(),
        ),
        Some(t) if t.ended_at.is_none() && t.outcome == "interrupted" => (
            "◌",
            Slot::StateInstalling,
            timed((now - t.started_at).num_milliseconds().max(0)),
            "running".to_string(),
        ),
        Some(t) => {
            let (sym, slot) = if t.outcome == "done" {
                ("✓", Slot::StateInstalled)
            } else {
                ("✗", Slot::StateFailed)
            };
            (
                sym,
                slot,
                t.duration_ms.map(timed).unwrap_or_default(),
                t.outcome.clone(),
            )
        }
    };
    Line::from(vec![
        Span::styled(format!("  {sym} "), theme.style(slot)),
        Span::raw(format!("{title:<34} {timer:>9}  ")),
        Span::styled(outcome, theme.style(Slot::Muted)),
    ])
}

fn live_lines<'a>(s: &DrillScreen, theme: &Theme) -> Vec<Line<'a>> {
    let mut out = timeline_lines(s, theme);
    out.push(Line::styled(" Write probe", theme.style(Slot::Header)));
    match (&s.probe, s.data_plane.as_deref()) {
        (Some(p), _) => out.push(Line::raw(format!(
            "  {} rows acknowledged · {:.0} rows/s · {} errors{}",
            p.acked,
            p.rate_per_s,
            p.errors,
            p.in_doubt
                .map(|d| format!(" · #{d} in doubt"))
                .unwrap_or_default()
        ))),
        (None, Some(dp)) if dataplane::writes_rows(dp) => {
            out.push(Line::raw("  waiting for the first acknowledgement"))
        }
        (None, _) => out.push(Line::styled(
            "  simulated data plane: no probe rows",
            theme.style(Slot::Muted),
        )),
    }
    out.push(Line::styled(" Continuum", theme.style(Slot::Header)));
    match &s.observation {
        Some(o) => {
            out.push(Line::raw(format!(
                "  phase {} · lease {} · primary region {} · lag {} · streaming {}",
                o.continuum_phase.as_deref().unwrap_or("?"),
                o.lease_holder.as_deref().unwrap_or("?"),
                o.primary_region.as_deref().unwrap_or("?"),
                o.wal_lag_seconds
                    .map(|l| format!("{l:.1} s"))
                    .unwrap_or_else(|| "?".into()),
                o.streaming
                    .map(|b| if b { "yes" } else { "no" })
                    .unwrap_or("?")
            )));
            out.push(Line::styled(
                " Hetzner objects (primary region)",
                theme.style(Slot::Header),
            ));
            for obj in &o.objects {
                let (sym, slot) = if obj.intact {
                    ("✓", Slot::StateInstalled)
                } else {
                    ("✗", Slot::StateFailed)
                };
                out.push(Line::from(vec![
                    Span::styled(format!("  {sym} "), theme.style(slot)),
                    Span::raw(format!("{:<14} {:<36} {}", obj.kind, obj.name, obj.state)),
                ]));
            }
            for e in &o.errors {
                out.push(Line::styled(
                    format!("  ! {e}"),
                    theme.style(Slot::NoticeWarn),
                ));
            }
        }
        None => out.push(Line::styled("  reading…", theme.style(Slot::Muted))),
    }
    out
}

fn report_lines<'a>(r: &Report, theme: &Theme) -> Vec<Line<'a>> {
    // Wall time; in a sped-up world also world time.
    let timed = |v: Option<i64>| match (v, r.world_speed) {
        (Some(m), Some(speed)) if speed != 1.0 => format!(
            "{} wall · {} world at {speed}×",
            secs(m),
            secs((m as f64 * speed) as i64)
        ),
        (Some(m), _) => secs(m),
        (None, _) => "—".into(),
    };
    let mut out = vec![Line::styled(" Report", theme.style(Slot::Header))];
    out.push(Line::raw(format!(
        "  outcome {} · RTO {} · RPO {} · data plane {}",
        r.outcome,
        timed(r.rto_ms),
        timed(r.rpo_ms),
        r.data_plane
    )));
    match &r.verification {
        Some(v) => {
            let (text, slot) = if v.zero_loss() {
                ("zero transaction loss".to_string(), Slot::StateInstalled)
            } else {
                (
                    format!("{} acknowledged rows LOST", v.lost),
                    Slot::StateFailed,
                )
            };
            out.push(Line::from(vec![
                Span::raw(format!(
                    "  rows written {} · verified on the new primary {} · gaps {} — ",
                    v.acked, v.present, v.gaps
                )),
                Span::styled(text, theme.style(slot)),
            ]));
        }
        None => out.push(Line::styled(
            "  no rows verified (simulated data plane, or the drill stopped before verify)",
            theme.style(Slot::Muted),
        )),
    }
    if let Some(v) = &r.verification
        && !v.lost_ranges.is_empty()
    {
        out.push(Line::styled(
            format!(
                "  lost rows (drill_id {}), by seq: {}",
                r.drill_id,
                crate::provision::drill::verify::ranges_text(&v.lost_ranges)
            ),
            theme.style(Slot::StateFailed),
        ));
    }
    if let Some(c) = &r.continuum {
        let (sym, slot) = if c.switched {
            ("✓ failed over", Slot::StateInstalled)
        } else {
            ("✗ DID NOT fail over", Slot::StateFailed)
        };
        out.push(Line::from(vec![
            Span::raw("  Continuum "),
            Span::styled(sym, theme.style(slot)),
            Span::styled(format!(" — {}", c.evidence), theme.style(Slot::Muted)),
        ]));
    }
    if let Some(line) = r.region_destroyed_text() {
        out.push(Line::styled(
            format!("  ▲ REGION DESTROYED: {line}"),
            theme.style(Slot::NoticeWarn),
        ));
    }
    for f in &r.failures {
        out.push(Line::styled(
            format!("  ✗ {f}"),
            theme.style(Slot::StateFailed),
        ));
    }
    for u in &r.unverified {
        out.push(Line::styled(
            format!("  ? {u}"),
            theme.style(Slot::NoticeWarn),
        ));
    }
    out.push(Line::raw(format!(
        "  objects touched: {}",
        r.objects_touched.len()
    )));
    out
}

/// The head line of an ended drill: the verdict in words and a symbol, never by colour alone, and
/// nothing but a verified pass reads as one.
fn verdict_head(id: &str, f: &super::Finished) -> (String, Slot) {
    let first = |v: &[String]| v.first().cloned().unwrap_or_default();
    match f.outcome.as_str() {
        "passed" => (
            format!("✓ drill {id} PASSED: zero loss within RPO/RTO, Continuum failed over"),
            Slot::StateInstalled,
        ),
        crate::provision::drill::report::PASSED_REGION_DESTROYED => (
            format!(
                "✓ drill {id} PASSED, REGION DESTROYED: zero loss within RPO/RTO, Continuum failed over; the killed region's servers are gone — rebuild (Phase 0), then fail back"
            ),
            Slot::NoticeWarn,
        ),
        "failed" => (
            format!(
                "✗ drill {id} FAILED: {}",
                if f.report.failures.is_empty() {
                    f.error.clone().unwrap_or_default()
                } else {
                    first(&f.report.failures)
                }
            ),
            Slot::NoticeError,
        ),
        "unverified" => (
            format!(
                "? drill {id} UNVERIFIED (not a pass): {}",
                first(&f.report.unverified)
            ),
            Slot::NoticeWarn,
        ),
        other => (
            format!(
                "■ drill {id} {} (no verdict){}",
                other.replace('_', " ").to_uppercase(),
                f.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
            Slot::NoticeWarn,
        ),
    }
}

/// Draw the pane into `area`.
pub fn draw(frame: &mut Frame, area: Rect, s: &DrillScreen, armed: bool, theme: &Theme) {
    let title = format!(" Failover drill (§6.1) · {} ", s.fqdn);
    let inner = pane_frame(frame, area, title, theme);
    let confirming = matches!(s.phase, Phase::Planned | Phase::Unfinished);
    let [head, body, confirm, button] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(if confirming { 3 } else { 0 }),
        Constraint::Length(1),
    ])
    .areas(inner);

    let id = s.run_id.clone().unwrap_or_default();
    let (text, slot) = match &s.phase {
        Phase::Planning => (
            "planning: reading the Continuum, the pair and the primary region's Hetzner objects…"
                .to_string(),
            Slot::Muted,
        ),
        Phase::PlanFailed(e) => (format!("✗ no plan: {e}"), Slot::NoticeError),
        Phase::Planned => match &s.plan {
            Some(p) if p.ready() => (
                "plan: every precondition holds — nothing is touched until you confirm".to_string(),
                Slot::Header,
            ),
            _ => (
                "✗ refused: a precondition fails (see ✗ below)".to_string(),
                Slot::NoticeError,
            ),
        },
        Phase::Unfinished => (
            format!("unfinished drill {id} from an earlier session: resume or roll back"),
            Slot::NoticeWarn,
        ),
        Phase::Running => (format!("RUNNING drill {id}"), Slot::NoticeWarn),
        Phase::Aborting => (
            format!("rolling back drill {id}: undoing completed steps, newest first"),
            Slot::NoticeWarn,
        ),
        Phase::Done => match &s.finished {
            Some(f) => verdict_head(&id, f),
            None => (format!("drill {id} ended"), Slot::Header),
        },
        Phase::Failed(e) => (format!("✗ drill {id} failed: {e}"), Slot::NoticeError),
    };
    frame.render_widget(Paragraph::new(Span::styled(text, theme.style(slot))), head);

    let mut lines = match &s.phase {
        Phase::Planning | Phase::PlanFailed(_) | Phase::Planned => plan_lines(s, theme),
        Phase::Unfinished => {
            let mut l = plan_lines(s, theme);
            l.extend(timeline_lines(s, theme));
            l
        }
        Phase::Running | Phase::Aborting | Phase::Failed(_) => live_lines(s, theme),
        Phase::Done => {
            let mut l = live_lines(s, theme);
            if let Some(r) = &s.report {
                l.extend(report_lines(r, theme));
            }
            l
        }
    };
    if let Some(f) = &s.finished {
        match (&f.report_path, &f.report_error) {
            (Some(p), _) => lines.push(Line::raw(format!("  Markdown report: {}", p.display()))),
            (None, Some(e)) => lines.push(Line::styled(
                format!("  report not written: {e}"),
                theme.style(Slot::NoticeError),
            )),
            _ => {}
        }
    }
    let scroll = s.scroll.min(lines.len().saturating_sub(1)) as u16;
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), body);

    if confirming {
        s.gate.draw(frame, confirm, theme);
    }
    let mode = if s.phase == Phase::Unfinished {
        s.mode
    } else {
        RunMode::Start
    };
    let line = match &s.phase {
        Phase::Running => Line::from(vec![
            Span::styled(" [a] abort ", theme.style(Slot::NoticeWarn)),
            Span::raw("stops now and rolls back the completed steps in reverse order"),
        ]),
        Phase::Aborting | Phase::Done | Phase::Failed(_) | Phase::Planning => Line::raw(""),
        _ => {
            let unfinished = s.phase == Phase::Unfinished;
            s.gate.button(
                s.blocked_reason(armed),
                mode.label().to_string(),
                mode.label(),
                if unfinished {
                    "ready  [F2] resume ↔ roll back"
                } else {
                    "ready — this kills the primary region"
                },
                if unfinished {
                    "  [F2] resume ↔ roll back"
                } else {
                    ""
                },
                theme,
            )
        }
    };
    frame.render_widget(Paragraph::new(line), button);
}
