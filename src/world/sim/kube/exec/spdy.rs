//! Exec over SPDY/3.1, the stream protocol kubectl ≤ 1.29 speaks (and newer kubectl falls back
//! to): after `Upgrade: SPDY/3.1`, the client opens one stream per `streamType` header (error,
//! stdin, stdout, stderr, resize) with SYN_STREAM; the server answers each with SYN_REPLY, reads
//! stdin to its FIN, writes stdout/stderr, then the JSON Status on the error stream, and closes.
//!
//! Framing (SPDY/3 §2.2): control frames `1 | version(15) | type(16) | flags(8) | length(24)`,
//! data frames `0 | stream-id(31) | flags(8) | length(24)`. Header blocks are one zlib stream per
//! direction per connection, each block sync-flushed, with SPDY/3's preset dictionary.

use std::collections::BTreeMap;
use std::time::Duration;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::STDIN_MAX;
use super::stream::Job;

pub const VERSION: u16 = 3;
pub const SYN_STREAM: u16 = 1;
pub const SYN_REPLY: u16 = 2;
pub const RST_STREAM: u16 = 3;
pub const PING: u16 = 6;
pub const GOAWAY: u16 = 7;
pub const FLAG_FIN: u8 = 0x01;

/// Largest frame payload accepted (the length field allows 16 MiB; header blocks and stdin
/// chunks from kubectl are far smaller).
const MAX_FRAME: usize = 1 << 24;
/// Largest decompressed header block.
const MAX_HEADERS: usize = 256 * 1024;
/// Data frames written at most this big.
const CHUNK: usize = 32 * 1024;
/// How long the client gets to open its streams and finish stdin (the kubelet's stream
/// creation timeout is 30 s).
const SETUP: Duration = Duration::from_secs(30);
/// How long to wait for the client to hang up after everything was sent.
const LINGER: Duration = Duration::from_secs(5);

/// The names SPDY/3's header dictionary lists, each written as a 4-byte length and the name.
const DICTIONARY_NAMES: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The dictionary's tail: common values, without length prefixes.
const DICTIONARY_TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411412\
413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently\
400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error\
501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec \
00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,\
application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,\
deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/// SPDY/3's zlib dictionary for header blocks.
pub fn dictionary() -> Vec<u8> {
    let mut d = Vec::with_capacity(1500);
    for name in DICTIONARY_NAMES {
        d.extend_from_slice(&(name.len() as u32).to_be_bytes());
        d.extend_from_slice(name.as_bytes());
    }
    d.extend_from_slice(DICTIONARY_TAIL.as_bytes());
    d
}

/// One frame as read from the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Control {
        kind: u16,
        flags: u8,
        payload: Vec<u8>,
    },
    Data {
        stream: u32,
        flags: u8,
        payload: Vec<u8>,
    },
}

/// Read one frame; Ok(None) at a clean end of the connection.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Frame>> {
    let mut head = [0u8; 8];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let flags = head[4];
    let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other("SPDY frame too large"));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    let word = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    Ok(Some(if word & 0x8000_0000 != 0 {
        Frame::Control {
            kind: (word & 0xffff) as u16,
            flags,
            payload,
        }
    } else {
        Frame::Data {
            stream: word,
            flags,
            payload,
        }
    }))
}

fn frame_head(word: u32, flags: u8, len: usize) -> [u8; 8] {
    let w = word.to_be_bytes();
    let l = (len as u32).to_be_bytes();
    [w[0], w[1], w[2], w[3], flags, l[1], l[2], l[3]]
}

pub fn control_frame(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = frame_head(
        0x8000_0000 | (u32::from(VERSION) << 16) | u32::from(kind),
        flags,
        payload.len(),
    )
    .to_vec();
    f.extend_from_slice(payload);
    f
}

pub fn data_frame(stream: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = frame_head(stream & 0x7fff_ffff, flags, payload.len()).to_vec();
    f.extend_from_slice(payload);
    f
}

