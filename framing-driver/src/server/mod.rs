//! The server: accepts connections and answers each request with a
//! handler, many requests in flight per connection, answered in
//! completion order.
//!
//! - `mod.rs`: the running server's handle, [`Server`];
//! - `serve.rs`: [`Serve`], a server not yet running: awaited (with a
//!   graceful-shutdown signal) or spawned; its accept loop and limits;
//! - `handler.rs`: [`Handler`] and [`MakeHandler`], the closure form;
//! - `tower.rs`: `tower::Service` handlers (feature `tower`);
//! - `conn.rs`: the task that owns one connection;
//! - `stats.rs`: [`ServerStats`].

mod conn;
mod handler;
mod serve;
mod stats;
#[cfg(feature = "tower")]
mod tower;

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;

use crate::event::{Events, Subscribers};
use crate::runtime::{BoxFuture, Runtime, WrapStream};
use crate::Config;
use conn::ServerConn;
pub use handler::{BoxError, ConnectionInfo, FnAnswer, FnHandler, Handler, MakeHandler, Request};
pub use serve::Serve;
use stats::Counters;
pub use stats::ServerStats;
#[cfg(feature = "tower")]
pub use tower::{MakeService, ServiceHandler};

/// State shared by the handle, the accept loop and the connections.
#[derive(Debug)]
pub(crate) struct Shared {
    shutdown: watch::Sender<Option<Instant>>,
    /// Live tasks: the accept loop and the connections.
    tasks: watch::Sender<usize>,
    /// Live connections.
    connections: watch::Sender<usize>,
    pub(crate) events: Subscribers,
    pub(crate) counters: Counters,
}

impl Shared {
    fn new(config: &Config) -> Arc<Self> {
        Arc::new(Shared {
            shutdown: watch::channel(None).0,
            tasks: watch::channel(0).0,
            connections: watch::channel(0).0,
            events: Subscribers::new(config.event_capacity()),
            counters: Counters::default(),
        })
    }

    /// Resolves with the shutdown deadline once a shutdown is requested.
    pub(crate) fn shutdown_requested<R: Runtime>(&self) -> BoxFuture<'static, Instant> {
        let mut rx = self.shutdown.subscribe();
        Box::pin(async move {
            loop {
                if let Some(deadline) = *rx.borrow_and_update() {
                    return deadline;
                }
                if rx.changed().await.is_err() {
                    return R::now();
                }
            }
        })
    }

    /// Asks every connection to shut down by `deadline` (a later request
    /// cannot push an earlier deadline back).
    fn request_shutdown(&self, deadline: Instant) {
        self.shutdown.send_if_modified(|d| match d {
            Some(current) if *current <= deadline => false,
            _ => {
                *d = Some(deadline);
                true
            }
        });
    }

    /// Resolves once no task (accept loop, connection) is left.
    async fn all_done(&self) {
        let mut tasks = self.tasks.subscribe();
        let _ = tasks.wait_for(|n| *n == 0).await;
    }
}

/// Counts a live accept loop or connection while it exists.
#[derive(Debug)]
pub(crate) struct Active {
    shared: Arc<Shared>,
    connection: bool,
}

impl Active {
    /// The accept loop.
    pub(crate) fn task(shared: &Arc<Shared>) -> Self {
        shared.tasks.send_modify(|n| *n += 1);
        Active {
            shared: shared.clone(),
            connection: false,
        }
    }

    /// A connection.
    pub(crate) fn connection(shared: &Arc<Shared>) -> Self {
        shared.tasks.send_modify(|n| *n += 1);
        shared.connections.send_modify(|n| *n += 1);
        Counters::add(&shared.counters.active);
        Active {
            shared: shared.clone(),
            connection: true,
        }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        if self.connection {
            self.shared
                .counters
                .active
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            self.shared.connections.send_modify(|n| *n -= 1);
        }
        self.shared.tasks.send_modify(|n| *n -= 1);
    }
}

