//! A runtime that keeps a second handle on every TCP socket it connects
//! or accepts, so that a test can read the options the driver set on the
//! very socket the driver uses.
//!
//! The driver keeps its sockets to itself: a client's socket lives inside
//! its driver task, a server's accepted sockets inside its connections.
//! Both come from the [`Runtime`] (`connect` and `accept`), and the driver
//! configures them (TCP_NODELAY, keepalive) through [`Runtime::socket`]
//! right after. [`Spy`] wraps the runtime under test, delegates every
//! call to it, and keeps a duplicate of each new socket's descriptor
//! (`dup`: the same kernel socket, so `getsockopt` on it reads what the
//! driver set). Nothing else changes: the driver runs its own code on the
//! runtime's own streams.
//!
//! A kept duplicate holds its connection open: a test takes it with
//! [`take_client_socket`] or [`take_server_socket`] and drops it as soon
//! as it has read the options.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use framing_driver::runtime::{BoxFuture, Runtime};
use socket2::{SockRef, Socket};

/// Every socket kept, from every test running at the time; each test
/// finds its own by address.
static KEPT: Mutex<Vec<Socket>> = Mutex::new(Vec::new());

/// The runtime `R`, keeping a duplicate of every TCP socket it connects
/// or accepts.
#[derive(Debug, Clone)]
pub(crate) struct Spy<R>(R);

/// Keeps a duplicate of `stream`'s socket, if it is a real socket.
fn keep<R: Runtime>(stream: &R::TcpStream) {
    if let Some(Ok(dup)) = R::socket(stream).map(|sock| sock.try_clone()) {
        KEPT.lock().unwrap_or_else(|e| e.into_inner()).push(dup);
    }
}

/// Takes the kept socket matching `is_it`.
fn take(is_it: impl Fn(&Socket) -> bool) -> Option<Socket> {
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    let i = kept.iter().position(is_it)?;
    Some(kept.swap_remove(i))
}

/// The address of one end of `sock`, if it is an inet socket.
fn inet(addr: io::Result<socket2::SockAddr>) -> Option<SocketAddr> {
    addr.ok()?.as_socket()
}

/// Takes the kept socket of a client connected to `server`.
pub(crate) fn take_client_socket(server: SocketAddr) -> Option<Socket> {
    take(|s| inet(s.peer_addr()) == Some(server))
}

/// Takes the kept socket the server listening on `server` accepted.
pub(crate) fn take_server_socket(server: SocketAddr) -> Option<Socket> {
    take(|s| inet(s.local_addr()) == Some(server))
}

impl<R: Runtime> Runtime for Spy<R> {
    type TcpStream = R::TcpStream;
    type TcpListener = R::TcpListener;
    type Timer = R::Timer;

    fn current() -> Self {
        Spy(R::current())
    }

    fn now() -> Instant {
        R::now()
    }

    fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.0.spawn(fut);
    }

    fn timer(&self, deadline: Instant) -> R::Timer {
        self.0.timer(deadline)
    }

    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        self.0.resolve(host, port)
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<R::TcpStream>> {
        let connecting = self.0.connect(addr);
        Box::pin(async move {
            let stream = connecting.await?;
            keep::<R>(&stream);
            Ok(stream)
        })
    }

    fn accept<'a>(
        &self,
        listener: &'a R::TcpListener,
    ) -> BoxFuture<'a, io::Result<(R::TcpStream, SocketAddr)>> {
        let accepting = self.0.accept(listener);
        Box::pin(async move {
            let (stream, peer) = accepting.await?;
            keep::<R>(&stream);
            Ok((stream, peer))
        })
    }

    fn local_addr(listener: &R::TcpListener) -> io::Result<SocketAddr> {
        R::local_addr(listener)
    }

    fn socket(stream: &R::TcpStream) -> Option<SockRef<'_>> {
        R::socket(stream)
    }
}
