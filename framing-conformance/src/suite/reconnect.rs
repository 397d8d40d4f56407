//! Reconnecting clients (SPEC §9): a server that restarts, stays down or
//! starts late; which calls survive a lost connection; fail-fast; host
//! names; closing while down.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use framing_driver::{Bytes, CallError, CallOptions, Client, EventKind, ReconnectCause, Server};
use futures_util::future::{join, join_all};

use crate::peer::{Peer, PeerConn, Script};
use crate::util::{
    connect_with, echo_server, echo_server_on, events_until, events_until_end, eventually,
    reconnecting, reconnecting_with, restartable_addr, within, Load, WAIT,
};
use crate::TestRuntime;

/// Calls in flight at once in the load tests.
const WINDOW: usize = 32;

/// Every call's deadline in the load tests: far longer than a restart
/// takes, so that no call fails by waiting for it.
const LOAD_DEADLINE: Duration = Duration::from_secs(5);

/// Answers the load tests wait for before and after a restart.
const PHASE_ANSWERS: usize = 200;

/// How long a call of a test waits at most for a connection that does not
/// come (it fails with `DeadlineExceeded`).
const SHORT_DEADLINE: Duration = Duration::from_millis(300);

/// How long "at once" may take: one turn of the driver, with room for a
/// loaded machine; far below every deadline and backoff it must not wait
/// for.
const AT_ONCE: Duration = Duration::from_secs(1);

fn is_reconnecting(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Reconnecting { .. })
}

fn is_failed_attempt(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Reconnecting {
            last_error: ReconnectCause::Failed(_),
            ..
        }
    )
}

fn is_connected(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Connected { .. })
}

/// Checks that `seen` tells a lost connection and a reconnection to
/// `addr`: `Disconnected`, `Reconnecting` for the loss (attempt 1), one
/// `Reconnecting` per failed attempt (attempts 2, 3, ...), `Connected`.
fn assert_lost_then_reconnected(seen: &[EventKind], addr: SocketAddr) {
    let [EventKind::Disconnected { .. }, attempts @ .., EventKind::Connected { addr: to }] = seen
    else {
        panic!("expected Disconnected, Reconnecting.., Connected, got {seen:?}");
    };
    assert_eq!(*to, addr, "reconnected elsewhere: {seen:?}");
    assert!(!attempts.is_empty(), "no Reconnecting event: {seen:?}");
    for (i, ev) in attempts.iter().enumerate() {
        let EventKind::Reconnecting {
            attempt,
            last_error,
            ..
        } = ev
        else {
            panic!("expected Reconnecting, got {ev:?} in {seen:?}");
        };
        assert_eq!(*attempt as usize, i + 1, "attempts are numbered: {seen:?}");
        let cause_ok = match last_error {
            ReconnectCause::Lost(_) => i == 0,
            ReconnectCause::Failed(_) => i > 0,
            _ => false,
        };
        assert!(
            cause_ok,
            "the first attempt follows the loss, the next ones a failed attempt: {seen:?}"
        );
    }
}

/// An echo server on 127.0.0.1 at a port no other test can take while it
/// is down (see [`restartable_addr`]).
fn restartable_echo_server<R: TestRuntime>() -> (Server<R>, SocketAddr) {
    echo_server_on::<R>(restartable_addr(Ipv4Addr::LOCALHOST.into()))
}

/// Stops the server at once (requests in flight are dropped with their
/// connections) and waits until its listener is closed.
async fn kill<R: TestRuntime>(server: Server<R>) {
    within::<R, _>(WAIT, "the server to stop", server.shutdown(Duration::ZERO)).await;
}

/// Times the port-freeing test stops and restarts a server.
const RESTARTS: usize = 100;

/// Once `server.shutdown(..)` has resolved, the server's port is free: a
/// new server binds it at once, every time (restarting a server on its
/// port, as the tests here do, relies on it).
pub async fn a_server_frees_its_port_once_its_shutdown_resolves<R: TestRuntime>() {
    let (mut server, addr) = restartable_echo_server::<R>();
    for i in 0..RESTARTS {
        kill(server).await;
        let listener = R::bind(addr)
            .unwrap_or_else(|e| panic!("restart {i}: binding {addr} right after shutdown: {e}"));
        server = Server::<R>::serve_with(
            listener,
            framing_driver::Config::default(),
            |req: Bytes| async move { req },
        );
    }
    let client = connect_with::<R>(addr, framing_driver::Config::default()).await;
    let answer = within::<R, _>(WAIT, "an answer", client.call("last")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"last")));
    client.close();
}

