//! An incremental Server-Sent-Events reader for the deployment stream (contract §2.2): bytes in,
//! frames out. It never panics on what arrives: malformed lines are counted and skipped, a frame cut
//! off by the end of the stream is reported, not delivered, and one absurdly long line cannot make
//! the buffer grow without bound.

use super::model::{DeploymentState, Event};

/// Longest line we keep before giving up on it (an Event JSON is a few hundred bytes).
const MAX_LINE: usize = 4 * 1024 * 1024;

/// One dispatched SSE message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseFrame {
    /// The `event:` field; `None` for unnamed messages.
    pub event: Option<String>,
    pub data: String,
}

/// A frame decoded into the catalyst vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    Event(Event),
    /// `event: done` carrying the deployment State.
    Done(Box<DeploymentState>),
    /// A frame we could not decode: what it was and why.
    Malformed {
        detail: String,
    },
}

#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
    has_field: bool,
    /// Lines skipped because they were not valid SSE (bad UTF-8, unknown fields, overlong).
    pub malformed_lines: u64,
    overlong: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed a chunk as it arrives; returns every frame completed by it.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseFrame> {
        let mut frames = Vec::new();
        for &b in chunk {
            if b == b'\n' {
                let line = std::mem::take(&mut self.buf);
                if self.overlong {
                    self.overlong = false;
                    continue;
                }
                self.line(&line, &mut frames);
            } else if self.buf.len() >= MAX_LINE {
                if !self.overlong {
                    self.overlong = true;
                    self.malformed_lines += 1;
                    self.buf.clear();
                }
            } else if !self.overlong {
                self.buf.push(b);
            }
        }
        frames
    }

    /// Whether the stream ended in the middle of a frame (bytes or fields not yet dispatched).
    pub fn has_partial_frame(&self) -> bool {
        !self.buf.is_empty() || self.has_field
    }

    fn line(&mut self, raw: &[u8], frames: &mut Vec<SseFrame>) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            if self.has_field && !self.data.is_empty() {
                frames.push(SseFrame {
                    event: self.event.take(),
                    data: self.data.join("\n"),
                });
            }
            self.event = None;
            self.data.clear();
            self.has_field = false;
            return;
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            self.malformed_lines += 1;
            return;
        };
        if line.starts_with(':') {
            return; // comment / heartbeat
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                self.data.push(value.to_string());
                self.has_field = true;
            }
            "event" => {
                self.event = Some(value.to_string());
                self.has_field = true;
            }
            "id" | "retry" => {}
            _ => self.malformed_lines += 1,
        }
    }
}

/// Decode one frame: unnamed → Event, `done` → State, anything else is reported, never fatal.
pub fn decode(frame: &SseFrame) -> StreamItem {
    match frame.event.as_deref() {
        None | Some("message") | Some("") => match serde_json::from_str::<Event>(&frame.data) {
            Ok(ev) => StreamItem::Event(ev),
            Err(e) => StreamItem::Malformed {
                detail: format!("event frame is not an Event ({e}): {}", clip(&frame.data)),
            },
        },
        Some("done") => match serde_json::from_str::<DeploymentState>(&frame.data) {
            Ok(st) => StreamItem::Done(Box::new(st)),
            Err(e) => StreamItem::Malformed {
                detail: format!(
                    "done frame is not a deployment state ({e}): {}",
                    clip(&frame.data)
                ),
            },
        },
        Some(other) => StreamItem::Malformed {
            detail: format!("unknown SSE event type {other:?}"),
        },
    }
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(120).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EV: &str = r#"{"time":"2026-04-30T12:00:00Z","phase":"tofu-init","level":"info","message":"Initialising OpenTofu working directory"}"#;

    #[test]
    fn frames_survive_arbitrary_chunking() {
        let stream = format!(
            "data: {EV}\n\ndata: {EV}\r\n\r\nevent: done\ndata: {{\"id\":\"x\",\"status\":\"ready\"}}\n\n"
        );
        for split in 1..stream.len() {
            let mut p = SseParser::new();
            let (a, b) = stream.as_bytes().split_at(split);
            let mut frames = p.feed(a);
            frames.extend(p.feed(b));
            assert_eq!(frames.len(), 3, "split at {split}");
            assert!(matches!(decode(&frames[0]), StreamItem::Event(_)));
            assert!(matches!(decode(&frames[2]), StreamItem::Done(ref s) if s.status == "ready"));
            assert!(!p.has_partial_frame());
        }
    }

    #[test]
    fn truncated_final_frame_is_reported_not_delivered() {
        let mut p = SseParser::new();
        let frames = p.feed(format!("data: {EV}\n\ndata: {{\"time\":\"2026").as_bytes());
        assert_eq!(frames.len(), 1);
        assert!(p.has_partial_frame());
        // a complete data line without its blank terminator is still partial
        let mut p = SseParser::new();
        assert!(p.feed(format!("data: {EV}\n").as_bytes()).is_empty());
        assert!(p.has_partial_frame());
    }

    #[test]
    fn malformed_lines_are_counted_and_skipped() {
        let mut p = SseParser::new();
        let mut input = b"garbage line\n: comment\n\xff\xfe\ndata: ".to_vec();
        input.extend_from_slice(EV.as_bytes());
        input.extend_from_slice(b"\n\ndata: {not json\n\nevent: weird\ndata: 1\n\n");
        let frames = p.feed(&input);
        assert_eq!(p.malformed_lines, 2);
        assert_eq!(frames.len(), 3);
        assert!(matches!(decode(&frames[0]), StreamItem::Event(_)));
        assert!(matches!(decode(&frames[1]), StreamItem::Malformed { .. }));
        assert!(matches!(decode(&frames[2]), StreamItem::Malformed { .. }));
    }

    #[test]
    fn overlong_lines_do_not_grow_the_buffer() {
        let mut p = SseParser::new();
        let big = vec![b'x'; MAX_LINE + 10];
        assert!(p.feed(&big).is_empty());
        assert!(p.buf.len() <= MAX_LINE);
        let frames = p.feed(format!("\ndata: {EV}\n\n").as_bytes());
        assert_eq!(frames.len(), 1);
        assert_eq!(p.malformed_lines, 1);
    }
}
