//! A TCP listener whose connections can all be cut at once: "the apiserver went down" must break
//! open watch streams and idle keep-alive connections, not just stop accepting new ones.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Resolves once the kill switch is set (or its sender is gone).
pub type KillFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A future that completes when `kill` becomes true.
pub fn kill_future(kill: &watch::Sender<bool>) -> KillFuture {
    let mut rx = kill.subscribe();
    Box::pin(async move {
        let _ = rx.wait_for(|killed| *killed).await;
    })
}

/// Accepts connections wrapped in [`KillableIo`], over TLS when `tls` is set.
pub struct KillableListener {
    pub inner: TcpListener,
    pub kill: watch::Sender<bool>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// How long a client may take over its TLS handshake before the listener moves on.
const HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);

impl axum::serve::Listener for KillableListener {
    type Io = KillableIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((io, addr)) => {
                    let _ = io.set_nodelay(true);
                    let io = match &self.tls {
                        None => Stream::Plain(io),
                        Some(tls) => match tokio::time::timeout(HANDSHAKE, tls.accept(io)).await {
                            Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "sim apiserver TLS handshake failed");
                                continue;
                            }
                            Err(_) => {
                                tracing::debug!("sim apiserver TLS handshake timed out");
                                continue;
                            }
                        },
                    };
                    self.accepted
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return (
                        KillableIo {
                            io,
                            kill: kill_future(&self.kill),
                            killed: false,
                        },
                        addr,
                    );
                }
                // Out of file descriptors and the like: back off briefly instead of spinning.
                Err(e) => {
                    tracing::warn!(error = %e, "sim apiserver accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection as accepted: plain, or TLS over it.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// A stream that fails every read and write once the kill switch is set.
pub struct KillableIo {
    io: Stream,
    kill: KillFuture,
    killed: bool,
}

impl KillableIo {
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if !self.killed && self.kill.as_mut().poll(cx).is_ready() {
            self.killed = true;
        }
        if self.killed {
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "simulated apiserver down",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Stream::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Stream::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(io) => Pin::new(io).poll_flush(cx),
            Stream::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Stream::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for KillableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Err(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Err(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Bind 127.0.0.1:`port` (0 = any) with SO_REUSEADDR so a restart can take the same port back.
pub fn bind(port: u16) -> io::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(1024)
}