/// A server shut down in the middle of a load and started again on the
/// same port once an attempt to reach it has failed: the client reports
/// the loss, its attempts and the new connection (`Disconnected`,
/// `Reconnecting`.., `Connected`); every call made completes exactly once
/// (the load counts them: as many completions as calls, each call number
/// once, within a bound); the only failures are `Disconnected`, at most
/// one per call that was in flight at the kill; every call made after the
/// client is connected again is answered, with its own answer.
pub async fn a_server_restarted_on_the_same_port_mid_load_answers_every_later_call<
    R: TestRuntime,
>() {
    let (server, addr) = restartable_echo_server::<R>();
    let client = connect_with::<R>(addr, reconnecting(false, Some(LOAD_DEADLINE))).await;
    let mut events = client.events();
    let load = Load::default();
    let back = AtomicBool::new(false);

    let steps = async {
        load.until::<R>("answers before the restart", |l| l.ok() >= PHASE_ANSWERS)
            .await;
        kill(server).await;
        // Restarted only once an attempt has failed: the server was down.
        let mut seen = events_until::<R>(&mut events, "a failed attempt", is_failed_attempt).await;
        let (restarted, _) = echo_server_on::<R>(addr);
        seen.extend(events_until::<R>(&mut events, "Connected", is_connected).await);
        back.store(true, Ordering::SeqCst);
        let answered = load.ok();
        load.until::<R>("answers after the restart", |l| {
            l.ok() >= answered + PHASE_ANSWERS
        })
        .await;
        load.stop();
        (restarted, seen)
    };
    let calls = load.run(WINDOW, |seq| {
        (
            back.load(Ordering::SeqCst),
            client.call(Bytes::from(seq.to_string())),
        )
    });
    let (done, (_restarted, seen)) =
        within::<R, _>(WAIT, "the load across a restart", join(calls, steps)).await;

    assert_lost_then_reconnected(&seen, addr);
    let mut seqs: Vec<usize> = done.iter().map(|c| c.seq).collect();
    seqs.sort_unstable();
    assert!(
        seqs.iter().copied().eq(0..load.made()),
        "every call made completes exactly once ({} made, {} completions)",
        load.made(),
        done.len()
    );
    let mut disconnected = 0;
    let mut after = 0;
    for c in &done {
        after += usize::from(c.tag);
        match &c.result {
            Ok(answer) => assert_eq!(answer, &Bytes::from(c.seq.to_string()), "call {}", c.seq),
            Err(CallError::Disconnected(_)) if !c.tag => disconnected += 1,
            Err(e) => panic!(
                "call {} (made {} the client was back) failed: {e:?}",
                c.seq,
                if c.tag { "after" } else { "before" }
            ),
        }
    }
    assert!(
        disconnected <= WINDOW,
        "{disconnected} calls failed, more than were in flight at the kill"
    );
    assert!(after >= 1, "no call was made after the restart");
    client.close();
}

/// A reconnecting client whose server stays down: a call waits for the
/// next connection until its deadline, then fails with
/// `DeadlineExceeded`, not before; the client lives on and answers again
/// once the server is back.
pub async fn a_call_waiting_for_a_server_that_stays_down_fails_at_its_deadline<R: TestRuntime>() {
    let (server, addr) = restartable_echo_server::<R>();
    let client = connect_with::<R>(addr, reconnecting(false, None)).await;
    let mut events = client.events();
    let up = within::<R, _>(WAIT, "an answer", client.call("up")).await;
    assert_eq!(up, Ok(Bytes::from_static(b"up")));

    kill(server).await;
    events_until::<R>(&mut events, "Reconnecting", is_reconnecting).await;
    let start = Instant::now();
    let opts = CallOptions::new().timeout(SHORT_DEADLINE);
    let down = within::<R, _>(WAIT, "the call's deadline", client.call_with("down", opts)).await;
    assert_eq!(down, Err(CallError::DeadlineExceeded));
    assert!(
        start.elapsed() >= SHORT_DEADLINE,
        "failed before its deadline"
    );
    assert_eq!(client.stats().timeouts, 1);
    assert_eq!(client.pending_calls(), 0);
    assert!(!client.is_closed(), "a deadline does not end the client");

    let (_server, _) = echo_server_on::<R>(addr);
    events_until::<R>(&mut events, "Connected", is_connected).await;
    let again = within::<R, _>(WAIT, "an answer", client.call("up again")).await;
    assert_eq!(again, Ok(Bytes::from_static(b"up again")));
    client.close();
}

