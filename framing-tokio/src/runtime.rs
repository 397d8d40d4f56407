//! [`Runtime`] for tokio: spawn on the current handle, tokio timers and
//! TCP, and a thin bridge from tokio's I/O traits to futures-io.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use framing_driver::runtime::{BoxFuture, Runtime, Timer, WrapStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The tokio runtime, as the driver sees it: a handle to the runtime the
/// client or server was created in.
#[derive(Debug, Clone)]
pub struct Tokio(tokio::runtime::Handle);

/// A tokio stream seen through the futures-io traits.
#[derive(Debug)]
pub struct TokioIo<S>(pub S);

impl<S: AsyncRead + Unpin> futures_io::AsyncRead for TokioIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        match Pin::new(&mut self.0).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> futures_io::AsyncWrite for TokioIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A resettable tokio sleep.
#[derive(Debug)]
pub struct TokioTimer(Pin<Box<tokio::time::Sleep>>);

impl Future for TokioTimer {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Timer for TokioTimer {
    fn reset(&mut self, deadline: Instant) {
        self.0.as_mut().reset(deadline.into());
    }
}

impl Runtime for Tokio {
    type TcpStream = TokioIo<tokio::net::TcpStream>;
    type TcpListener = tokio::net::TcpListener;
    type Timer = TokioTimer;

    /// # Panics
    /// Outside a tokio runtime.
    fn current() -> Self {
        Tokio(tokio::runtime::Handle::current())
    }

    /// tokio's clock: the system's monotonic clock, or a paused clock
    /// under `tokio::time::pause` and simulators built on it (turmoil).
    fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.0.spawn(fut);
    }

    fn timer(&self, deadline: Instant) -> TokioTimer {
        let _in_runtime = self.0.enter();
        TokioTimer(Box::pin(tokio::time::sleep_until(deadline.into())))
    }

    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect())
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Self::TcpStream>> {
        Box::pin(async move { tokio::net::TcpStream::connect(addr).await.map(TokioIo) })
    }

    fn accept<'a>(
        &self,
        listener: &'a Self::TcpListener,
    ) -> BoxFuture<'a, io::Result<(Self::TcpStream, SocketAddr)>> {
        Box::pin(async move {
            let (s, peer) = listener.accept().await?;
            Ok((TokioIo(s), peer))
        })
    }

    fn local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    fn socket(stream: &Self::TcpStream) -> Option<socket2::SockRef<'_>> {
        Some(socket2::SockRef::from(&stream.0))
    }
}

impl<S> WrapStream<S> for Tokio
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Wrapped = TokioIo<S>;
    fn wrap(stream: S) -> TokioIo<S> {
        TokioIo(stream)
    }
}
