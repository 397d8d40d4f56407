//! Calls that fail: deadlines, cancellation, close, fail_pending, and
//! peers that break the connection or the protocol.

use std::time::Duration;

use framing_driver::{
    Bytes, CallError, CallOptions, DisconnectReason, EventKind, ProtocolError, RpcId,
};
use futures_util::future::join_all;

use crate::peer::Peer;
use crate::util::{
    assert_on_time, config, connect, connect_with, events_until_end, eventually, next_event,
    within, WAIT,
};
use crate::TestRuntime;

/// Calls pending at once in the tests that fail them all.
const PENDING: usize = 20;

/// A server that reads requests and never answers: a call with a per-call
/// deadline, and one with the client's default deadline, both fail with
/// `DeadlineExceeded` on time: not before their deadline, and within
/// [`TIMING_TOLERANCE`](crate::util::TIMING_TOLERANCE) after it.
pub async fn a_stalled_server_fails_calls_at_their_deadlines<R: TestRuntime>() {
    let per_call = Duration::from_millis(150);
    let per_client = Duration::from_millis(300);
    let peer = Peer::spawn(|conn| {
        conn.read_requests(2)?;
        conn.expect_eof()
    })
    .expect("peer");
    let client = connect_with::<R>(
        peer.addr(),
        config(framing_core::Config::builder().call_timeout(Some(per_client))),
    )
    .await;

    let start = R::now();
    let result = within::<R, _>(
        WAIT,
        "the per-call deadline",
        client.call_with("stalled", CallOptions::new().timeout(per_call)),
    )
    .await;
    assert_eq!(result, Err(CallError::DeadlineExceeded));
    assert_on_time::<R>("the per-call deadline", per_call, start..=start, R::now());

    let start = R::now();
    let result = within::<R, _>(WAIT, "the client's deadline", client.call("stalled too")).await;
    assert_eq!(result, Err(CallError::DeadlineExceeded));
    assert_on_time::<R>("the client's deadline", per_client, start..=start, R::now());

    let stats = client.stats();
    assert_eq!(stats.timeouts, 2);
    client.close();
    peer.finished::<R>().await;
}

/// A response that arrives after its call's deadline is dropped, counted
/// as late and reported; the connection still answers the next call.
pub async fn a_response_after_the_deadline_is_dropped_and_counted<R: TestRuntime>() {
    let mut peer = Peer::spawn(|conn| {
        let first = conn.read_request()?;
        conn.wait_go()?;
        conn.respond(first.id, b"too late")?;
        conn.echo_until_eof()
    })
    .expect("peer");
    let client = connect::<R>(peer.addr()).await;
    let mut events = client.events();

    let deadline = Duration::from_millis(100);
    let start = R::now();
    let opts = CallOptions::new().timeout(deadline);
    let result = within::<R, _>(WAIT, "the deadline", client.call_with("slow", opts)).await;
    assert_eq!(result, Err(CallError::DeadlineExceeded));
    assert_on_time::<R>(
        "a deadline before a late response",
        deadline,
        start..=start,
        R::now(),
    );
    let sent = peer.request::<R>().await;
    peer.go();

    let ev = next_event::<R>(&mut events, "the late response's event").await;
    assert_eq!(
        ev.kind,
        EventKind::UnknownResponse {
            id: RpcId(u64::from(sent.id)),
            late: true
        }
    );
    let answer = within::<R, _>(WAIT, "the next answer", client.call("next")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"next")));
    let stats = client.stats();
    assert_eq!(
        (
            stats.timeouts,
            stats.unknown_responses,
            stats.late_responses
        ),
        (1, 1, 1)
    );
    client.close();
    peer.finished::<R>().await;
}

/// Dropping a call's future cancels it; the response that arrives later
/// is dropped, counted as late and reported, and the connection still
/// answers the next call.
pub async fn a_late_response_to_a_cancelled_call_is_dropped_and_counted<R: TestRuntime>() {
    let mut peer = Peer::spawn(|conn| {
        let first = conn.read_request()?;
        conn.wait_go()?;
        conn.respond(first.id, b"too late")?;
        conn.echo_until_eof()
    })
    .expect("peer");
    let addr = peer.addr();
    let client = connect::<R>(addr).await;
    let mut events = client.events();

    let call = client.call("cancel me");
    let sent = peer.request::<R>().await;
    drop(call);
    eventually::<R>("the cancel to reach the core", || {
        client.stats().cancelled == 1
    })
    .await;
    peer.go();

    let ev = next_event::<R>(&mut events, "the late response's event").await;
    assert_eq!(ev.peer, Some(addr));
    assert_eq!(
        ev.kind,
        EventKind::UnknownResponse {
            id: RpcId(u64::from(sent.id)),
            late: true
        }
    );
    let answer = within::<R, _>(WAIT, "the next answer", client.call("still works")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"still works")));

    let stats = client.stats();
    assert_eq!((stats.unknown_responses, stats.late_responses), (1, 1));
    assert_eq!(stats.responses, 1);
    client.close();
    peer.finished::<R>().await;
}

/// `close()` completes every pending call with `Closed`, refuses later
/// calls with `Closed`, raises no `Disconnected`, and closes the socket.
pub async fn close_completes_every_pending_call_without_a_disconnected_event<R: TestRuntime>() {
    let mut peer = Peer::spawn(|conn| {
        conn.read_requests(PENDING)?;
        conn.expect_eof()
    })
    .expect("peer");
    let client = connect::<R>(peer.addr()).await;
    let mut events = client.events();

    let calls: Vec<_> = (0..PENDING)
        .map(|i| client.call(format!("call {i}")))
        .collect();
    peer.requests::<R>(PENDING).await;
    client.close();

    let results = within::<R, _>(WAIT, "the pending calls", join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result, Err(CallError::Closed), "call {i}");
    }
    let later = within::<R, _>(WAIT, "a call after close", client.call("after")).await;
    assert_eq!(later, Err(CallError::Closed));
    let seen = events_until_end::<R>(&mut events).await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, EventKind::Disconnected { .. })),
        "no Disconnected after close(), got {seen:?}"
    );
    assert!(client.is_closed());
    peer.finished::<R>().await;
}