/// With fail-fast, a reconnecting client whose server is down fails calls
/// at once with `Disconnected` (they carry no deadline: only fail-fast
/// ends them), and answers again once the server is back.
pub async fn with_fail_fast_calls_fail_at_once_while_the_server_is_down<R: TestRuntime>() {
    let (server, addr) = restartable_echo_server::<R>();
    let client = connect_with::<R>(addr, reconnecting(true, None)).await;
    let mut events = client.events();
    let up = within::<R, _>(WAIT, "an answer", client.call("up")).await;
    assert_eq!(up, Ok(Bytes::from_static(b"up")));

    kill(server).await;
    events_until::<R>(&mut events, "Reconnecting", is_reconnecting).await;
    for i in 0..10 {
        let start = Instant::now();
        let down = within::<R, _>(AT_ONCE, "a fail-fast refusal", client.call("down")).await;
        assert!(
            matches!(down, Err(CallError::Disconnected(_))),
            "call {i}: expected Disconnected, got {down:?}"
        );
        assert!(start.elapsed() < AT_ONCE, "call {i} waited");
    }
    assert_eq!(client.pending_calls(), 0);

    let (_server, _) = echo_server_on::<R>(addr);
    events_until::<R>(&mut events, "Connected", is_connected).await;
    let again = within::<R, _>(WAIT, "an answer", client.call("up again")).await;
    assert_eq!(again, Ok(Bytes::from_static(b"up again")));
    client.close();
}

/// Receive buffer of the peer that stops reading: small and fixed, so the
/// kernel does not grow it.
const STALL_RECV_BUFFER: usize = 64 * 1024;

/// A payload that cannot fit in the kernel's buffers between the client
/// and a peer that does not read: four times the largest send buffer
/// (`tcp_wmem`'s maximum) plus the peer's fixed receive buffer, at least
/// 16 MiB.
fn larger_than_socket_buffers() -> usize {
    let wmem_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    (4 * (wmem_max + STALL_RECV_BUFFER)).max(16 << 20)
}

/// A call whose request was (partly) written when the connection is lost
/// completes with `Disconnected` and is never sent again; a call whose
/// request was not written at all moves to the next connection, goes out
/// first there and is answered.
///
/// Deterministic construction: the peer (receive buffer fixed at 64 KiB)
/// reads only the 8-byte header of the first request, A, whose payload is
/// four times larger than the kernel's largest send buffer, and stops
/// reading. So A is partly written (the peer read its header) and can
/// never be written in full. The second call, B, is made after that, and
/// the test waits until the driver has taken it (2 calls pending): it is
/// queued behind A's unwritten bytes, so none of its bytes can have been
/// written. Then the peer closes with A's bytes unread (a reset). On the
/// next connection the peer reads the first frame: it must be B; it
/// answers it and then expects the client to close without sending
/// anything else (A is not re-sent).
pub async fn unwritten_calls_move_to_the_next_connection_and_written_ones_fail_with_disconnected<
    R: TestRuntime,
>() {
    let big = larger_than_socket_buffers();
    let first: Script = Box::new(|conn: &mut PeerConn| {
        conn.read_frame_header()?;
        // Closes with the rest of A unread.
        conn.wait_go()
    });
    let second: Script = Box::new(|conn: &mut PeerConn| {
        let req = conn.read_request()?;
        conn.respond(req.id, &req.payload)?;
        conn.expect_eof()
    });
    let mut peer = Peer::spawn_each(Some(STALL_RECV_BUFFER), vec![first, second]).expect("peer");
    let room = u64::try_from(2 * big).expect("a small payload");
    let core = framing_core::Config::builder()
        .codec(
            framing_core::Codec::builder()
                .max_frame_length(room)
                .build()
                .expect("a valid codec"),
        )
        .warn_buffer_bytes(2 * big)
        .max_buffer_bytes(2 * big);
    let client = connect_with::<R>(peer.addr(), reconnecting_with(core, false)).await;
    let mut events = client.events();

    let opts = CallOptions::new().timeout(WAIT);
    let written = client.call_with(Bytes::from(vec![b'A'; big]), opts);
    let header = peer.request::<R>().await;
    assert!(header.payload.is_empty(), "the peer read only A's header");
    let unwritten = client.call_with("B", opts);
    eventually::<R>("the driver to take B", || client.pending_calls() == 2).await;
    peer.go();

    let lost = within::<R, _>(WAIT, "A to fail", written).await;
    assert!(
        matches!(lost, Err(CallError::Disconnected(_))),
        "the written call: expected Disconnected, got {lost:?}"
    );
    let moved = within::<R, _>(WAIT, "B's answer", unwritten).await;
    assert_eq!(moved, Ok(Bytes::from_static(b"B")), "the unwritten call");
    let resent = peer.request::<R>().await;
    assert_eq!(resent.payload, b"B", "the next connection starts with B");

    let seen = events_until::<R>(&mut events, "Connected", is_connected).await;
    assert_lost_then_reconnected(&seen, peer.addr());
    let stats = client.stats();
    assert_eq!((stats.calls, stats.responses, stats.failed), (2, 1, 1));
    client.close();
    peer.finished::<R>().await;
}

