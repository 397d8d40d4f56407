//! [`Runtime`] for async-std: its task spawner and `async_std::net` TCP,
//! with the async-io timers async-std itself runs on.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use async_std::net::{TcpListener, TcpStream};
use framing_driver::runtime::{AsyncIoTimer, BoxFuture, Io, Runtime, WrapStream};

/// The async-std runtime, as the driver sees it: tasks go to
/// `async_std::task::spawn`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl Runtime for AsyncStd {
    type TcpStream = TcpStream;
    type TcpListener = TcpListener;
    type Timer = AsyncIoTimer;

    fn current() -> Self {
        AsyncStd
    }

    fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        // Dropping the handle detaches the task.
        drop(async_std::task::spawn(fut));
    }

    fn timer(&self, deadline: Instant) -> AsyncIoTimer {
        AsyncIoTimer::at(deadline)
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<TcpStream>> {
        Box::pin(TcpStream::connect(addr))
    }

    fn accept<'a>(
        &self,
        listener: &'a TcpListener,
    ) -> BoxFuture<'a, io::Result<(TcpStream, SocketAddr)>> {
        Box::pin(listener.accept())
    }

    fn local_addr(listener: &TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    fn socket(stream: &TcpStream) -> socket2::SockRef<'_> {
        socket2::SockRef::from(stream)
    }
}

/// Any futures-io stream (async-std's Unix sockets, TLS streams, ...) is
/// used as it is.
impl<S: Io> WrapStream<S> for AsyncStd {
    type Wrapped = S;
    fn wrap(stream: S) -> S {
        stream
    }
}