/// Encode a header block (before compression): count, then length-prefixed names and values.
pub fn encode_headers(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = (headers.len() as u32).to_be_bytes().to_vec();
    for (k, v) in headers {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// Decode a header block; names are lower-case on the wire.
pub fn decode_headers(block: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut pos = 0;
    let mut take = |n: usize| -> Result<&[u8], String> {
        let s = block.get(pos..pos + n).ok_or("truncated header block")?;
        pos += n;
        Ok(s)
    };
    let u32_at = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let count = u32_at(take(4)?);
    let mut out = BTreeMap::new();
    for _ in 0..count {
        let klen = u32_at(take(4)?);
        let k = String::from_utf8_lossy(take(klen)?).to_ascii_lowercase();
        let vlen = u32_at(take(4)?);
        let v = String::from_utf8_lossy(take(vlen)?).into_owned();
        out.insert(k, v);
    }
    Ok(out)
}

/// The zlib contexts of one connection: one for the header blocks read, one for those written.
pub struct HeaderCodec {
    inflate: Decompress,
    deflate: Compress,
    dict: Vec<u8>,
}

impl Default for HeaderCodec {
    fn default() -> Self {
        HeaderCodec::new()
    }
}

impl HeaderCodec {
    pub fn new() -> HeaderCodec {
        let dict = dictionary();
        let mut deflate = Compress::new(Compression::default(), true);
        // Only fails for a stream already started; this one is new.
        let _ = deflate.set_dictionary(&dict);
        HeaderCodec {
            inflate: Decompress::new(true),
            deflate,
            dict,
        }
    }

    /// Inflate one sync-flushed header block of the peer's stream.
    pub fn inflate(&mut self, input: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(input.len() * 4 + 256);
        let mut pos = 0;
        loop {
            let before = self.inflate.total_in();
            let res = self
                .inflate
                .decompress_vec(&input[pos..], &mut out, FlushDecompress::Sync);
            pos += (self.inflate.total_in() - before) as usize;
            match res {
                Ok(Status::StreamEnd) => break,
                Ok(_) => {
                    if out.len() == out.capacity() {
                        if out.len() >= MAX_HEADERS {
                            return Err("header block too large".into());
                        }
                        out.reserve(out.capacity());
                    } else if pos >= input.len() {
                        break;
                    }
                }
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(&self.dict)
                        .map_err(|e| format!("header dictionary: {e}"))?;
                }
                Err(e) => return Err(format!("header block: {e}")),
            }
        }
        Ok(out)
    }

    /// Deflate one header block onto this side's stream (sync flush: the peer can read it now).
    pub fn deflate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() + 64);
        let mut pos = 0;
        loop {
            let before = self.deflate.total_in();
            let res = self
                .deflate
                .compress_vec(&input[pos..], &mut out, FlushCompress::Sync);
            pos += (self.deflate.total_in() - before) as usize;
            if res.is_err() {
                break;
            }
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(64));
            } else if pos >= input.len() {
                break;
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Error,
    Stdin,
    Stdout,
    Stderr,
    Resize,
}

/// RST_STREAM status: the server does not take streams of this type.
const REFUSED_STREAM: u32 = 3;

