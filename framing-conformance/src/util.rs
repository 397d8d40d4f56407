//! Helpers the suite shares: bounded waits, an echo server, connecting.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use framing_driver::{Bytes, Client, Config, ConnectionEvent, EventKind, Events, Runtime, Server};
use futures_util::future::{select, Either};

use crate::TestRuntime;

/// How long a test waits for one thing (an event, a response, a peer)
/// before failing with a message saying what it waited for.
pub const WAIT: Duration = Duration::from_secs(10);

/// Sleeps on the runtime's timer. Only for creating a stall (a slow
/// handler) or a quiet period, never to wait for something to happen.
pub async fn sleep<R: Runtime>(d: Duration) {
    R::current().timer(R::now() + d).await;
}

/// Awaits `fut` for at most `limit`.
///
/// # Panics
/// After `limit`, naming `what` was awaited.
pub async fn within<R: Runtime, F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    let timer = R::current().timer(R::now() + limit);
    futures_util::pin_mut!(fut);
    match select(fut, timer).await {
        Either::Left((out, _)) => out,
        Either::Right(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Waits until `cond` holds, checking every millisecond, for at most
/// [`WAIT`]: for state the driver publishes after a command that has no
/// reply (a dropped call's cancel).
///
/// # Panics
/// On timeout, naming `what` was awaited.
pub async fn eventually<R: Runtime>(what: &str, mut cond: impl FnMut() -> bool) {
    within::<R, _>(WAIT, what, async {
        while !cond() {
            sleep::<R>(Duration::from_millis(1)).await;
        }
    })
    .await;
}

/// The next event of `events`, within [`WAIT`].
///
/// # Panics
/// On timeout, or when the stream ends first.
pub async fn next_event<R: Runtime>(events: &mut Events, what: &str) -> ConnectionEvent {
    match within::<R, _>(WAIT, what, events.recv()).await {
        Some(ev) => ev,
        None => panic!("the event stream ended while waiting for {what}"),
    }
}

/// Checks that no event arrives during `quiet` (the stream may end).
///
/// # Panics
/// When an event arrives, naming it.
pub async fn expect_no_event<R: Runtime>(events: &mut Events, quiet: Duration, why: &str) {
    let timer = R::current().timer(R::now() + quiet);
    let recv = events.recv();
    futures_util::pin_mut!(recv);
    if let Either::Left((Some(ev), _)) = select(recv, timer).await {
        panic!("unexpected event {ev:?}: {why}");
    }
}

/// Every event until the stream ends (the connection is gone), within
/// [`WAIT`].
///
/// # Panics
/// When the stream does not end in time.
pub async fn events_until_end<R: Runtime>(events: &mut Events) -> Vec<EventKind> {
    within::<R, _>(WAIT, "the event stream to end", async {
        let mut all = Vec::new();
        while let Some(ev) = events.recv().await {
            all.push(ev.kind);
        }
        all
    })
    .await
}

/// A framing server on `127.0.0.1:0` answering each request with its
/// payload.
///
/// # Panics
/// When binding fails.
pub fn echo_server<R: TestRuntime>() -> (Server<R>, SocketAddr) {
    serve::<R, _, _>(Config::default(), |req: Bytes| async move { req })
}

/// A framing server on `127.0.0.1:0` with this config and handler.
///
/// # Panics
/// When binding fails.
pub fn serve<R, H, F>(config: Config, handler: H) -> (Server<R>, SocketAddr)
where
    R: TestRuntime,
    H: Fn(Bytes) -> F + Send + Sync + 'static,
    F: Future<Output = Bytes> + Send + 'static,
{
    let listener = R::bind_loopback().expect("binding 127.0.0.1:0");
    let server = Server::<R>::serve_with(listener, config, handler);
    let addr = server
        .local_addr()
        .expect("a server on a TCP listener knows its address");
    (server, addr)
}

/// Connects with the default config.
///
/// # Panics
/// When connecting fails or takes longer than [`WAIT`].
pub async fn connect<R: Runtime>(addr: SocketAddr) -> Client<R> {
    connect_with(addr, Config::default()).await
}

/// Connects with `config`.
///
/// # Panics
/// When connecting fails or takes longer than [`WAIT`].
pub async fn connect_with<R: Runtime>(addr: SocketAddr, config: Config) -> Client<R> {
    within::<R, _>(WAIT, "connect", Client::<R>::connect_with(addr, config))
        .await
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"))
}

/// A config with these core settings.
///
/// # Panics
/// When the core settings are invalid.
pub fn config(core: framing_core::ConfigBuilder) -> Config {
    Config::builder()
        .core(core.build().expect("a valid core config"))
        .build()
        .expect("a valid config")
}