/// `fail_pending()` completes every pending call with `FailedByUser`; the
/// connection stays usable and the answers that come later are late.
pub async fn fail_pending_completes_every_pending_call_and_keeps_the_connection<R: TestRuntime>() {
    let mut peer = Peer::spawn(|conn| {
        let requests = conn.read_requests(PENDING)?;
        conn.wait_go()?;
        for req in &requests {
            conn.respond(req.id, &req.payload)?;
        }
        conn.echo_until_eof()
    })
    .expect("peer");
    let client = connect::<R>(peer.addr()).await;
    let mut events = client.events();

    let calls: Vec<_> = (0..PENDING)
        .map(|i| client.call(format!("call {i}")))
        .collect();
    peer.requests::<R>(PENDING).await;
    client.fail_pending();
    let results = within::<R, _>(WAIT, "the failed calls", join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result, Err(CallError::FailedByUser), "call {i}");
    }

    peer.go();
    let answer = within::<R, _>(WAIT, "a call after fail_pending", client.call("after")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"after")));
    // The late answers were written before the one to "after".
    let stats = client.stats();
    assert_eq!(stats.late_responses, PENDING as u64);
    for _ in 0..PENDING {
        let ev = next_event::<R>(&mut events, "a late response's event").await;
        assert!(
            matches!(ev.kind, EventKind::UnknownResponse { late: true, .. }),
            "expected a late UnknownResponse, got {ev:?}"
        );
    }
    client.close();
    peer.finished::<R>().await;
}

/// The peer sends half a frame and closes: a `Disconnected` event with
/// `PeerClosedMidFrame`, and every pending call (and every later one)
/// fails with `Disconnected`.
pub async fn a_peer_closing_mid_frame_disconnects_and_fails_every_pending_call<R: TestRuntime>() {
    // A header announcing 100 payload bytes, then 10 of them: 18 bytes.
    let mut partial = Vec::new();
    partial.extend_from_slice(&104u32.to_be_bytes());
    partial.extend_from_slice(&1u32.to_be_bytes());
    partial.extend_from_slice(&[0x55; 10]);
    let buffered = partial.len();
    let peer = Peer::spawn(move |conn| {
        conn.read_requests(PENDING)?;
        conn.write_raw(&partial)?;
        conn.close_write()?;
        conn.expect_eof()
    })
    .expect("peer");
    let addr = peer.addr();
    let client = connect::<R>(addr).await;
    let mut events = client.events();

    let calls: Vec<_> = (0..PENDING)
        .map(|i| client.call(format!("call {i}")))
        .collect();
    let reason = DisconnectReason::PeerClosedMidFrame { buffered };
    let results = within::<R, _>(WAIT, "the pending calls", join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(
            result,
            Err(CallError::Disconnected(reason.clone())),
            "call {i}"
        );
    }
    let ev = next_event::<R>(&mut events, "Disconnected").await;
    assert_eq!(ev.peer, Some(addr));
    assert_eq!(
        ev.kind,
        EventKind::Disconnected {
            last_error: reason.clone()
        }
    );
    let later = within::<R, _>(WAIT, "a call after the disconnect", client.call("after")).await;
    assert_eq!(later, Err(CallError::Disconnected(reason)));
    peer.finished::<R>().await;
}

/// A length above the maximum, a negative length and a length too short
/// for the id field: each is a `ProtocolError` event, every pending call
/// fails with `CallError::Protocol`, and the client closes the socket.
pub async fn a_bad_length_from_the_peer_is_a_protocol_error_failing_every_pending_call<
    R: TestRuntime,
>() {
    let max = framing_core::DEFAULT_MAX_FRAME_LENGTH;
    let cases = [
        (
            0x7fff_ffffu32,
            ProtocolError::LengthTooLarge {
                length: 0x7fff_ffff,
                max,
            },
        ),
        (
            0xffff_fff0u32,
            ProtocolError::NegativeLength { length: -16 },
        ),
        (2u32, ProtocolError::LengthTooShort { length: 2, min: 4 }),
    ];
    for (length, expected) in cases {
        let peer = Peer::spawn(move |conn| {
            let requests = conn.read_requests(5)?;
            let mut header = length.to_be_bytes().to_vec();
            header.extend_from_slice(&requests[0].id.to_be_bytes());
            conn.write_raw(&header)?;
            conn.expect_eof()
        })
        .expect("peer");
        let addr = peer.addr();
        let client = connect::<R>(addr).await;
        let mut events = client.events();

        let calls: Vec<_> = (0..5).map(|i| client.call(format!("call {i}"))).collect();
        let results = within::<R, _>(WAIT, "the pending calls", join_all(calls)).await;
        for (i, result) in results.into_iter().enumerate() {
            assert_eq!(
                result,
                Err(CallError::Protocol(expected)),
                "call {i} after length {length:#x}"
            );
        }
        let ev = next_event::<R>(&mut events, "ProtocolError").await;
        assert_eq!(ev.peer, Some(addr));
        assert_eq!(ev.kind, EventKind::ProtocolError(expected));
        let later = within::<R, _>(WAIT, "a call after the failure", client.call("after")).await;
        assert_eq!(later, Err(CallError::Protocol(expected)));
        peer.finished::<R>().await;
    }
}
