//! The driver's [`Runtime`] on turmoil's simulated network.
//!
//! Each turmoil host runs its own current-thread tokio runtime whose clock
//! is paused and moved by the simulation, so everything that is tokio's
//! (the clock, timers, spawn) is taken as it is from [`Tokio`]; only the
//! network is turmoil's: TCP streams and listeners, and its DNS.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use framing_driver::runtime::{BoxFuture, Runtime};
use framing_tokio::{Tokio, TokioIo, TokioTimer};

/// tokio inside a turmoil host.
#[derive(Debug, Clone)]
pub(crate) struct Sim(Tokio);

/// A simulated TCP stream, through the futures-io traits.
pub(crate) type SimStream = TokioIo<turmoil::net::TcpStream>;

impl Runtime for Sim {
    type TcpStream = SimStream;
    type TcpListener = turmoil::net::TcpListener;
    type Timer = TokioTimer;

    fn current() -> Self {
        Sim(Tokio::current())
    }

    /// The host's paused tokio clock, which the simulation moves.
    fn now() -> Instant {
        Tokio::now()
    }

    fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.0.spawn(fut);
    }

    fn timer(&self, deadline: Instant) -> TokioTimer {
        self.0.timer(deadline)
    }

    /// turmoil's DNS: host names given to `Sim::host`/`Sim::client`.
    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        Box::pin(async move {
            Ok(turmoil::net::lookup_host((host.as_str(), port))
                .await?
                .collect())
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<SimStream>> {
        Box::pin(async move { turmoil::net::TcpStream::connect(addr).await.map(TokioIo) })
    }

    fn accept<'a>(
        &self,
        listener: &'a turmoil::net::TcpListener,
    ) -> BoxFuture<'a, io::Result<(SimStream, SocketAddr)>> {
        Box::pin(async move {
            let (stream, peer) = listener.accept().await?;
            Ok((TokioIo(stream), peer))
        })
    }

    fn local_addr(listener: &turmoil::net::TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    /// A simulated stream has no socket: TCP_NODELAY and keepalive are
    /// left alone (turmoil models neither).
    fn socket(_: &SimStream) -> Option<framing_driver::socket2::SockRef<'_>> {
        None
    }
}
