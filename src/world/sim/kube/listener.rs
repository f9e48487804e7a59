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

/// Accepts connections wrapped in [`KillableIo`].
pub struct KillableListener {
    pub inner: TcpListener,
    pub kill: watch::Sender<bool>,
}

impl axum::serve::Listener for KillableListener {
    type Io = KillableIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((io, addr)) => {
                    let _ = io.set_nodelay(true);
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

/// A TCP stream that fails every read and write once the kill switch is set.
pub struct KillableIo {
    io: TcpStream,
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
