//! Calls that succeed: round trips, many in flight, out-of-order answers,
//! caller-chosen ids, stray response ids.

use std::time::{Duration, Instant};

use framing_driver::{Bytes, CallError, Config, EventKind, ProtocolError, RpcId};
use futures_util::future::join_all;

use crate::peer::Peer;
use crate::util::{
    config, connect, connect_with, delayed_calls_in_flight, echo_server, next_event, position,
    serve, within, WAIT,
};
use crate::TestRuntime;

/// Calls in flight at once on one connection.
const MANY_CALLS: usize = 10_000;
/// Largest random payload of the many-calls test (exclusive).
const MANY_MAX_PAYLOAD: usize = 4096;

/// Panics unless `result` is `Ok(expected)`, without printing big payloads.
fn assert_echo(what: &str, result: &Result<Bytes, CallError>, expected: &[u8]) {
    match result {
        Ok(answer) if answer[..] == *expected => {}
        Ok(answer) => panic!(
            "{what}: wrong answer ({} bytes, expected {} bytes{})",
            answer.len(),
            expected.len(),
            if answer.len() == expected.len() {
                ", same length, different bytes"
            } else {
                ""
            }
        ),
        Err(e) => panic!("{what}: failed with {e:?}"),
    }
}

/// A call returns the echo server's answer; so does an empty payload.
pub async fn a_call_round_trips_over_loopback<R: TestRuntime>() {
    let (server, addr) = echo_server::<R>();
    let client = connect::<R>(addr).await;
    assert_eq!(client.peer_addr(), Some(addr));

    let answer = within::<R, _>(WAIT, "the answer to hello", client.call("hello")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"hello")));
    let empty = within::<R, _>(WAIT, "the answer to an empty call", client.call("")).await;
    assert_eq!(empty, Ok(Bytes::new()));

    client.close();
    within::<R, _>(WAIT, "server shutdown", server.shutdown(WAIT)).await;
}

/// 10,000 calls with random payloads of 0 to 4095 bytes, all queued before
/// any is awaited, on one connection: every one gets its own payload back.
pub async fn ten_thousand_calls_in_flight_on_one_connection_are_all_answered<R: TestRuntime>() {
    let (_server, addr) = echo_server::<R>();
    // Room for every request at once: this test is about matching, not
    // about backpressure.
    let client = connect_with::<R>(
        addr,
        config(
            framing_core::Config::builder()
                .warn_buffer_bytes(64 << 20)
                .max_buffer_bytes(128 << 20),
        ),
    )
    .await;

    let mut rng = fastrand::Rng::with_seed(0x0f1a_2b3c);
    let payloads: Vec<Bytes> = (0..MANY_CALLS)
        .map(|_| {
            let mut p = vec![0u8; rng.usize(0..MANY_MAX_PAYLOAD)];
            rng.fill(&mut p);
            Bytes::from(p)
        })
        .collect();
    let calls: Vec<_> = payloads.iter().map(|p| client.call(p.clone())).collect();
    let results = within::<R, _>(WAIT, "10,000 answers", join_all(calls)).await;

    for (i, (result, payload)) in results.iter().zip(&payloads).enumerate() {
        assert_echo(&format!("call {i}"), result, payload);
    }
    let stats = client.stats();
    assert_eq!(stats.calls, MANY_CALLS as u64);
    assert_eq!(stats.responses, MANY_CALLS as u64);
    assert_eq!(stats.unknown_responses, 0);
}

/// The server's handler sleeps a random time per request, so answers come
/// back in completion order, not request order; each still completes its
/// own call.
pub async fn responses_in_completion_order_are_matched_to_their_calls<R: TestRuntime>() {
    const CALLS: usize = 100;
    let rt = R::current();
    // The first payload byte is the handler's delay in milliseconds.
    let (_server, addr) = serve::<R, _, _>(Config::default(), move |req: Bytes| {
        let timer = rt.timer(Instant::now() + Duration::from_millis(u64::from(req[0])));
        async move {
            timer.await;
            req
        }
    });
    let client = connect::<R>(addr).await;

    // The first call is the slowest and the last the fastest, so the
    // order must change; the rest are random.
    let order = delayed_calls_in_flight(&client, CALLS, 7, 200, 100).await;
    assert!(
        position(&order, CALLS - 1) < position(&order, 0),
        "the fastest call (sent last) must complete before the slowest (sent first): {order:?}"
    );
}

