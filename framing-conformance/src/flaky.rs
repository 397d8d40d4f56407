//! A runtime whose `accept` fails on demand: [`FlakyAccept`] delegates
//! everything to the runtime under test, but its listener,
//! [`FlakyListener`], fails its first `n` accepts with `EMFILE` ("too many
//! open files"), as a server out of file descriptors sees.
//!
//! The failure count lives in the listener, not in the runtime value
//! ([`Runtime::current`] makes a fresh one wherever the driver asks), so
//! each test's server fails exactly as often as that test asked, whatever
//! other tests run at the same time.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use framing_driver::runtime::BoxFuture;
use framing_driver::Runtime;

/// `EMFILE` on Linux and macOS: the process has no file descriptor left
/// for the accepted connection.
const EMFILE: i32 = 24;

/// The runtime `R`, but accepting through a [`FlakyListener`].
#[derive(Debug, Clone)]
pub struct FlakyAccept<R>(R);

/// A listener of `R` whose first accepts fail with `EMFILE`.
#[derive(Debug)]
pub struct FlakyListener<L> {
    inner: L,
    failures_left: Arc<AtomicUsize>,
}

impl<L> FlakyListener<L> {
    /// Wraps `inner`: its first `failures` accepts fail.
    pub fn new(inner: L, failures: usize) -> Self {
        FlakyListener {
            inner,
            failures_left: Arc::new(AtomicUsize::new(failures)),
        }
    }

    /// How many failures are still to come, readable after the listener
    /// has moved into a server.
    pub fn failures_left(&self) -> Arc<AtomicUsize> {
        self.failures_left.clone()
    }

    /// Takes one failure, if any is left.
    fn take_failure(&self) -> bool {
        self.failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

impl<R: Runtime> Runtime for FlakyAccept<R> {
    type TcpStream = R::TcpStream;
    type TcpListener = FlakyListener<R::TcpListener>;
    type Timer = R::Timer;

    fn current() -> Self {
        FlakyAccept(R::current())
    }

    fn now() -> Instant {
        R::now()
    }

    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        self.0.spawn(fut);
    }

    fn timer(&self, deadline: Instant) -> R::Timer {
        self.0.timer(deadline)
    }

    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        self.0.resolve(host, port)
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<R::TcpStream>> {
        self.0.connect(addr)
    }

    /// Fails with `EMFILE` while the listener has failures left, then
    /// accepts as `R` does.
    fn accept<'a>(
        &self,
        listener: &'a FlakyListener<R::TcpListener>,
    ) -> BoxFuture<'a, io::Result<(R::TcpStream, SocketAddr)>> {
        if listener.take_failure() {
            return Box::pin(std::future::ready(Err(io::Error::from_raw_os_error(
                EMFILE,
            ))));
        }
        self.0.accept(&listener.inner)
    }

    fn local_addr(listener: &FlakyListener<R::TcpListener>) -> io::Result<SocketAddr> {
        R::local_addr(&listener.inner)
    }

    fn socket(stream: &R::TcpStream) -> Option<framing_driver::socket2::SockRef<'_>> {
        R::socket(stream)
    }
}
