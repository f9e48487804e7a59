//! Exec over a websocket with the `v4.channel.k8s.io` / `v5.channel.k8s.io` subprotocols (kubectl
//! ≥ 1.30, kube-rs `ws`, the Python client): binary messages whose first byte is the channel —
//! 0 stdin, 1 stdout, 2 stderr, 3 error (a JSON Status), 4 resize; v5 adds 255 "close channel"
//! (`[255, 0]` = end of stdin).
//!
//! The simulated command runs once its stdin is complete. v4 cannot say that stdin ended, so over
//! v4 a command that asked for stdin runs with none (clients that send stdin speak v5: kubectl
//! 1.30+ and kube-rs offer it first).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::STDIN_MAX;
use super::stream::Job;

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const CLOSE: u8 = 255;

/// At most this much of one message's payload per frame (clients read any size; this keeps
/// frames modest).
const CHUNK: usize = 32 * 1024;

/// How long to wait for the client to close after the Status was sent.
const LINGER: Duration = Duration::from_secs(5);

pub(crate) async fn run<S>(io: S, v5: bool, job: Job)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
    let mut stdin = Vec::new();
    if job.req.stdin && v5 {
        loop {
            match ws.next().await {
                Some(Ok(Message::Binary(b))) => match b.first() {
                    Some(&STDIN) => {
                        let room = STDIN_MAX.saturating_sub(stdin.len());
                        stdin.extend_from_slice(&b[1..b.len().min(room + 1)]);
                    }
                    Some(&CLOSE) if b.get(1) == Some(&STDIN) => break,
                    _ => {} // resize and unknown channels
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    }
    let (stdout, stderr, status) = job.run(&stdin);
    for (channel, data) in [(STDOUT, stdout), (STDERR, stderr)] {
        for chunk in data.chunks(CHUNK) {
            let mut msg = Vec::with_capacity(chunk.len() + 1);
            msg.push(channel);
            msg.extend_from_slice(chunk);
            if ws.send(Message::binary(msg)).await.is_err() {
                return;
            }
        }
    }
    let mut msg = vec![ERROR];
    msg.extend_from_slice(&status);
    if ws.send(Message::binary(msg)).await.is_err() {
        return;
    }
    // A normal closure (1000) ends every stream cleanly; kubectl reads a close without a code
    // (1005) as an error on the error stream.
    let _ = ws
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }))
        .await;
    let _ =
        tokio::time::timeout(LINGER, async { while let Some(Ok(_)) = ws.next().await {} }).await;
}
