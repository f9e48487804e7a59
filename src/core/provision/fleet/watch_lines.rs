//! One watch request and its stream of events, decoded line by line straight from the body's
//! chunks.
//!
//! kube's `Api::watch` reads a watch through `tokio_util`'s `FramedRead`, which keeps an 8 KiB
//! line buffer per open watch for as long as the watch lives. The fleet holds three watches per
//! Sovereign open all the time, so at 2,000 Sovereigns that was 47 MiB of mostly empty buffers
//! (docs/PERFORMANCE.md, "Fleet at 2,000"). Here a line that arrives whole in one chunk (the
//! usual case: an event is a few hundred bytes to a few KiB) is parsed where it lies; only a line
//! split across chunks is gathered, in a buffer that is given back once it grew large. A chunk
//! of many events is parsed one event per call, as the caller asks: parsed ahead into a queue,
//! a burst left each watch holding a queue of decoded objects' size for as long as it lived.
//!
//! The semantics are kube's: a non-2xx answer is the apiserver's `Status` as `Error::Api`; a line
//! that is a `Status` instead of an event is `Error::Api`; a line that is neither is
//! `Error::SerdeError`; the end of the body, an unexpected EOF inside it or our socket read
//! timeout ends the stream (the caller re-watches); any other body error (the body cap among
//! them) is `Error::ReadEvents`.

use std::borrow::Cow;

use bytes::Bytes;
use futures::Stream;
use http_body::Body as _;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::core::Status;
use kube::core::watch::Bookmark;
use kube::{Error, Result};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::objects::FluxObject;
use crate::provision::kube_transport::{ClusterClient, ResponseBody as Body};

/// A gathered partial line larger than this is not kept for the next one.
const KEEP_PENDING: usize = 16 * 1024;

/// One page of a LIST. kube's `ObjectList` reads its type fields through `#[serde(flatten)]`,
/// which buffers the whole page as a tree before the items are decoded; this reads in one pass.
#[derive(Deserialize)]
pub(crate) struct Page {
    #[serde(default)]
    pub metadata: PageMeta,
    #[serde(default)]
    items: Option<Vec<FluxObject>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct PageMeta {
    #[serde(rename = "resourceVersion")]
    pub resource_version: Option<String>,
    #[serde(rename = "continue")]
    pub continue_: Option<String>,
}

impl Page {
    pub fn items(&mut self) -> Vec<FluxObject> {
        self.items.take().unwrap_or_default()
    }
}

/// One page of a LIST of `url_path` (a collection URL), as `Api::list` reads it: the whole
/// answer (under the body cap), a non-2xx answer as the apiserver's `Status`.
pub(crate) async fn list(client: &ClusterClient, url_path: &str, lp: &ListParams) -> Result<Page> {
    let request = kube::core::Request::new(url_path).list(lp);
    let mut body = open(client, request, "list").await?;
    let mut text = Vec::new();
    while let Some(chunk) = next_data(&mut body).await {
        text.extend_from_slice(&chunk?);
    }
    serde_json::from_slice(&text).map_err(Error::SerdeError)
}

/// Open a watch on `url_path` (a collection URL) from resource version `rv`.
pub(crate) async fn watch(
    client: &ClusterClient,
    url_path: &str,
    wp: &WatchParams,
    rv: &str,
) -> Result<impl Stream<Item = Result<WatchEvent<FluxObject>>> + use<>> {
    let request = kube::core::Request::new(url_path).watch(wp, rv);
    let body = open(client, request, "watch").await?;
    let lines = Lines {
        body,
        pending: Vec::new(),
        chunk: Bytes::new(),
        done: false,
    };
    Ok(futures::stream::unfold(lines, |mut l| async move {
        let next = l.next().await?;
        Some((next, l))
    }))
}

/// Send a request built by kube's `Request` (named `verb`, as kube names its requests) and
/// take its body, or the apiserver's refusal as `Error::Api`.
async fn open(
    client: &ClusterClient,
    request: std::result::Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    verb: &'static str,
) -> Result<Body> {
    let mut req = request.map_err(Error::BuildRequest)?;
    req.extensions_mut().insert(verb);
    let res = client.send(req.map(kube::client::Body::from)).await?;
    let status = res.status();
    let mut body = res.into_body();
    if status.is_client_error() || status.is_server_error() {
        return Err(api_error(status.as_u16(), &mut body).await);
    }
    Ok(body)
}

/// The apiserver's `Status` for a refused request, or one made from the text it sent instead.
async fn api_error(code: u16, body: &mut Body) -> Error {
    let mut text = Vec::new();
    while let Some(chunk) = next_data(body).await {
        match chunk {
            Ok(b) => text.extend_from_slice(&b),
            Err(e) => return e,
        }
    }
    let text = String::from_utf8_lossy(&text);
    let status = serde_json::from_str::<Status>(&text).unwrap_or_else(|_| {
        Status::failure(text.trim(), "Failed to parse error data").with_code(code)
    });
    Error::Api(status.boxed())
}

async fn next_data(body: &mut Body) -> Option<Result<Bytes>> {
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await;
        match frame? {
            Ok(f) => match f.into_data() {
                Ok(data) => return Some(Ok(data)),
                Err(_) => continue, // trailers
            },
            Err(e) => return Some(Err(e)),
        }
    }
}

