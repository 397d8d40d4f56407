//! [`Runtime`] for smol: its global executor, async-io timers and
//! `smol::net` TCP, all on the futures-io traits the driver speaks.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use framing_driver::runtime::{AsyncIoTimer, BoxFuture, Io, Runtime, WrapStream};
use smol::net::{TcpListener, TcpStream};

/// The smol runtime, as the driver sees it: tasks go to smol's global
/// executor (`smol::spawn`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

impl Runtime for Smol {
    type TcpStream = TcpStream;
    type TcpListener = TcpListener;
    type Timer = AsyncIoTimer;

    fn current() -> Self {
        Smol
    }

    fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(fut).detach();
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

/// Any futures-io stream (smol's Unix sockets, TLS streams, ...) is used
/// as it is.
impl<S: Io> WrapStream<S> for Smol {
    type Wrapped = S;
    fn wrap(stream: S) -> S {
        stream
    }
}
