//! The server's programming model (SPEC §10): `tower::Service` handlers
//! with tower's layers in front, state per connection, and handlers that
//! panic or never finish failing only their own request.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use framing_driver::{
    BoxError, Bytes, CallError, CallOptions, Client, Config, ConnectionInfo, Request, Server,
};
use futures_util::future::{join, join_all};
use tower::limit::ConcurrencyLimitLayer;
use tower::timeout::TimeoutLayer;
use tower::{service_fn, Service, ServiceBuilder};

use crate::util::{connect, eventually, serve, sleep, within, WAIT};
use crate::TestRuntime;

/// How long the handler of the concurrency tests works on one request:
/// long enough for every request of a batch to arrive meanwhile.
const HANDLER_DELAY: Duration = Duration::from_millis(50);

/// Requests sent at once in the concurrency tests.
const BATCH: usize = 20;

/// Requests of the panic tests: every tenth of them panics.
const PANIC_REQUESTS: u32 = 30;

/// A server on `127.0.0.1:0` answering with a `tower::Service` that `make`
/// builds for each connection.
fn serve_service<R, M, S>(config: Config, make: M) -> (Server<R>, SocketAddr)
where
    R: TestRuntime,
    M: Fn(&ConnectionInfo) -> S + Send + Sync + 'static,
    S: Service<Request, Response = Bytes> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    let listener = R::bind_loopback().expect("binding 127.0.0.1:0");
    let server = Server::<R>::serve_service(listener, config, make);
    let addr = server
        .local_addr()
        .expect("a server on a TCP listener knows its address");
    (server, addr)
}

/// Counts the handler calls running now and the most ever at once.
#[derive(Debug, Default)]
struct Gauge {
    now: AtomicUsize,
    high: AtomicUsize,
}

/// One running handler call: counted from [`Gauge::enter`] until dropped.
struct Running(Arc<Gauge>);

impl Gauge {
    fn enter(self: &Arc<Self>) -> Running {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.high.fetch_max(now, Ordering::SeqCst);
        Running(self.clone())
    }

    fn high_water(&self) -> usize {
        self.high.load(Ordering::SeqCst)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An echo service that takes [`HANDLER_DELAY`] per request and counts
/// its calls running at once on `gauge`.
fn slow_echo<R: TestRuntime>(
    gauge: Arc<Gauge>,
) -> impl Service<Request, Response = Bytes, Error = BoxError, Future: Send> + Send + 'static {
    service_fn(move |req: Request| {
        let gauge = gauge.clone();
        async move {
            let _running = gauge.enter();
            sleep::<R>(HANDLER_DELAY).await;
            Ok::<_, BoxError>(req.payload)
        }
    })
}

/// Sends [`BATCH`] calls at once on one connection and checks each is
/// answered with its own payload.
async fn send_batch<R: TestRuntime>(addr: SocketAddr) {
    let client = connect::<R>(addr).await;
    let calls: Vec<_> = (0..BATCH)
        .map(|i| client.call(format!("req {i}")))
        .collect();
    let answers = within::<R, _>(WAIT, "every answer of the batch", join_all(calls)).await;
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer, Ok(Bytes::from(format!("req {i}"))), "call {i}");
    }
}

/// A `tower::Service` handler behind `ConcurrencyLimitLayer::new(2)`: of
/// twenty requests in flight on one connection, never more than two reach
/// the handler at once (while the same handler without the layer runs
/// more than two at once), and every request is answered.
pub async fn a_concurrency_limit_layer_keeps_two_handler_calls_running_at_most_and_answers_all<
    R: TestRuntime,
>() {
    let unlimited = Arc::new(Gauge::default());
    let gauge = unlimited.clone();
    let (_server, addr) = serve_service::<R, _, _>(Config::default(), move |_: &ConnectionInfo| {
        slow_echo::<R>(gauge.clone())
    });
    send_batch::<R>(addr).await;
    assert!(
        unlimited.high_water() > 2,
        "without the layer the handler must run more than 2 calls at once \
         (or the test proves nothing), ran {}",
        unlimited.high_water()
    );

    let limited = Arc::new(Gauge::default());
    let gauge = limited.clone();
    let (_server, addr) = serve_service::<R, _, _>(Config::default(), move |_: &ConnectionInfo| {
        ServiceBuilder::new()
            .layer(ConcurrencyLimitLayer::new(2))
            .service(slow_echo::<R>(gauge.clone()))
    });
    send_batch::<R>(addr).await;
    assert_eq!(
        limited.high_water(),
        2,
        "the layer lets 2 calls run at once, never more"
    );
}

/// The tokio runtime whose timers `tower::timeout` uses: the current one
/// on tokio, a background one on the other runtimes (tower's timeout
/// sleeps on tokio's timer whatever runtime polls it).
fn tokio_timers() -> tokio::runtime::Handle {
    static BACKGROUND: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    tokio::runtime::Handle::try_current().unwrap_or_else(|_| {
        BACKGROUND
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("tokio timers")
                    .enable_time()
                    .build()
                    .expect("building a tokio runtime for tower's timers")
            })
            .handle()
            .clone()
    })
}

