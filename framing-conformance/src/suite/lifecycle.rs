//! Connection lifecycle: connecting, and graceful shutdown of either end.

use std::net::SocketAddr;
use std::time::Duration;

use framing_driver::{
    Bytes, CallError, Client, Config, ConnectError, DisconnectReason, EventKind, Server,
};
use futures_util::future::join_all;
use tokio::sync::mpsc;

use crate::peer::Peer;
use crate::util::{
    assert_on_time, connect, events_until_end, next_event, serve, sleep, within, WAIT,
};
use crate::TestRuntime;

/// How long the "slow" handlers of the shutdown tests take.
const SLOW: Duration = Duration::from_millis(300);
/// Longer than any test: a handler that never answers in time.
const STUCK: Duration = Duration::from_secs(60);
/// The grace period of the tests where it runs out.
const SHORT_GRACE: Duration = Duration::from_millis(200);

/// A server whose handler reports each request on the returned channel,
/// then sleeps `delay` and echoes it.
fn slow_server<R: TestRuntime>(
    delay: Duration,
) -> (Server<R>, SocketAddr, mpsc::UnboundedReceiver<Bytes>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (server, addr) = serve::<R, _, _>(Config::default(), move |req: Bytes| {
        let _ = tx.send(req.clone());
        async move {
            sleep::<R>(delay).await;
            req
        }
    });
    (server, addr, rx)
}

/// Waits until the server's handler has seen `n` requests.
async fn handler_saw<R: TestRuntime>(seen: &mut mpsc::UnboundedReceiver<Bytes>, n: usize) {
    within::<R, _>(WAIT, "the server to receive every request", async {
        for _ in 0..n {
            seen.recv().await.expect("the server is running");
        }
    })
    .await;
}

/// Once every handle of a client is gone, nobody can make or await a
/// call: the connection is closed (the peer reads end of stream).
pub async fn dropping_every_client_handle_closes_the_connection<R: TestRuntime>() {
    let mut peer = Peer::spawn(|conn| {
        let req = conn.read_request()?;
        conn.respond(req.id, &req.payload)?;
        conn.expect_eof()
    })
    .expect("peer");
    let client = connect::<R>(peer.addr()).await;
    let copy = client.clone();
    let answer = within::<R, _>(WAIT, "an answer", copy.call("only")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"only")));
    peer.request::<R>().await;
    drop(copy);
    drop(client);
    peer.finished::<R>().await;
}

/// Nothing listens on the port: `HostUnavailable` with the address.
pub async fn connecting_to_a_closed_port_is_host_unavailable<R: TestRuntime>() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("local_addr")
    };
    let result = within::<R, _>(WAIT, "connect to refuse", Client::<R>::connect(addr)).await;
    match result {
        Err(ConnectError::HostUnavailable { addr: tried, .. }) => assert_eq!(tried, addr),
        Err(other) => panic!("expected HostUnavailable, got {other:?}"),
        Ok(_) => panic!("connected to a closed port {addr}"),
    }
}

/// A listener whose accept queue is full drops new SYNs, so the handshake
/// never completes: `connect` gives up after the connect timeout with
/// `TimedOut`, on time. (Linux: a listen backlog of 0 queues one
/// connection.)
pub async fn a_handshake_that_never_completes_is_a_connect_timeout<R: TestRuntime>() {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    listener
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    listener.listen(0).expect("listen");
    let addr = listener
        .local_addr()
        .expect("local_addr")
        .as_socket()
        .expect("an inet address");
    // Fill the accept queue; nobody ever accepts.
    let mut fillers = Vec::new();
    for _ in 0..2 {
        let filler = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        filler.set_nonblocking(true).expect("nonblocking");
        let _ = filler.connect(&addr.into());
        fillers.push(filler);
    }
    sleep::<R>(Duration::from_millis(50)).await;

    let config = Config::builder()
        .connect_timeout(Duration::from_millis(300))
        .build()
        .expect("a valid config");
    let start = R::now();
    let result = within::<R, _>(
        WAIT,
        "connect to time out",
        Client::<R>::connect_with(addr, config),
    )
    .await;
    match result {
        Err(ConnectError::TimedOut { addr: tried, after }) => {
            assert_eq!(tried, addr);
            assert_eq!(after, Duration::from_millis(300));
            assert_on_time::<R>("a connect timeout", after, start..=start, R::now());
        }
        Err(other) => panic!("expected TimedOut, got {other:?}"),
        Ok(_) => panic!("connected through a full accept queue at {addr}"),
    }
    drop(fillers);
}