/// `"localhost:PORT"` and `("localhost", PORT)` are resolved on the
/// runtime and connect (to whichever address of the name answers); a lazy
/// reconnecting client resolves the name in the background and reports
/// the address it connected to.
pub async fn a_client_connects_to_localhost_by_name<R: TestRuntime>() {
    let (_server, addr) = echo_server::<R>();
    let port = addr.port();

    let by_string = within::<R, _>(
        WAIT,
        "connect to localhost:PORT",
        Client::<R>::connect(format!("localhost:{port}")),
    )
    .await
    .unwrap_or_else(|e| panic!("connecting to localhost:{port}: {e}"));
    assert_eq!(by_string.peer_addr(), Some(addr));
    let answer = within::<R, _>(WAIT, "an answer", by_string.call("by string")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"by string")));

    let by_pair = within::<R, _>(
        WAIT,
        "connect to (localhost, PORT)",
        Client::<R>::connect(("localhost", port)),
    )
    .await
    .unwrap_or_else(|e| panic!("connecting to (localhost, {port}): {e}"));
    let answer = within::<R, _>(WAIT, "an answer", by_pair.call("by pair")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"by pair")));

    let lazy = Client::<R>::connect_lazy(format!("localhost:{port}"), reconnecting(false, None))
        .expect("a valid target");
    let answer = within::<R, _>(WAIT, "an answer", lazy.call("lazy")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"lazy")));
    assert_eq!(lazy.peer_addr(), Some(addr));
    for client in [by_string, by_pair, lazy] {
        client.close();
    }
}

/// `close()` of a reconnecting client whose server is down (it is waiting
/// out a backoff delay or dialing) ends at once: every call waiting for
/// the next connection completes with `Closed` (they have long deadlines:
/// only `close` can end them this soon), the event stream ends with no
/// `Disconnected` (the driver task has finished), and later calls are
/// refused with `Closed`.
pub async fn closing_a_reconnecting_client_while_the_server_is_down_ends_every_call_at_once<
    R: TestRuntime,
>() {
    let (server, addr) = restartable_echo_server::<R>();
    let client = connect_with::<R>(addr, reconnecting(false, Some(WAIT))).await;
    let mut events = client.events();
    let up = within::<R, _>(WAIT, "an answer", client.call("up")).await;
    assert_eq!(up, Ok(Bytes::from_static(b"up")));

    kill(server).await;
    events_until::<R>(&mut events, "Reconnecting", is_reconnecting).await;
    let calls: Vec<_> = (0..10).map(|i| client.call(format!("waits {i}"))).collect();
    eventually::<R>("the calls to wait", || client.pending_calls() == 10).await;

    let start = Instant::now();
    client.close();
    let results = within::<R, _>(AT_ONCE, "the calls to end", join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result, Err(CallError::Closed), "call {i}");
    }
    let after_close = events_until_end::<R>(&mut events).await;
    assert!(start.elapsed() < AT_ONCE, "close did not end at once");
    assert!(
        after_close
            .iter()
            .all(|k| matches!(k, EventKind::Reconnecting { .. })),
        "no event but attempts already under way before the close: {after_close:?}"
    );
    assert!(client.is_closed());
    let later = within::<R, _>(WAIT, "a call after close", client.call("later")).await;
    assert_eq!(later, Err(CallError::Closed));
}

/// A lazy client to a port where nothing listens yet returns at once; its
/// first calls wait (the attempts fail meanwhile) and are answered once a
/// server starts there.
pub async fn a_lazy_client_holds_its_first_calls_until_the_server_starts<R: TestRuntime>() {
    // A free port that nothing else takes meanwhile.
    let addr = restartable_addr(Ipv4Addr::LOCALHOST.into());
    let client =
        Client::<R>::connect_lazy(addr, reconnecting(false, Some(WAIT))).expect("a valid target");
    let mut events = client.events();
    let calls: Vec<_> = (0..5).map(|i| client.call(format!("early {i}"))).collect();
    let failed = events_until::<R>(&mut events, "a failed attempt", is_failed_attempt).await;
    assert!(
        failed.iter().all(is_reconnecting),
        "nothing but attempts before the server is up: {failed:?}"
    );
    eventually::<R>("the 5 calls to wait", || client.pending_calls() == 5).await;

    let (_server, _) = echo_server_on::<R>(addr);
    let results = within::<R, _>(WAIT, "the early calls", join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result, Ok(Bytes::from(format!("early {i}"))), "call {i}");
    }
    let seen = events_until::<R>(&mut events, "Connected", is_connected).await;
    assert_eq!(seen.last(), Some(&EventKind::Connected { addr }));
    client.close();
}
