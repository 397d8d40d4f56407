//! A server not yet running, [`Serve`]: await it to serve until a
//! shutdown signal, or spawn it and keep the [`Server`] handle. Its accept
//! loop keeps the limits and outlives accept errors.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{select, Either};

use super::conn::ServerConn;
use super::handler::{ConnectionInfo, MakeHandler};
use super::stats::Counters;
use super::{Active, Server, Shared};
use crate::runtime::{BoxFuture, Runtime};
use crate::socket::configure;
use crate::Config;

/// Pause after a failed `accept` (e.g. out of file descriptors) before
/// trying again, so the loop does not spin: by then a connection may have
/// closed and freed a descriptor.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// A server that has not started: `.await` it to serve until the
/// [`with_graceful_shutdown`](Self::with_graceful_shutdown) signal (or
/// forever), or [`spawn`](Self::spawn) it in the background.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use framing_driver::{Config, Runtime, Server};
///
/// async fn run<R: Runtime>(listener: R::TcpListener, stop: impl std::future::Future<Output = ()> + Send + 'static) {
///     let config = Config::builder()
///         .shutdown_grace(Duration::from_secs(5))
///         .build()
///         .unwrap();
///     Server::<R>::run(listener, config, |req| async move { req })
///         .with_graceful_shutdown(stop)
///         .await; // answers what is in flight, then resolves
/// }
/// ```
#[must_use = "a server does nothing until it is awaited or spawned"]
pub struct Serve<R: Runtime, M> {
    listener: R::TcpListener,
    config: Config,
    make: Arc<M>,
    signal: Option<BoxFuture<'static, ()>>,
    _runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime, M> std::fmt::Debug for Serve<R, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("local_addr", &R::local_addr(&self.listener).ok())
            .finish_non_exhaustive()
    }
}

impl<R: Runtime, M: MakeHandler> Serve<R, M> {
    /// Serves connections from `listener`, each with a handler from `make`.
    pub fn new(listener: R::TcpListener, config: Config, make: M) -> Self {
        Serve {
            listener,
            config,
            make: Arc::new(make),
            signal: None,
            _runtime: PhantomData,
        }
    }

    /// When `signal` resolves: stop accepting (new connections are
    /// refused), let requests in flight be answered for up to the config's
    /// `shutdown_grace`, close every connection, then resolve.
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.signal = Some(Box::pin(signal));
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        R::local_addr(&self.listener).ok()
    }

    /// Serves in the background; the handle stops the server when dropped.
    pub fn spawn(self) -> Server<R> {
        let local_addr = self.local_addr();
        let shared = Shared::new(&self.config);
        let rt = R::current();
        let active = Active::task(&shared);
        let stop = shared.shutdown_requested::<R>();
        rt.spawn(accept_loop::<R, M>(
            rt.clone(),
            self.listener,
            self.config,
            self.make,
            shared.clone(),
            async move {
                stop.await;
            },
            active,
        ));
        Server::from_shared(shared, local_addr)
    }
}

impl<R: Runtime, M: MakeHandler> IntoFuture for Serve<R, M> {
    type Output = ();
    type IntoFuture = BoxFuture<'static, ()>;

    /// Serves until the shutdown signal, then shuts down gracefully and
    /// resolves once every connection is closed.
    fn into_future(self) -> Self::IntoFuture {
        let shared = Shared::new(&self.config);
        let rt = R::current();
        let grace = self.config.shutdown_grace();
        let signal = self.signal;
        Box::pin(async move {
            let active = Active::task(&shared);
            let stop = {
                let shared = shared.clone();
                async move {
                    match signal {
                        Some(signal) => signal.await,
                        None => std::future::pending().await,
                    }
                    shared.request_shutdown(R::now() + grace);
                }
            };
            accept_loop::<R, M>(
                rt,
                self.listener,
                self.config,
                self.make,
                shared.clone(),
                stop,
                active,
            )
            .await;
            shared.all_done().await;
        })
    }
}

/// Accepts connections until `stop`, within `max_connections`, backing off
/// after errors, and spawns a [`ServerConn`] for each.
async fn accept_loop<R: Runtime, M: MakeHandler>(
    rt: R,
    listener: R::TcpListener,
    config: Config,
    make: Arc<M>,
    shared: Arc<Shared>,
    stop: impl Future<Output = ()> + Send + 'static,
    _active: Active,
) {
    futures_util::pin_mut!(stop);
    let mut next_id = 0u64;
    loop {
        if let Some(max) = config.max_connections() {
            let mut open = shared.connections.subscribe();
            if *open.borrow_and_update() >= max {
                Counters::add(&shared.counters.at_connection_limit);
                let room = Box::pin(async move {
                    let _ = open.wait_for(|n| *n < max).await;
                });
                if let Either::Right(_) = select(room, stop.as_mut()).await {
                    break;
                }
            }
        }
        match select(rt.accept(&listener), stop.as_mut()).await {
            Either::Left((Ok((stream, peer)), _)) => {
                if let Some(Err(e)) = R::socket(&stream).map(|sock| configure(&sock, &config)) {
                    tracing::warn!(%peer, error = %e, "could not set socket options");
                }
                let info = ConnectionInfo {
                    id: next_id,
                    peer: Some(peer),
                };
                next_id += 1;
                Counters::add(&shared.counters.accepted);
                let handler = make.make_handler(&info);
                let conn = ServerConn::new(
                    rt.clone(),
                    stream,
                    info,
                    config.clone(),
                    handler,
                    shared.clone(),
                );
                rt.spawn(conn);
            }
            Either::Left((Err(e), _)) => {
                Counters::add(&shared.counters.accept_errors);
                tracing::warn!(error = %e, "accept failed; backing off");
                let pause = rt.timer(R::now() + ACCEPT_BACKOFF);
                if let Either::Right(_) = select(pause, stop.as_mut()).await {
                    break;
                }
            }
            Either::Right(_) => break,
        }
    }
    // Closed before `_active` (a later parameter, so dropped first) tells
    // `shutdown` that the server is gone: the port is free, and new
    // connections are refused, once it resolves.
    drop(listener);
}