/// `client.shutdown(grace)` refuses new calls with `ShuttingDown`, lets the
/// calls in flight finish, and resolves once they have, well before the
/// grace period ends (in less than half of it); the client is closed
/// afterwards.
pub async fn client_shutdown_finishes_in_flight_calls_and_refuses_new_ones<R: TestRuntime>() {
    let (_server, addr, mut seen) = slow_server::<R>(SLOW);
    let client = connect::<R>(addr).await;
    let mut events = client.events();

    let calls: Vec<_> = (0..5).map(|i| client.call(format!("slow {i}"))).collect();
    handler_saw::<R>(&mut seen, 5).await;

    let start = R::now();
    let shutdown = client.shutdown(WAIT);
    futures_util::pin_mut!(shutdown);
    // The first poll sends the shutdown command, ahead of the next call.
    assert!(futures_util::poll!(shutdown.as_mut()).is_pending());
    let refused = within::<R, _>(WAIT, "the refusal", client.call("new")).await;
    assert_eq!(refused, Err(CallError::ShuttingDown));

    within::<R, _>(WAIT, "the client's shutdown", shutdown).await;
    let took = R::now() - start;
    eprintln!(
        "timing: the client's shutdown on {}: took {took:?}",
        R::NAME
    );
    assert!(
        took < WAIT / 2,
        "shutdown took {took:?}, as if it waited for its grace of {WAIT:?} \
         instead of the calls in flight (at most {SLOW:?})"
    );
    let results = join_all(calls).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result, Ok(Bytes::from(format!("slow {i}"))), "call {i}");
    }
    assert!(client.is_closed());
    let later = within::<R, _>(WAIT, "a call after shutdown", client.call("later")).await;
    assert_eq!(later, Err(CallError::Closed));
    let seen_events = events_until_end::<R>(&mut events).await;
    assert!(
        seen_events.is_empty(),
        "no event after a graceful shutdown, got {seen_events:?}"
    );
}

/// Calls still unanswered when the client's grace period ends complete
/// with `Closed`, on time.
pub async fn client_shutdown_closes_calls_still_pending_at_the_deadline<R: TestRuntime>() {
    let (_server, addr, mut seen) = slow_server::<R>(STUCK);
    let client = connect::<R>(addr).await;

    let calls: Vec<_> = (0..3).map(|i| client.call(format!("stuck {i}"))).collect();
    handler_saw::<R>(&mut seen, 3).await;
    let start = R::now();
    within::<R, _>(WAIT, "the client's shutdown", client.shutdown(SHORT_GRACE)).await;
    assert_on_time::<R>(
        "the client's grace deadline",
        SHORT_GRACE,
        start..=start,
        R::now(),
    );

    let results = within::<R, _>(WAIT, "the pending calls", join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result, Err(CallError::Closed), "call {i}");
    }
}

/// `server.shutdown(grace)` answers the requests it already has, closes
/// every connection, busy or idle, (the client sees the peer close) and the
/// listener (new connections are refused), and resolves once the requests
/// in flight are answered, well before the grace period ends (in less
/// than half of it).
pub async fn server_shutdown_answers_requests_in_flight_then_closes<R: TestRuntime>() {
    let (server, addr, mut seen) = slow_server::<R>(SLOW);
    let client = connect::<R>(addr).await;
    let mut events = client.events();
    let idle = connect::<R>(addr).await;
    let mut idle_events = idle.events();

    let calls: Vec<_> = (0..5).map(|i| client.call(format!("slow {i}"))).collect();
    handler_saw::<R>(&mut seen, 5).await;
    let start = R::now();
    within::<R, _>(WAIT, "the server's shutdown", server.shutdown(WAIT)).await;
    let took = R::now() - start;
    eprintln!(
        "timing: the server's shutdown on {}: took {took:?}",
        R::NAME
    );
    let ev = next_event::<R>(&mut idle_events, "the idle client's Disconnected").await;
    assert_eq!(
        ev.kind,
        EventKind::Disconnected {
            last_error: DisconnectReason::PeerClosed
        },
        "an idle connection is closed too"
    );
    assert!(
        took < WAIT / 2,
        "shutdown took {took:?}, as if it waited for its grace of {WAIT:?} \
         instead of the requests in flight (at most {SLOW:?})"
    );

    let results = within::<R, _>(WAIT, "the answers", join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result, Ok(Bytes::from(format!("slow {i}"))), "call {i}");
    }
    let ev = next_event::<R>(&mut events, "Disconnected").await;
    assert_eq!(ev.peer, Some(addr));
    assert_eq!(
        ev.kind,
        EventKind::Disconnected {
            last_error: DisconnectReason::PeerClosed
        }
    );
    let again = within::<R, _>(WAIT, "a new connection", Client::<R>::connect(addr)).await;
    assert!(
        matches!(again, Err(ConnectError::HostUnavailable { .. })),
        "the listener must be closed after shutdown, got {again:?}"
    );
}

/// Requests still unanswered when the server's grace period ends are
/// dropped with their connection, on time: the client's calls fail with
/// `Disconnected`.
pub async fn server_shutdown_closes_connections_at_the_grace_deadline<R: TestRuntime>() {
    let (server, addr, mut seen) = slow_server::<R>(STUCK);
    let client = connect::<R>(addr).await;
    let mut events = client.events();

    let calls: Vec<_> = (0..3).map(|i| client.call(format!("stuck {i}"))).collect();
    handler_saw::<R>(&mut seen, 3).await;
    let start = R::now();
    within::<R, _>(WAIT, "the server's shutdown", server.shutdown(SHORT_GRACE)).await;
    assert_on_time::<R>(
        "the server's grace deadline",
        SHORT_GRACE,
        start..=start,
        R::now(),
    );

    let results = within::<R, _>(WAIT, "the pending calls", join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert!(
            matches!(result, Err(CallError::Disconnected(_))),
            "call {i}: expected Disconnected, got {result:?}"
        );
    }
    let ev = next_event::<R>(&mut events, "Disconnected").await;
    assert!(
        matches!(ev.kind, EventKind::Disconnected { .. }),
        "got {ev:?}"
    );
}
