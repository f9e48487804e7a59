//! Journals an older sovtui may have left on an operator's disk, read as the records they meant
//! so an interrupted run from before an upgrade is still offered, resumed and rolled back:
//!
//! * drill journals, `journal/drill/<id>.jsonl`: `{"at", "event", …}` lines without the run,
//!   operation and Sovereign (the Sovereign was the `target` of the `planned` line);
//! * Phase-0 apply and purge journals, `journal/<phase0-apply|recover>-<slug>-<stamp>.ndjson`:
//!   `{"at", "step", …detail}` lines, written before each step, and a last `done` line.
//!
//! Only read; everything new is written in the current format (a resumed old drill journal gets
//! current records appended, which [`super::read`] reads line by line).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{Entry, Event, FORMAT, Op, Replay};

/// Reads the old drill lines of one file, remembering the Sovereign its `planned` line named.
pub(super) struct DrillLines {
    run: String,
    /// Old-format lines only ever lived in drill journals.
    is_drill: bool,
    fqdn: String,
}

#[derive(Deserialize)]
struct OldDrillLine {
    at: DateTime<Utc>,
    /// Only on the `planned` line.
    #[serde(default)]
    target: Option<String>,
    #[serde(flatten)]
    event: Event,
}

impl DrillLines {
    pub(super) fn new(path: &Path) -> DrillLines {
        let name = |p: Option<&std::ffi::OsStr>| {
            p.and_then(|s| s.to_str()).unwrap_or_default().to_string()
        };
        DrillLines {
            run: name(path.file_stem()),
            is_drill: name(path.parent().and_then(Path::file_name)) == Op::Drill.as_str(),
            fqdn: String::new(),
        }
    }

    /// The record an old drill line meant, or None when it is not one.
    pub(super) fn entry(&mut self, line: &str) -> Option<Entry> {
        if !self.is_drill {
            return None;
        }
        let old: OldDrillLine = serde_json::from_str(line).ok()?;
        if let Some(t) = old.target {
            self.fqdn = t;
        }
        Some(Entry {
            v: FORMAT,
            run: self.run.clone(),
            op: Op::Drill,
            fqdn: self.fqdn.clone(),
            at: old.at,
            event: old.event,
        })
    }
}

/// The operation of an old Hetzner journal, from its file name.
fn hetzner_op(file: &str) -> Option<Op> {
    if file.starts_with("recover-") {
        Some(Op::Purge)
    } else if file.starts_with("phase0-apply-") {
        Some(Op::Phase0Apply)
    } else {
        None
    }
}

/// Read an old Phase-0 apply or purge journal (`<root>/*.ndjson`). Lines that do not parse are
/// skipped, as the old reader did (a torn last line is what a kill mid-append leaves).
pub(super) fn read_hetzner(path: &Path) -> Option<Replay> {
    let file = path.file_name()?.to_str()?;
    let op = hetzner_op(file)?;
    let run = file.strip_suffix(".ndjson").unwrap_or(file).to_string();
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<serde_json::Map<String, Value>> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let fqdn = lines
        .iter()
        .find_map(|l| l.get("fqdn").and_then(Value::as_str))
        .unwrap_or_default()
        .to_string();
    let mut replay = Replay::default();
    for mut line in lines {
        let str_of = |l: &serde_json::Map<String, Value>, k: &str| {
            l.get(k).and_then(Value::as_str).unwrap_or("?").to_string()
        };
        let Some(at) = line
            .get("at")
            .and_then(Value::as_str)
            .and_then(|a| DateTime::parse_from_rfc3339(a).ok())
        else {
            continue;
        };
        let step = str_of(&line, "step");
        line.remove("at");
        line.remove("step");
        let event = match step.as_str() {
            "start" => Event::Planned { plan: Value::Null },
            "plan" => Event::Planned {
                plan: Value::Object(line),
            },
            "done" => Event::Finished {
                outcome: line
                    .get("outcome")
                    .and_then(Value::as_str)
                    .unwrap_or("completed")
                    .to_string(),
                detail: Value::Object(line),
            },
            "delete" => {
                let o = line.get("object").and_then(Value::as_object);
                let field = |k: &str| o.map(|o| str_of(o, k)).unwrap_or_else(|| "?".into());
                let id = o
                    .and_then(|o| o.get("id"))
                    .and_then(Value::as_i64)
                    .unwrap_or_default();
                Event::StepStarted {
                    step: format!("delete {} {} #{id}", field("kind"), field("name")),
                }
            }
            "apply" => Event::StepStarted {
                step: format!(
                    "{} {} {}",
                    str_of(&line, "action"),
                    str_of(&line, "kind"),
                    str_of(&line, "name")
                ),
            },
            other => Event::StepStarted {
                step: other.to_string(),
            },
        };
        replay.entries.push(Entry {
            v: FORMAT,
            run: run.clone(),
            op,
            fqdn: fqdn.clone(),
            at: at.with_timezone(&Utc),
            event,
        });
    }
    Some(replay)
}