struct Lines {
    body: Body,
    /// The start of a line whose end has not come yet.
    pending: Vec<u8>,
    /// What is left of the last chunk read, not parsed yet.
    chunk: Bytes,
    done: bool,
}

impl Lines {
    async fn next(&mut self) -> Option<Result<WatchEvent<FluxObject>>> {
        loop {
            if let Some(ev) = self.next_in_chunk() {
                return Some(ev);
            }
            if self.done {
                return None;
            }
            match next_data(&mut self.body).await {
                Some(Ok(data)) => self.chunk = data,
                Some(Err(e)) => {
                    self.done = true;
                    if ends_watch(&e) {
                        tracing::debug!(error = %e, "watch body ended early; re-watching");
                        return None;
                    }
                    return Some(Err(Error::ReadEvents(std::io::Error::other(e))));
                }
                None => {
                    self.done = true;
                    let rest = std::mem::take(&mut self.pending);
                    if let Some(ev) = line(&rest) {
                        return Some(ev);
                    }
                }
            }
        }
    }

    /// The next event among the lines the chunk completes; its unfinished tail goes to
    /// `pending`.
    fn next_in_chunk(&mut self) -> Option<Result<WatchEvent<FluxObject>>> {
        while !self.chunk.is_empty() {
            let Some(i) = self.chunk.iter().position(|&b| b == b'\n') else {
                self.pending.extend_from_slice(&self.chunk);
                // Not `clear()`: that keeps the chunk's buffer (the connection's) referenced.
                self.chunk = Bytes::new();
                break;
            };
            let taken = self.chunk.split_to(i + 1);
            let text = &taken[..i];
            let ev = if self.pending.is_empty() {
                line(text)
            } else {
                let mut whole = std::mem::take(&mut self.pending);
                whole.extend_from_slice(text);
                let ev = line(&whole);
                whole.clear();
                if whole.capacity() <= KEEP_PENDING {
                    self.pending = whole;
                }
                ev
            };
            if ev.is_some() {
                return ev;
            }
        }
        None
    }
}

/// The event of one whole line; `None` for a blank line or an incomplete last one (the body
/// ended inside it: nothing to say).
fn line(line: &[u8]) -> Option<Result<WatchEvent<FluxObject>>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(match event(line) {
        Ok(ev) => Ok(ev),
        Err(e) if e.is_eof() => return None,
        Err(e) => match status_line(line) {
            Some(status) => Err(Error::Api(status.boxed())),
            None => Err(Error::SerdeError(e)),
        },
    })
}

/// A line that is the apiserver's `Status` rather than an event. Asked by `kind`: kube's
/// `Status` has a default for every field, so any JSON object would parse as one.
fn status_line(line: &[u8]) -> Option<Status> {
    #[derive(Deserialize)]
    struct Kind<'a> {
        #[serde(borrow)]
        kind: Option<Cow<'a, str>>,
    }
    let k: Kind = serde_json::from_slice(line).ok()?;
    (k.kind.as_deref() == Some("Status"))
        .then(|| serde_json::from_slice(line).ok())
        .flatten()
}