/// A running server.
///
/// Dropping the handle stops the server at once (as
/// [`shutdown`](Self::shutdown) with no grace): keep it for as long as the
/// server should run, or [`Serve`] it to the end with `.await` instead.
#[must_use = "dropping the Server stops it"]
pub struct Server<R: Runtime> {
    shared: Arc<Shared>,
    local_addr: Option<SocketAddr>,
    _runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime> std::fmt::Debug for Server<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

impl<R: Runtime> Server<R> {
    /// Serves every connection accepted on `listener` with `handler`, an
    /// async function from request payload to response payload, using the
    /// default [`Config`], in the background.
    pub fn serve<H, F>(listener: R::TcpListener, handler: H) -> Self
    where
        H: Fn(Bytes) -> F + Send + Sync + 'static,
        F: Future<Output = Bytes> + Send + 'static,
    {
        Self::serve_with(listener, Config::default(), handler)
    }

    /// As [`serve`](Self::serve), with settings.
    pub fn serve_with<H, F>(listener: R::TcpListener, config: Config, handler: H) -> Self
    where
        H: Fn(Bytes) -> F + Send + Sync + 'static,
        F: Future<Output = Bytes> + Send + 'static,
    {
        Self::run(listener, config, handler).spawn()
    }

    /// A server with an async closure handler, not yet running: await it
    /// (see [`Serve::with_graceful_shutdown`]) or [`spawn`](Serve::spawn)
    /// it.
    pub fn run<H, F>(listener: R::TcpListener, config: Config, handler: H) -> Serve<R, FnHandler<H>>
    where
        H: Fn(Bytes) -> F + Send + Sync + 'static,
        F: Future<Output = Bytes> + Send + 'static,
    {
        Serve::new(listener, config, FnHandler(Arc::new(handler)))
    }

    /// Serves with a `tower::Service` per connection (feature `tower`),
    /// made by `make` from the connection's [`ConnectionInfo`]: share state
    /// by capturing it, keep per-connection state in what `make` returns.
    /// Tower's layers (timeout, concurrency limit, load shedding, ...)
    /// apply to each connection's service.
    #[cfg(feature = "tower")]
    pub fn serve_service<M, S>(listener: R::TcpListener, config: Config, make: M) -> Self
    where
        M: Fn(&ConnectionInfo) -> S + Send + Sync + 'static,
        S: ::tower::Service<Request, Response = Bytes> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        Self::run_service(listener, config, make).spawn()
    }

    /// As [`serve_service`](Self::serve_service), not yet running.
    #[cfg(feature = "tower")]
    pub fn run_service<M, S>(
        listener: R::TcpListener,
        config: Config,
        make: M,
    ) -> Serve<R, MakeService<M>>
    where
        M: Fn(&ConnectionInfo) -> S + Send + Sync + 'static,
        S: ::tower::Service<Request, Response = Bytes> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        Serve::new(listener, config, MakeService(make))
    }

    /// Serves one connection over any stream of the runtime (Unix socket,
    /// TLS, ...).
    pub fn serve_stream<S, H, F>(stream: S, config: Config, handler: H) -> Self
    where
        R: WrapStream<S>,
        H: Fn(Bytes) -> F + Send + Sync + 'static,
        F: Future<Output = Bytes> + Send + 'static,
    {
        let rt = R::current();
        let shared = Shared::new(&config);
        let info = ConnectionInfo { id: 0, peer: None };
        let handler = FnHandler(Arc::new(handler)).make_handler(&info);
        Counters::add(&shared.counters.accepted);
        let conn = ServerConn::new(
            rt.clone(),
            R::wrap(stream),
            info,
            config,
            handler,
            shared.clone(),
        );
        rt.spawn(conn);
        Server::from_shared(shared, None)
    }

    pub(crate) fn from_shared(shared: Arc<Shared>, local_addr: Option<SocketAddr>) -> Self {
        Server {
            shared,
            local_addr,
            _runtime: PhantomData,
        }
    }

    /// The address the listener is bound to (`None` for
    /// [`serve_stream`](Self::serve_stream)).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Events of every connection, each with its peer's address.
    pub fn events(&self) -> Events {
        self.shared.events.subscribe(None)
    }

    /// The counters: connections, limits, handler failures.
    pub fn stats(&self) -> ServerStats {
        self.shared.counters.snapshot()
    }

    /// Graceful shutdown: stops accepting, stops reading requests, lets
    /// requests in flight be answered for up to `grace`, then closes every
    /// connection. Resolves when all are closed.
    pub async fn shutdown(&self, grace: Duration) {
        self.shared.request_shutdown(R::now() + grace);
        self.shared.all_done().await;
    }
}

impl<R: Runtime> Drop for Server<R> {
    fn drop(&mut self) {
        self.shared.request_shutdown(R::now());
    }
}
