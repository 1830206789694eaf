//! A listener whose connections a handler can reset.
//!
//! hyper owns the socket once a request is being served, so a handler cannot
//! close it directly. Instead each connection carries a shared flag; a
//! handler that wants a reset raises it, and the next write hyper attempts
//! turns `SO_LINGER` to zero and fails, so hyper drops the socket and the
//! kernel sends RST rather than FIN.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Per-connection facts a handler can see and act on.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle(Arc<ConnCtl>);

#[derive(Debug)]
struct ConnCtl {
    peer: SocketAddr,
    reset: AtomicBool,
}

impl ConnHandle {
    pub(crate) fn peer(&self) -> SocketAddr {
        self.0.peer
    }

    /// Makes the connection end with a TCP reset instead of a response.
    pub(crate) fn request_reset(&self) {
        self.0.reset.store(true, Ordering::SeqCst);
    }

    fn reset_requested(&self) -> bool {
        self.0.reset.load(Ordering::SeqCst)
    }
}

pub(crate) struct ConnIo {
    stream: TcpStream,
    handle: ConnHandle,
}

impl ConnIo {
    fn abort(&self) -> io::Error {
        if let Err(e) = self.stream.set_zero_linger() {
            tracing::debug!(error = %e, "cannot set SO_LINGER for an injected reset");
        }
        io::Error::new(io::ErrorKind::ConnectionReset, "injected connection reset")
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.handle.reset_requested() {
            return Poll::Ready(Err(self.abort()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.handle.reset_requested() {
            return Poll::Ready(Err(self.abort()));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.handle.reset_requested() {
            return Poll::Ready(Err(self.abort()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.handle.reset_requested() {
            return Poll::Ready(Err(self.abort()));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

pub(crate) struct EmuListener {
    inner: TcpListener,
}

impl EmuListener {
    pub(crate) fn new(inner: TcpListener) -> Self {
        EmuListener { inner }
    }
}

impl Listener for EmuListener {
    type Io = ConnIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    // Small JSON bodies should not wait for Nagle.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "set_nodelay failed");
                    }
                    let handle = ConnHandle(Arc::new(ConnCtl {
                        peer,
                        reset: AtomicBool::new(false),
                    }));
                    return (ConnIo { stream, handle }, peer);
                }
                Err(e) => {
                    // Accept errors (e.g. too many open files) are transient;
                    // back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl Connected<IncomingStream<'_, EmuListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, EmuListener>) -> Self {
        stream.io().handle.clone()
    }
}
