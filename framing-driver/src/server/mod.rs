//! The server: accepts connections and answers each request with an async
//! handler, many requests in flight per connection, answered in
//! completion order.

mod conn;

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::{select, Either};
use tokio::sync::watch;

use crate::event::{Events, Subscribers};
use crate::runtime::{BoxFuture, Runtime, WrapStream};
use crate::socket::configure;
use crate::Config;
use conn::ServerConn;

/// Pause after a failed `accept` (e.g. out of file descriptors) before
/// trying again, so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// State shared by the handle, the accept loop and the connections.
#[derive(Debug)]
pub(crate) struct Shared {
    shutdown: watch::Sender<Option<Instant>>,
    active: watch::Sender<usize>,
    pub(crate) events: Subscribers,
}

impl Shared {
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

    fn request_shutdown(&self, deadline: Instant) {
        self.shutdown.send_if_modified(|d| match d {
            Some(current) if *current <= deadline => false,
            _ => {
                *d = Some(deadline);
                true
            }
        });
    }
}

/// Counts a live accept loop or connection while it exists.
#[derive(Debug)]
pub(crate) struct Active(Arc<Shared>);

impl Active {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        shared.active.send_modify(|n| *n += 1);
        Active(shared.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.send_modify(|n| *n -= 1);
    }
}

/// A running server. Dropping the handle stops it at once (as
/// [`shutdown`](Self::shutdown) with no grace); keep it for as long as the
/// server should run.
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
    /// default [`Config`].
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
        let rt = R::current();
        let local_addr = R::local_addr(&listener).ok();
        let shared = Self::shared(&config);
        let active = Active::new(&shared);
        rt.spawn(accept_loop(
            rt.clone(),
            listener,
            config,
            Arc::new(handler),
            shared.clone(),
            active,
        ));
        Server {
            shared,
            local_addr,
            _runtime: PhantomData,
        }
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
        let shared = Self::shared(&config);
        let conn = ServerConn::new(
            rt.clone(),
            R::wrap(stream),
            None,
            config,
            Arc::new(handler),
            shared.clone(),
        );
        rt.spawn(conn);
        Server {
            shared,
            local_addr: None,
            _runtime: PhantomData,
        }
    }

    fn shared(config: &Config) -> Arc<Shared> {
        Arc::new(Shared {
            shutdown: watch::channel(None).0,
            active: watch::channel(0).0,
            events: Subscribers::new(config.event_capacity()),
        })
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

    /// Graceful shutdown: stops accepting, stops reading requests, lets
    /// requests in flight be answered for up to `grace`, then closes every
    /// connection. Resolves when all are closed.
    pub async fn shutdown(&self, grace: Duration) {
        self.shared.request_shutdown(R::now() + grace);
        let mut active = self.shared.active.subscribe();
        let _ = active.wait_for(|n| *n == 0).await;
    }
}

impl<R: Runtime> Drop for Server<R> {
    fn drop(&mut self) {
        self.shared.request_shutdown(R::now());
    }
}

async fn accept_loop<R, H, F>(
    rt: R,
    listener: R::TcpListener,
    config: Config,
    handler: Arc<H>,
    shared: Arc<Shared>,
    _active: Active,
) where
    R: Runtime,
    H: Fn(Bytes) -> F + Send + Sync + 'static,
    F: Future<Output = Bytes> + Send + 'static,
{
    let mut shutdown = shared.shutdown_requested::<R>();
    loop {
        match select(rt.accept(&listener), shutdown.as_mut()).await {
            Either::Left((Ok((stream, peer)), _)) => {
                if let Some(Err(e)) = R::socket(&stream).map(|sock| configure(&sock, &config)) {
                    tracing::warn!(%peer, error = %e, "could not set socket options");
                }
                let conn = ServerConn::new(
                    rt.clone(),
                    stream,
                    Some(peer),
                    config.clone(),
                    handler.clone(),
                    shared.clone(),
                );
                rt.spawn(conn);
            }
            Either::Left((Err(e), _)) => {
                tracing::warn!(error = %e, "accept failed");
                rt.timer(R::now() + ACCEPT_BACKOFF).await;
            }
            Either::Right(_) => break,
        }
    }
}