/// Five clients, each with 200 calls in flight, on one server.
pub async fn one_server_answers_many_clients_at_once<R: TestRuntime>() {
    let (_server, addr) = echo_server::<R>();
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(connect::<R>(addr).await);
    }
    let calls = clients.iter().enumerate().flat_map(|(c, client)| {
        (0..200u32).map(move |i| {
            let payload = Bytes::from(format!("client {c} call {i}"));
            let call = client.call(payload.clone());
            async move { (payload, call.await) }
        })
    });
    let results = within::<R, _>(WAIT, "1,000 answers", join_all(calls)).await;
    for (payload, result) in &results {
        assert_echo("a call of many clients", result, payload);
    }
}

/// `call_with_id` puts the caller's id on the wire; the same id while it is
/// pending fails at once with `DuplicateRpcId`; once answered it is free.
pub async fn a_pending_id_is_refused_with_duplicate_rpc_id<R: TestRuntime>() {
    let mut peer = Peer::spawn(|conn| {
        let first = conn.read_request()?;
        conn.wait_go()?;
        conn.respond(first.id, &first.payload)?;
        conn.echo_until_eof()
    })
    .expect("peer");
    let client = connect::<R>(peer.addr()).await;

    let first = client.call_with_id(RpcId(7), "first");
    let on_wire = peer.request::<R>().await;
    assert_eq!((on_wire.id, &on_wire.payload[..]), (7, &b"first"[..]));

    let second = within::<R, _>(
        WAIT,
        "the duplicate's refusal",
        client.call_with_id(RpcId(7), "second"),
    )
    .await;
    assert_eq!(second, Err(CallError::DuplicateRpcId(RpcId(7))));

    peer.go();
    let first = within::<R, _>(WAIT, "the first call's answer", first).await;
    assert_eq!(first, Ok(Bytes::from_static(b"first")));
    let third = within::<R, _>(
        WAIT,
        "a reused id's answer",
        client.call_with_id(RpcId(7), "third"),
    )
    .await;
    assert_eq!(third, Ok(Bytes::from_static(b"third")));

    client.close();
    peer.finished::<R>().await;
}

/// A response whose id matches no call is dropped, counted and reported
/// as `UnknownResponse { late: false }`; the connection keeps working.
pub async fn an_unknown_response_id_is_reported_and_the_connection_keeps_working<R: TestRuntime>() {
    const STRAY: u32 = 0x00ab_cdef;
    let peer = Peer::spawn(|conn| {
        let req = conn.read_request()?;
        conn.respond(STRAY, b"stray")?;
        conn.respond(req.id, &req.payload)?;
        conn.echo_until_eof()
    })
    .expect("peer");
    let addr = peer.addr();
    let client = connect::<R>(addr).await;
    let mut events = client.events();

    let answer = within::<R, _>(WAIT, "the answer", client.call("real")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"real")));
    let ev = next_event::<R>(&mut events, "UnknownResponse").await;
    assert_eq!(ev.peer, Some(addr));
    assert_eq!(
        ev.kind,
        EventKind::UnknownResponse {
            id: RpcId(u64::from(STRAY)),
            late: false
        }
    );
    let again = within::<R, _>(WAIT, "a later answer", client.call("again")).await;
    assert_eq!(again, Ok(Bytes::from_static(b"again")));

    let stats = client.stats();
    assert_eq!((stats.unknown_responses, stats.late_responses), (1, 0));
    client.close();
    peer.finished::<R>().await;
}

/// With `strict_unknown_ids`, a stray response id fails the connection:
/// a `ProtocolError` event, the pending call fails with it, and the client
/// closes the socket.
pub async fn strict_mode_makes_an_unknown_response_id_a_protocol_error<R: TestRuntime>() {
    const STRAY: u32 = 0x00ab_cdef;
    let peer = Peer::spawn(|conn| {
        conn.read_request()?;
        conn.respond(STRAY, b"stray")?;
        conn.expect_eof()
    })
    .expect("peer");
    let addr = peer.addr();
    let client = connect_with::<R>(
        addr,
        config(framing_core::Config::builder().strict_unknown_ids(true)),
    )
    .await;
    let mut events = client.events();

    let expected = ProtocolError::UnknownResponseId {
        id: RpcId(u64::from(STRAY)),
    };
    let result = within::<R, _>(WAIT, "the call's failure", client.call("real")).await;
    assert_eq!(result, Err(CallError::Protocol(expected)));
    let ev = next_event::<R>(&mut events, "ProtocolError").await;
    assert_eq!(ev.peer, Some(addr));
    assert_eq!(ev.kind, EventKind::ProtocolError(expected));
    peer.finished::<R>().await;
}