/// One line of a watch: `{"type": …, "object": …}`, the fields in either order (kube's
/// adjacently tagged `WatchEvent` buffers the object as a tree when it comes first).
fn event(line: &[u8]) -> serde_json::Result<WatchEvent<FluxObject>> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
        #[serde(borrow)]
        object: &'a RawValue,
    }
    let e: Envelope = serde_json::from_slice(line)?;
    let object = e.object.get();
    Ok(match e.kind.as_ref() {
        "ADDED" => WatchEvent::Added(serde_json::from_str(object)?),
        "MODIFIED" => WatchEvent::Modified(serde_json::from_str(object)?),
        "DELETED" => WatchEvent::Deleted(serde_json::from_str(object)?),
        "BOOKMARK" => WatchEvent::Bookmark(serde_json::from_str::<Bookmark>(object)?),
        "ERROR" => WatchEvent::Error(Box::new(serde_json::from_str::<Status>(object)?)),
        other => {
            let shown: String = other.chars().take(40).collect();
            return Err(serde::de::Error::custom(format_args!(
                "unknown watch event type {shown:?}"
            )));
        }
    })
}

/// Whether a body error is the ordinary end of a long watch (the server or a proxy cut it, or
/// our socket read timeout fired) rather than a failure to report.
fn ends_watch(e: &Error) -> bool {
    if e.to_string().contains("unexpected EOF during chunk") {
        return true;
    }
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    for _ in 0..16 {
        let Some(err) = current else {
            return false;
        };
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::TimedOut
            )
        {
            return true;
        }
        if err.to_string().contains("unexpected EOF during chunk") {
            return true;
        }
        current = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bytes: Vec<u8>) -> Body {
        use http_body_util::BodyExt;
        http_body_util::Full::new(Bytes::from(bytes))
            .map_err(|never| match never {})
            .boxed_unsync()
    }

    fn lines() -> Lines {
        Lines {
            body: body(Vec::new()),
            pending: Vec::new(),
            chunk: Bytes::new(),
            done: false,
        }
    }

    impl Lines {
        /// A chunk as the body gives it, once the last one is used up.
        fn feed(&mut self, data: &[u8]) {
            assert!(self.chunk.is_empty(), "the last chunk is not used up");
            self.chunk = Bytes::copy_from_slice(data);
        }
    }

    fn ev(kind: &str, name: &str, rv: &str) -> String {
        format!(
            r#"{{"type":"{kind}","object":{{"apiVersion":"v1","kind":"X","metadata":{{"name":"{name}","resourceVersion":"{rv}"}}}}}}"#
        )
    }

    fn names(l: &mut Lines) -> Vec<String> {
        std::iter::from_fn(|| l.next_in_chunk())
            .map(|e| match e {
                Ok(WatchEvent::Added(o)) | Ok(WatchEvent::Modified(o)) => o.name,
                Ok(WatchEvent::Deleted(o)) => format!("-{}", o.name),
                Ok(WatchEvent::Bookmark(b)) => format!("@{}", b.metadata.resource_version),
                Ok(WatchEvent::Error(s)) => format!("!{}", s.code),
                Err(e) => format!("err {e}"),
            })
            .collect()
    }

    #[test]
    fn lines_whole_split_and_several_per_chunk_all_arrive_in_order() {
        let mut l = lines();
        let (a, b, c) = (
            ev("ADDED", "a", "1"),
            ev("MODIFIED", "b", "2"),
            ev("DELETED", "c", "3"),
        );
        l.feed(format!("{a}\n{b}\r\n").as_bytes());
        assert_eq!(names(&mut l), ["a", "b"]);
        // One event cut in three pieces.
        let (p1, rest) = c.split_at(10);
        let (p2, p3) = rest.split_at(20);
        l.feed(p1.as_bytes());
        assert!(names(&mut l).is_empty(), "nothing until the line ends");
        l.feed(p2.as_bytes());
        assert!(names(&mut l).is_empty(), "nothing until the line ends");
        l.feed(format!("{p3}\n\n").as_bytes());
        assert_eq!(names(&mut l), ["-c"]);
        assert!(l.pending.is_empty());
    }

    #[test]
    fn a_chunk_of_many_events_is_parsed_one_event_per_call() {
        let mut l = lines();
        let (a, b) = (ev("ADDED", "a", "1"), ev("ADDED", "b", "2"));
        l.feed(format!("{a}\n{b}\n").as_bytes());
        assert!(matches!(l.next_in_chunk(), Some(Ok(WatchEvent::Added(o))) if o.name == "a"));
        assert_eq!(l.chunk.len(), b.len() + 1, "b is still bytes");
        assert_eq!(names(&mut l), ["b"]);
        assert!(l.chunk.is_empty());
    }

    #[test]
    fn a_status_line_is_an_api_error_and_garbage_a_serde_error() {
        let mut l = lines();
        l.feed(b"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old\",\"status\":\"Failure\"}}\n");
        assert_eq!(names(&mut l), ["!410"]);
        l.feed(b"{\"kind\":\"Status\",\"code\":500,\"message\":\"boom\",\"reason\":\"X\",\"status\":\"Failure\"}\n");
        let got = names(&mut l);
        assert!(
            got[0].starts_with("err ") && got[0].contains("boom"),
            "{got:?}"
        );
        l.feed(b"not json\n");
        let got = names(&mut l);
        assert!(got[0].starts_with("err "), "{got:?}");
    }

    #[test]
    fn the_object_may_come_before_the_type_and_an_unknown_type_is_an_error() {
        let mut l = lines();
        let mut got = Vec::new();
        for piece in [
            &br#"{"object":{"metadata":{"name":"a","resourceVersion":"4"}},"type":"MODIFIED"}"#[..],
            b"\n",
            br#"{"type":"BOOKMARK","object":{"kind":"X","apiVersion":"v1","metadata":{"resourceVersion":"9"}}}"#,
            b"\n",
            br#"{"type":"RENAMED","object":{}}"#,
            b"\n",
        ] {
            l.feed(piece);
            got.extend(names(&mut l));
        }
        assert_eq!(got[..2], ["a", "@9"]);
        assert!(
            got[2].contains("unknown watch event type \"RENAMED\""),
            "{got:?}"
        );
    }

    #[test]
    fn a_page_reads_its_continue_token_and_null_items() {
        let mut p: Page = serde_json::from_str(
            r#"{"kind":"HelmReleaseList","apiVersion":"v2","metadata":{"resourceVersion":"12","continue":"c1"},"items":null}"#,
        )
        .expect("page");
        assert!(p.items().is_empty());
        assert_eq!(p.metadata.resource_version.as_deref(), Some("12"));
        assert_eq!(p.metadata.continue_.as_deref(), Some("c1"));
        let mut p: Page = serde_json::from_str(
            r#"{"items":[{"metadata":{"name":"a"},"spec":{"values":{"big":[1,2,3]}}}],"metadata":{}}"#,
        )
        .expect("page");
        assert_eq!(p.items()[0].name, "a");
    }

    #[test]
    fn a_large_gathered_line_is_not_kept() {
        let mut l = lines();
        let big = ev("ADDED", &"x".repeat(3 * KEEP_PENDING), "9");
        let (p1, p2) = big.split_at(100);
        l.feed(p1.as_bytes());
        assert!(names(&mut l).is_empty());
        l.feed(format!("{p2}\n").as_bytes());
        assert_eq!(names(&mut l).len(), 1);
        assert!(
            l.pending.capacity() <= KEEP_PENDING,
            "{}",
            l.pending.capacity()
        );
    }

    #[tokio::test]
    async fn the_end_of_the_body_ends_the_stream_after_its_last_line() {
        let mut l = lines();
        l.body = body(format!("{}\n{}", ev("ADDED", "a", "1"), ev("ADDED", "b", "2")).into_bytes());
        let mut got = Vec::new();
        while let Some(e) = l.next().await {
            got.push(e.is_ok());
        }
        assert_eq!(
            got,
            [true, true],
            "a last line without newline still counts"
        );
    }

    #[test]
    fn a_cut_watch_ends_quietly_and_other_errors_do_not() {
        let eof = Error::ReadEvents(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "cut",
        ));
        assert!(ends_watch(&eof));
        let timeout = Error::Service(Box::new(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "read timeout",
        )));
        assert!(ends_watch(&timeout));
        let other = Error::Service("the apiserver of x: a watch event is larger than 1 KiB".into());
        assert!(!ends_watch(&other));
    }
}