/// Calls `S` inside a tokio runtime's context, so that the timers `S`
/// makes (tower's timeout) find tokio's timer on any runtime.
#[derive(Debug, Clone)]
struct InTokio<S> {
    inner: S,
    tokio: tokio::runtime::Handle,
}

impl<S: Service<Request>> Service<Request> for InTokio<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> S::Future {
        let _context = self.tokio.enter();
        self.inner.call(req)
    }
}

/// A `tower::Service` behind `TimeoutLayer`: a request slower than the
/// layer's timeout fails alone (counted as a handler failure, answered
/// with the failure response) while a quick one on the same connection
/// is answered meanwhile and after.
pub async fn a_timeout_layer_fails_a_slow_request_alone_and_the_connection_goes_on<
    R: TestRuntime,
>() {
    const TIMEOUT: Duration = Duration::from_millis(200);
    let tokio = tokio_timers();
    let config = Config::builder()
        .failure_response(Some(Bytes::from_static(b"failed")))
        .build()
        .expect("a valid config");
    let (server, addr) = serve_service::<R, _, _>(config, move |_: &ConnectionInfo| {
        let handler = service_fn(|req: Request| async move {
            if req.payload == "slow" {
                sleep::<R>(WAIT).await;
            }
            Ok::<_, BoxError>(req.payload)
        });
        InTokio {
            inner: ServiceBuilder::new()
                .layer(TimeoutLayer::new(TIMEOUT))
                .service(handler),
            tokio: tokio.clone(),
        }
    });
    let client = connect::<R>(addr).await;

    let start = Instant::now();
    let slow = client.call("slow");
    let quick = within::<R, _>(WAIT, "the quick answer", client.call("quick")).await;
    assert_eq!(quick, Ok(Bytes::from_static(b"quick")));
    let slow = within::<R, _>(WAIT, "the slow request's failure", slow).await;
    let took = start.elapsed();
    assert_eq!(slow, Ok(Bytes::from_static(b"failed")));
    assert!(
        took >= TIMEOUT,
        "failed after {took:?}, before the layer's {TIMEOUT:?}"
    );
    assert!(
        took < WAIT,
        "failed after {took:?}: the handler ran to its end"
    );

    let stats = server.stats();
    assert_eq!(
        stats.handler_failures, 1,
        "the timeout is the handler's error"
    );
    assert_eq!(
        stats.request_timeouts, 0,
        "the server's own request timeout is not set"
    );
    let after = within::<R, _>(WAIT, "an answer after the failure", client.call("after")).await;
    assert_eq!(after, Ok(Bytes::from_static(b"after")));
}

/// The service factory runs once per connection, so state kept in the
/// service is the connection's own: two clients calling in turns each see
/// their own call counter, 1, 2, 3, ...
pub async fn each_connection_sees_only_its_own_service_state<R: TestRuntime>() {
    let (_server, addr) = serve_service::<R, _, _>(Config::default(), |_: &ConnectionInfo| {
        let mut calls = 0u64;
        service_fn(move |_: Request| {
            calls += 1;
            std::future::ready(Ok::<_, BoxError>(Bytes::from(calls.to_string())))
        })
    });
    let a = connect::<R>(addr).await;
    let b = connect::<R>(addr).await;
    let turns = [
        (&a, "a", "1"),
        (&a, "a", "2"),
        (&b, "b", "1"),
        (&a, "a", "3"),
        (&b, "b", "2"),
        (&b, "b", "3"),
        (&a, "a", "4"),
    ];
    for (client, name, expected) in turns {
        let answer = within::<R, _>(WAIT, "the counter", client.call("count")).await;
        assert_eq!(
            answer,
            Ok(Bytes::from(expected)),
            "client {name}'s call number {expected}"
        );
    }
}

/// In the message of every panic the tests provoke.
const PROVOKED: &str = "a provoked panic";

/// Keeps the panics the tests provoke out of the panic hook: with
/// `RUST_BACKTRACE` set, the default hook symbolizes a backtrace (~130 ms
/// each, measured) on the executor thread the handler runs on, which
/// stalls every connection on smol's single global executor thread and
/// makes the timing tests running beside this one fail. Other panics go
/// to the hook as before.
fn quiet_provoked_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied());
            if !message.is_some_and(|m| m.contains(PROVOKED)) {
                hook(info);
            }
        }));
    });
}

/// A handler that panics on request numbers 9, 19, 29, ...: every tenth.
fn panicking_handler(req: Bytes) -> impl Future<Output = Bytes> + Send + 'static {
    quiet_provoked_panics();
    async move {
        let n: u32 = std::str::from_utf8(&req)
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("the tests send request numbers");
        if n % 10 == 9 {
            panic!("request {n}: {PROVOKED}: this handler panics on every tenth request");
        }
        req
    }
}

