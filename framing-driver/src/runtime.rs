//! The runtime seam: what the driver needs from an async runtime.
//!
//! An adapter crate implements [`Runtime`] (spawn, a resettable timer, TCP
//! connect and accept) and [`WrapStream`] for the streams of its runtime;
//! everything else (framing, matching, timers, watermarks) is shared.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Instant;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The byte streams the driver reads and writes (futures-io traits, as
/// smol and async-std use; tokio streams are wrapped by its adapter).
pub trait Io: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static {}

impl<S> Io for S where S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + Send + 'static {}

/// A timer that can be moved to a new deadline without reallocating.
pub trait Timer: Future<Output = ()> + Unpin + Send + 'static {
    /// Fire at `deadline` instead.
    fn reset(&mut self, deadline: Instant);
}

/// What the driver needs from an async runtime.
pub trait Runtime: Clone + Send + Sync + Unpin + 'static {
    /// The runtime's TCP stream, as an [`Io`].
    type TcpStream: Io;
    /// The runtime's TCP listener.
    type TcpListener: Send + Sync + 'static;
    /// The runtime's timer.
    type Timer: Timer;

    /// The runtime for the current context (e.g. the current tokio handle).
    fn current() -> Self;

    /// The runtime's clock, read in the runtime's context: every instant
    /// the driver hands the core and the timer comes from here, never from
    /// `Instant::now()` directly, so that a simulated runtime (tokio's
    /// paused clock, turmoil) can drive time.
    fn now() -> Instant;

    /// Runs a future in the background.
    fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static);

    /// A timer firing at `deadline`.
    fn timer(&self, deadline: Instant) -> Self::Timer;

    /// Resolves a host name to addresses, without blocking the runtime.
    fn resolve(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>>;

    /// Opens a TCP connection (no timeout: the driver adds it).
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'static, io::Result<Self::TcpStream>>;

    /// Accepts one connection.
    fn accept<'a>(
        &self,
        listener: &'a Self::TcpListener,
    ) -> BoxFuture<'a, io::Result<(Self::TcpStream, SocketAddr)>>;

    /// The listener's address.
    fn local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr>;

    /// Socket options access for a TCP stream, `None` when it is not a
    /// real socket (a simulated network): options are then left alone.
    fn socket(stream: &Self::TcpStream) -> Option<socket2::SockRef<'_>>;
}

/// Turns a stream of the runtime into an [`Io`]: tokio streams get a thin
/// wrapper, futures-io streams pass through.
pub trait WrapStream<S> {
    /// The wrapped stream.
    type Wrapped: Io;
    /// Wraps `stream`.
    fn wrap(stream: S) -> Self::Wrapped;
}

/// Implements [`Runtime`] and [`WrapStream`] for a runtime built on
/// async-io (feature `async-io`): smol and async-std share this one
/// implementation and differ only in their TCP types and how they spawn.
/// framing-smol's whole runtime is this call (compiled there, not here,
/// as the driver does not depend on smol):
///
/// ```text
/// framing_driver::async_io_runtime! {
///     /// The smol runtime.
///     Smol, smol::net::TcpStream, smol::net::TcpListener,
///     spawn: |fut| smol::spawn(fut).detach(),
///     resolve: |host, port| smol::net::resolve((host.as_str(), port)).await,
/// }
/// ```
#[cfg(feature = "async-io")]
#[macro_export]
macro_rules! async_io_runtime {
    (
        $(#[$doc:meta])* $name:ident, $stream:ty, $listener:ty,
        spawn: |$fut:ident| $spawn:expr,
        resolve: |$host:ident, $port:ident| $resolve:expr $(,)?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl $crate::runtime::Runtime for $name {
            type TcpStream = $stream;
            type TcpListener = $listener;
            type Timer = $crate::runtime::AsyncIoTimer;

            fn current() -> Self {
                $name
            }

            fn now() -> ::std::time::Instant {
                ::std::time::Instant::now()
            }

            fn spawn(&self, $fut: impl ::std::future::Future<Output = ()> + Send + 'static) {
                $spawn;
            }

            fn resolve(
                &self,
                $host: String,
                $port: u16,
            ) -> $crate::runtime::BoxFuture<'static, ::std::io::Result<Vec<::std::net::SocketAddr>>>
            {
                Box::pin(async move { $resolve })
            }

            fn timer(&self, deadline: ::std::time::Instant) -> $crate::runtime::AsyncIoTimer {
                $crate::runtime::AsyncIoTimer::at(deadline)
            }

            fn connect(
                &self,
                addr: ::std::net::SocketAddr,
            ) -> $crate::runtime::BoxFuture<'static, ::std::io::Result<$stream>> {
                Box::pin(<$stream>::connect(addr))
            }

            fn accept<'a>(
                &self,
                listener: &'a $listener,
            ) -> $crate::runtime::BoxFuture<'a, ::std::io::Result<($stream, ::std::net::SocketAddr)>>
            {
                Box::pin(listener.accept())
            }

            fn local_addr(listener: &$listener) -> ::std::io::Result<::std::net::SocketAddr> {
                listener.local_addr()
            }

            fn socket(stream: &$stream) -> Option<$crate::socket2::SockRef<'_>> {
                Some($crate::socket2::SockRef::from(stream))
            }
        }

        /// Any futures-io stream (Unix sockets, TLS streams, ...) is used as
        /// it is.
        impl<S: $crate::runtime::Io> $crate::runtime::WrapStream<S> for $name {
            type Wrapped = S;
            fn wrap(stream: S) -> S {
                stream
            }
        }
    };
}

/// [`Timer`] on async-io's reactor (feature `async-io`), shared by the smol
/// and async-std runtimes.
#[cfg(feature = "async-io")]
#[derive(Debug)]
pub struct AsyncIoTimer(async_io::Timer);

#[cfg(feature = "async-io")]
impl AsyncIoTimer {
    /// A timer firing at `deadline`.
    pub fn at(deadline: Instant) -> Self {
        AsyncIoTimer(async_io::Timer::at(deadline))
    }
}

#[cfg(feature = "async-io")]
impl Future for AsyncIoTimer {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

#[cfg(feature = "async-io")]
impl Timer for AsyncIoTimer {
    fn reset(&mut self, deadline: Instant) {
        self.0.set_at(deadline);
    }
}