/// Serve one exec over an upgraded SPDY/3.1 connection.
pub(crate) async fn run<S>(io: S, job: Job)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let mut codec = HeaderCodec::new();
    let mut streams: BTreeMap<Kind, u32> = BTreeMap::new();
    let mut stdin = Vec::new();
    let mut stdin_done = !job.req.stdin;
    let wanted = |streams: &BTreeMap<Kind, u32>| {
        streams.contains_key(&Kind::Error)
            && (!job.req.stdin || streams.contains_key(&Kind::Stdin))
            && (!job.req.stdout || streams.contains_key(&Kind::Stdout))
            && (!job.req.stderr || streams.contains_key(&Kind::Stderr))
    };
    let deadline = tokio::time::Instant::now() + SETUP;
    while !(wanted(&streams) && stdin_done) {
        let frame = match tokio::time::timeout_at(deadline, read_frame(&mut rd)).await {
            Ok(Ok(Some(f))) => f,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "exec SPDY read failed");
                return;
            }
            _ => return,
        };
        match frame {
            Frame::Control {
                kind: SYN_STREAM,
                flags,
                payload,
            } if payload.len() >= 10 => {
                let id = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]])
                    & 0x7fff_ffff;
                let headers = match codec
                    .inflate(&payload[10..])
                    .and_then(|b| decode_headers(&b))
                {
                    Ok(h) => h,
                    Err(e) => {
                        tracing::debug!(error = %e, "exec SPDY header block");
                        return;
                    }
                };
                let kind = match headers.get("streamtype").map(String::as_str) {
                    Some("error") => Kind::Error,
                    Some("stdin") => Kind::Stdin,
                    Some("stdout") => Kind::Stdout,
                    Some("stderr") => Kind::Stderr,
                    Some("resize") => Kind::Resize,
                    _ => {
                        let mut p = id.to_be_bytes().to_vec();
                        p.extend_from_slice(&REFUSED_STREAM.to_be_bytes());
                        if wr
                            .write_all(&control_frame(RST_STREAM, 0, &p))
                            .await
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                };
                let mut reply = id.to_be_bytes().to_vec();
                reply.extend(codec.deflate(&encode_headers(&[])));
                if wr
                    .write_all(&control_frame(SYN_REPLY, 0, &reply))
                    .await
                    .is_err()
                {
                    return;
                }
                streams.insert(kind, id);
                if kind == Kind::Stdin && flags & FLAG_FIN != 0 {
                    stdin_done = true;
                }
            }
            Frame::Control {
                kind: PING,
                payload,
                ..
            } => {
                if wr
                    .write_all(&control_frame(PING, 0, &payload))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Frame::Control { kind: GOAWAY, .. } => return,
            Frame::Control { .. } => {} // SETTINGS, WINDOW_UPDATE, RST_STREAM, HEADERS
            Frame::Data {
                stream,
                flags,
                payload,
            } => {
                if streams.get(&Kind::Stdin) == Some(&stream) {
                    let room = STDIN_MAX.saturating_sub(stdin.len());
                    stdin.extend_from_slice(&payload[..payload.len().min(room)]);
                    if flags & FLAG_FIN != 0 {
                        stdin_done = true;
                    }
                }
            }
        }
    }
    let (stdout, stderr, status) = job.run(&stdin);
    let mut out = Vec::new();
    for (kind, data) in [
        (Kind::Stdout, stdout),
        (Kind::Stderr, stderr),
        (Kind::Error, status),
    ] {
        if let Some(&id) = streams.get(&kind) {
            for chunk in data.chunks(CHUNK) {
                out.extend(data_frame(id, 0, chunk));
            }
            out.extend(data_frame(id, FLAG_FIN, &[]));
        }
    }
    for kind in [Kind::Stdin, Kind::Resize] {
        if let Some(&id) = streams.get(&kind) {
            out.extend(data_frame(id, FLAG_FIN, &[]));
        }
    }
    if wr.write_all(&out).await.is_err() || wr.flush().await.is_err() {
        return;
    }
    // The client hangs up once it has read everything; answer its pings until then.
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(Some(f)) = read_frame(&mut rd).await {
            if let Frame::Control {
                kind: PING,
                payload,
                ..
            } = f
                && wr
                    .write_all(&control_frame(PING, 0, &payload))
                    .await
                    .is_err()
            {
                return;
            }
        }
    })
    .await;
    let _ = wr.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_spdy3s() {
        let d = dictionary();
        // SPDY/3's dictionary: 1423 bytes whose zlib dictionary id (Adler-32) every SPDY/3 peer
        // checks.
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\0\0\0\x07options");
        assert!(d.ends_with(b",*,enq=0."));
    }

    #[test]
    fn header_blocks_round_trip_through_two_codecs() {
        let (mut a, mut b) = (HeaderCodec::new(), HeaderCodec::new());
        for headers in [
            vec![("streamtype", "error")],
            vec![("streamtype", "stdout"), ("x", "y")],
        ] {
            let block = encode_headers(&headers);
            let wire = a.deflate(&block);
            assert!(wire.len() >= 4);
            let back = decode_headers(&b.inflate(&wire).unwrap()).unwrap();
            assert_eq!(back.len(), headers.len());
            assert_eq!(back["streamtype"], headers[0].1);
        }
    }

    #[test]
    fn frames_encode_and_decode() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut wire = control_frame(PING, 0, &7u32.to_be_bytes());
            wire.extend(data_frame(5, FLAG_FIN, b"hi"));
            let mut r = &wire[..];
            assert_eq!(
                read_frame(&mut r).await.unwrap(),
                Some(Frame::Control {
                    kind: PING,
                    flags: 0,
                    payload: 7u32.to_be_bytes().to_vec()
                })
            );
            assert_eq!(
                read_frame(&mut r).await.unwrap(),
                Some(Frame::Data {
                    stream: 5,
                    flags: FLAG_FIN,
                    payload: b"hi".to_vec()
                })
            );
            assert_eq!(read_frame(&mut r).await.unwrap(), None);
        });
    }
}