/// Sends [`PANIC_REQUESTS`] numbered calls at once with `opts`; checks
/// that every request the handler does not panic on is answered with its
/// number, and returns what the panicking ones got.
async fn call_panicking_server<R: TestRuntime>(
    client: &Client<R>,
    opts: CallOptions,
) -> Vec<Result<Bytes, CallError>> {
    let calls: Vec<_> = (0..PANIC_REQUESTS)
        .map(|n| client.call_with(n.to_string(), opts))
        .collect();
    let results = within::<R, _>(WAIT, "every call to end", join_all(calls)).await;
    let mut of_panics = Vec::new();
    for (n, result) in (0..).zip(results) {
        if n % 10 == 9 {
            of_panics.push(result);
        } else {
            assert_eq!(result, Ok(Bytes::from(n.to_string())), "request {n}");
        }
    }
    of_panics
}

/// Checks that the connection of `client` and a new connection to `addr`
/// are both answered.
async fn server_goes_on<R: TestRuntime>(client: &Client<R>, addr: SocketAddr) {
    let again = within::<R, _>(WAIT, "an answer on the same connection", client.call("100")).await;
    assert_eq!(again, Ok(Bytes::from_static(b"100")), "the same connection");
    let other = connect::<R>(addr).await;
    let answer = within::<R, _>(WAIT, "an answer on a new connection", other.call("101")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"101")), "a new connection");
}

/// A closure handler panics on every tenth request, with no failure
/// response: those requests are left unanswered (the client's deadline
/// ends them with `DeadlineExceeded`), the other nine of each ten are
/// answered on the same connection, each panic is counted in
/// `handler_failures`, and the server goes on serving that connection and
/// new ones.
pub async fn a_handler_panicking_on_every_tenth_request_leaves_only_those_unanswered<
    R: TestRuntime,
>() {
    let (server, addr) = serve::<R, _, _>(Config::default(), panicking_handler);
    let client = connect::<R>(addr).await;
    // Long enough for the other answers on a loaded machine.
    let deadline = CallOptions::new().timeout(Duration::from_secs(2));
    let of_panics = call_panicking_server(&client, deadline).await;
    assert_eq!(
        of_panics,
        vec![Err(CallError::DeadlineExceeded); 3],
        "the requests whose handler panicked"
    );
    eventually::<R>("three handler failures counted", || {
        server.stats().handler_failures >= 3
    })
    .await;
    assert_eq!(server.stats().handler_failures, 3, "one per panic");
    server_goes_on(&client, addr).await;
    let stats = server.stats();
    assert_eq!(stats.handler_failures, 3, "no failure since the panics");
    assert_eq!(stats.accepted, 2);
}

/// As above with a failure response: the requests whose handler panicked
/// are answered with it.
pub async fn a_handler_panicking_on_every_tenth_request_answers_those_with_the_failure_response<
    R: TestRuntime,
>() {
    let config = Config::builder()
        .failure_response(Some(Bytes::from_static(b"handler failed")))
        .build()
        .expect("a valid config");
    let (server, addr) = serve::<R, _, _>(config, panicking_handler);
    let client = connect::<R>(addr).await;
    let of_panics = call_panicking_server(&client, CallOptions::new().timeout(WAIT)).await;
    assert_eq!(
        of_panics,
        vec![Ok(Bytes::from_static(b"handler failed")); 3],
        "the requests whose handler panicked"
    );
    assert_eq!(server.stats().handler_failures, 3, "one per panic");
    server_goes_on(&client, addr).await;
    assert_eq!(server.stats().handler_failures, 3, "no failure since");
}

/// A handler future that never finishes is ended by `request_timeout`:
/// those requests get the failure response once the timeout has passed
/// (and soon after), are counted in `request_timeouts`, and the requests
/// sent with them and after them on the same connection are answered.
pub async fn a_handler_that_never_finishes_is_ended_by_the_request_timeout<R: TestRuntime>() {
    const TIMEOUT: Duration = Duration::from_millis(200);
    let config = Config::builder()
        .request_timeout(Some(TIMEOUT))
        .failure_response(Some(Bytes::from_static(b"timed out")))
        .build()
        .expect("a valid config");
    let (server, addr) = serve::<R, _, _>(config, |req: Bytes| async move {
        if req == "never" {
            std::future::pending::<()>().await;
        }
        req
    });
    let client = connect::<R>(addr).await;

    let start = Instant::now();
    let stuck: Vec<_> = (0..3).map(|_| client.call("never")).collect();
    let quick: Vec<_> = (0..3).map(|i| client.call(format!("quick {i}"))).collect();
    let (answers, ended) = within::<R, _>(
        TIMEOUT + Duration::from_secs(2),
        "every request to end, the stuck ones by the request timeout",
        join(join_all(quick), join_all(stuck)),
    )
    .await;
    let took = start.elapsed();
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer, Ok(Bytes::from(format!("quick {i}"))), "call {i}");
    }
    assert_eq!(ended, vec![Ok(Bytes::from_static(b"timed out")); 3]);
    assert!(took >= TIMEOUT, "ended after {took:?}, before {TIMEOUT:?}");

    let stats = server.stats();
    assert_eq!(stats.request_timeouts, 3);
    assert_eq!(stats.handler_failures, 3, "a timeout is a handler failure");
    let after = within::<R, _>(WAIT, "an answer after the timeouts", client.call("after")).await;
    assert_eq!(after, Ok(Bytes::from_static(b"after")));
}
