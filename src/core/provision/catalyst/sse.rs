//! An incremental Server-Sent-Events reader for the deployment stream (contract §2.2): bytes in,
//! frames out. It never panics on what arrives: malformed lines are counted and skipped, a frame cut
//! off by the end of the stream is reported, not delivered, and no event — one absurdly long line
//! or endless `data:` lines without the blank line that ends an event — can make it hold more
//! than its cap: it stops and says so ([`SseParser::overflowed`]).

use super::model::{DeploymentState, Event};

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

#[derive(Debug)]
pub struct SseParser {
    buf: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
    /// Bytes held for the event being read (its data lines and the current line).
    held: usize,
    has_field: bool,
    /// Lines skipped because they were not valid SSE (bad UTF-8, unknown fields).
    pub malformed_lines: u64,
    max_event: usize,
    overflowed: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::with_max_event(crate::provision::limits::Limits::default().max_event)
    }
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser that refuses any event larger than `max_event` bytes.
    pub fn with_max_event(max_event: usize) -> Self {
        SseParser {
            buf: Vec::new(),
            event: None,
            data: Vec::new(),
            held: 0,
            has_field: false,
            malformed_lines: 0,
            max_event: max_event.max(1),
            overflowed: false,
        }
    }

    pub fn max_event(&self) -> usize {
        self.max_event
    }

    /// An event grew past the cap: what it held was dropped and nothing more is parsed (the
    /// stream must be dropped and reopened).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Feed a chunk as it arrives; returns every frame completed by it.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseFrame> {
        let mut frames = Vec::new();
        if self.overflowed {
            return frames;
        }
        for &b in chunk {
            if b == b'\n' {
                let line = std::mem::take(&mut self.buf);
                self.line(&line, &mut frames);
            } else {
                // An event's lines count towards its cap, so one endless line is refused too.
                // The check is on the byte that would go over the cap: an event of exactly
                // `max_event` bytes is still read (a newline adds nothing to hold).
                if self.held >= self.max_event {
                    self.overflowed = true;
                    self.buf = Vec::new();
                    self.data = Vec::new();
                    self.held = 0;
                    return frames;
                }
                self.buf.push(b);
                self.held += 1;
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
            self.held = 0;
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
    fn an_endless_line_stops_at_the_event_cap() {
        let mut p = SseParser::with_max_event(1024);
        let frames = p.feed(format!("data: {EV}\n\n").as_bytes());
        assert_eq!(
            frames.len(),
            1,
            "complete events before the overflow are delivered"
        );
        let big = vec![b'x'; 1024 + 10];
        assert!(p.feed(&big).is_empty());
        assert!(p.overflowed());
        assert!(
            p.buf.capacity() <= 1024,
            "the buffer did not grow past the cap"
        );
    }

    #[test]
    fn endless_data_lines_without_a_blank_line_stop_at_the_event_cap() {
        let mut p = SseParser::with_max_event(4096);
        let line = b"data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";
        let mut fed = 0;
        while !p.overflowed() {
            assert!(p.feed(line).is_empty());
            fed += line.len();
            assert!(fed < 10 * 4096, "the parser kept taking data past its cap");
        }
        assert!(
            p.data.is_empty() && p.buf.is_empty(),
            "what it held was dropped"
        );
        // Once over, nothing more is taken.
        assert!(p.feed(format!("\n\ndata: {EV}\n\n").as_bytes()).is_empty());
    }

    #[test]
    fn events_under_the_cap_pass_and_reset_it() {
        let mut p = SseParser::with_max_event(EV.len() + 16);
        for _ in 0..100 {
            let frames = p.feed(format!("data: {EV}\n\n").as_bytes());
            assert_eq!(frames.len(), 1);
        }
        assert!(!p.overflowed());
    }

    /// Found by the fuzz target `fuzz_sse_reader`: the cap was checked before every byte, the
    /// newline included, so data lines of exactly `max_event` bytes were refused although nothing
    /// went over the cap, while one line of the same length passed.
    #[test]
    fn an_event_of_exactly_the_cap_is_read() {
        let line = b"data: x\n"; // 7 bytes held per line
        let mut p = SseParser::with_max_event(7 * 3);
        assert!(p.feed(&line.repeat(3)).is_empty());
        assert!(!p.overflowed(), "3 × 7 bytes is not over a cap of 21");
        assert_eq!(p.feed(b"\n").len(), 1);
        let mut p = SseParser::with_max_event(7 * 3 - 1);
        assert!(p.feed(&line.repeat(3)).is_empty());
        assert!(p.overflowed(), "21 bytes is over a cap of 20");
    }
}
