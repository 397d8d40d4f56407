//! Flow control and liveness: watermarks with a peer that stops reading,
//! and the idle timeout.

use std::time::Duration;

use framing_driver::{Bytes, CallError, EventKind};
use futures_util::future::join_all;

use crate::peer::Peer;
use crate::util::{
    assert_on_time, config, connect_with, echo_server, expect_no_event, next_event, sleep, within,
    WAIT,
};
use crate::TestRuntime;

/// `Pause` threshold of the watermark test.
const WARN: usize = 64 * 1024;
/// `BufferFull` threshold of the watermark test.
const MAX: usize = 256 * 1024;
/// Payload of each call of the watermark test.
const PAYLOAD: usize = 16 * 1024;
/// Calls made per round before letting the driver take them.
const ROUND: usize = 8;
/// Give up if this many bytes never fill the kernel's socket buffers and
/// the client's queue (far more than loopback buffers hold).
const GIVE_UP_BYTES: usize = 256 << 20;

/// The peer stops reading: once the kernel's buffers are full, unwritten
/// bytes pass `warn` (`Pause`), then `max` (calls refused with
/// `BufferFull`, the limit and the queue size in the error); when the peer
/// drains, `Resume` at zero, every accepted call is answered, and new calls
/// are accepted again. `Pause` and `Resume` strictly alternate: one per
/// crossing (the kernel may absorb the queue more than once while its
/// buffers grow, so there may be more than one crossing).
pub async fn a_peer_that_stops_reading_raises_pause_then_buffer_full_then_resume<R: TestRuntime>() {
    let peer = Peer::spawn(|conn| {
        conn.wait_go()?;
        conn.echo_until_eof()
    })
    .expect("peer");
    let addr = peer.addr();
    let client = connect_with::<R>(
        addr,
        config(
            framing_core::Config::builder()
                .warn_buffer_bytes(WARN)
                .max_buffer_bytes(MAX)
                .idle_timeout(None),
        ),
    )
    .await;
    let mut events = client.events();

    let payload = Bytes::from(vec![0xa5; PAYLOAD]);
    let mut calls = Vec::new();
    // Fill the queue with `try_call` until it refuses. The queue size it
    // checks is the one the driver published after its last turn, and the
    // kernel may absorb more of the queue at any time while its buffers
    // grow, so no single earlier observation proves the queue is still
    // full: the refusal itself is the proof.
    within::<R, _>(WAIT, "the client's queue to fill", async {
        loop {
            for _ in 0..ROUND {
                match client.try_call(payload.clone()) {
                    Ok(call) => calls.push(call),
                    Err(refused) => {
                        // Refused at once, in the caller, with the limit
                        // and the queue size, and the payload handed back.
                        match refused.error {
                            CallError::BufferFull { queued, max } => {
                                assert_eq!(max, MAX);
                                assert!(queued > MAX, "refused at {queued} bytes");
                            }
                            ref e => panic!("try_call refused with {e:?}"),
                        }
                        assert!(
                            refused.payload == payload,
                            "the payload comes back untouched"
                        );
                        return;
                    }
                }
            }
            // Let the driver take the calls and publish its queue size.
            sleep::<R>(Duration::from_millis(1)).await;
            assert!(
                calls.len() * PAYLOAD < GIVE_UP_BYTES,
                "no BufferFull after {} calls of {PAYLOAD} bytes",
                calls.len()
            );
        }
    })
    .await;

    let ev = next_event::<R>(&mut events, "Pause").await;
    assert_eq!(ev.peer, Some(addr));
    let mut seen = vec![ev.kind];

    peer.go();
    let results = within::<R, _>(WAIT, "every accepted call", join_all(calls)).await;
    let mut answered = 0;
    let mut refused = 0;
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(answer) => {
                assert!(answer == payload, "call {i}: wrong answer");
                answered += 1;
            }
            Err(CallError::BufferFull { queued, max }) => {
                assert_eq!(max, MAX, "call {i}");
                assert!(queued > MAX, "call {i} refused at {queued} bytes");
                refused += 1;
            }
            Err(e) => panic!("call {i}: {e:?}"),
        }
    }
    // Calls accepted by `try_call` while the published queue size lagged
    // behind may still be refused by the driver (`refused` may be zero).
    assert!(answered > 0, "{answered} answered, {refused} refused");
    let stats = client.stats();
    // The futures' refusals, plus the one `try_call` handed back.
    assert_eq!(stats.rejected_buffer_full, refused + 1);

    // Every request was written before its answer came back, so the queue
    // has drained and the final `Resume` is already published. The kernel
    // may have absorbed the queue more than once while its buffers grew,
    // so there may be several crossings: they must alternate, one `Pause`
    // per rise above `warn`, one `Resume` per drain, ending drained.
    while let Some(ev) = events.try_recv() {
        seen.push(ev.kind);
    }
    for (i, kind) in seen.iter().enumerate() {
        match (i % 2, kind) {
            (0, EventKind::Pause { queued }) => {
                assert!(*queued > WARN, "Pause at {queued} bytes: {seen:?}")
            }
            (1, EventKind::Resume { queued }) => {
                assert_eq!(*queued, 0, "Resume before drained: {seen:?}")
            }
            _ => panic!("Pause and Resume must alternate, starting with Pause: {seen:?}"),
        }
    }
    assert!(
        seen.len() % 2 == 0,
        "the last event must be a Resume once drained: {seen:?}"
    );

    let after = within::<R, _>(WAIT, "a call after Resume", client.call("after")).await;
    assert_eq!(after, Ok(Bytes::from_static(b"after")));
    assert_eq!(events.try_recv(), None, "no event after Resume");
    client.close();
    peer.finished::<R>().await;
}

/// With a 200 ms idle timeout, a quiet connection raises `IdleTimeout`
/// once per quiet stretch, on time (not before 200 ms of quiet, within
/// [`TIMING_TOLERANCE`](crate::util::TIMING_TOLERANCE) after), stays open,
/// and raises it again after new traffic.
pub async fn an_idle_connection_raises_idle_timeout_once_and_stays_open<R: TestRuntime>() {
    let idle = Duration::from_millis(200);
    let (_server, addr) = echo_server::<R>();
    let client = connect_with::<R>(
        addr,
        config(framing_core::Config::builder().idle_timeout(Some(idle))),
    )
    .await;
    let mut events = client.events();

    for round in 0..2 {
        // The last traffic (the answer read) comes after `before` and
        // before `quiet_since`: the idle timer is armed in between.
        let before = R::now();
        let answer = within::<R, _>(WAIT, "an answer", client.call("ping")).await;
        assert_eq!(answer, Ok(Bytes::from_static(b"ping")), "round {round}");
        let quiet_since = R::now();
        let ev = next_event::<R>(&mut events, "IdleTimeout").await;
        assert_eq!(ev.peer, Some(addr));
        assert_eq!(ev.kind, EventKind::IdleTimeout, "round {round}");
        assert_on_time::<R>("IdleTimeout", idle, before..=quiet_since, R::now());
        expect_no_event::<R>(
            &mut events,
            2 * idle,
            "IdleTimeout fires once per quiet stretch",
        )
        .await;
    }
    assert!(!client.is_closed());
}
