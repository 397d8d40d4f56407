//! The late-id memory (`late_memory`) on both sides of its bound, in
//! strict and non-strict mode (SPEC.md section 1: a late response is never
//! fatal; a strict client makes an *unknown* id a protocol error).
//!
//! An id is remembered while its latest abandonment (cancel, deadline,
//! `fail_pending`) is among the last `late_memory` abandonments. Within
//! that bound its response is `UnknownResponse { late: true }`, in strict
//! mode too. Beyond it the id is forgotten: its response is
//! `UnknownResponse { late: false }`, and in strict mode a protocol error.

use std::time::Duration;

use framing_core::testkit::encode_frame;
use framing_core::{
    CallError, CallOptions, Codec, Config, Connection, Event, ProtocolError, RpcId, State,
};

const T0: Duration = Duration::ZERO;

fn client(late_memory: usize, strict: bool) -> Connection<Duration, u64> {
    let config = Config::builder()
        .late_memory(late_memory)
        .strict_unknown_ids(strict)
        .build()
        .unwrap();
    Connection::client(config, T0)
}

fn call_id(c: &mut Connection<Duration, u64>, id: u64) {
    c.call_with(T0, "x", CallOptions::new().id(RpcId(id)), id)
        .unwrap();
}

fn events(c: &mut Connection<Duration, u64>) -> Vec<Event<u64>> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// The peer answers `id`; what the client reports.
fn answer(c: &mut Connection<Duration, u64>, id: u64) -> Vec<Event<u64>> {
    c.handle_read(T0, &encode_frame(&Codec::default(), id, b"late"));
    events(c)
}

fn is_late(evs: &[Event<u64>], id: u64, late: bool) -> bool {
    matches!(evs, [Event::UnknownResponse { id: got, late: l }] if got.0 == id && *l == late)
}

fn is_fatal(c: &mut Connection<Duration, u64>, evs: &[Event<u64>], id: u64) -> bool {
    let error = ProtocolError::UnknownResponseId { id: RpcId(id) };
    matches!(evs.last(), Some(Event::ProtocolError(e)) if *e == error)
        && c.state() == State::Closed(CallError::Protocol(error))
}

/// Four calls, cancelled in order 0, 1, 2, 3, with a memory of three: ids
/// 1 to 3 are remembered, id 0 is not; one more call stays pending.
fn four_cancelled(strict: bool) -> Connection<Duration, u64> {
    let mut c = client(3, strict);
    for id in 0..4 {
        call_id(&mut c, id);
    }
    for id in 0..4 {
        c.cancel(RpcId(id)).unwrap();
    }
    call_id(&mut c, 9);
    c
}

#[test]
fn a_response_within_late_memory_abandonments_is_late_and_never_fatal_in_strict_mode() {
    for strict in [false, true] {
        let mut c = four_cancelled(strict);
        for id in [1, 2, 3] {
            let evs = answer(&mut c, id);
            assert!(is_late(&evs, id, true), "strict {strict}, id {id}: {evs:?}");
        }
        assert_eq!(c.state(), State::Open);
        assert_eq!(c.pending_calls(), 1);
        assert_eq!(c.stats().late_responses, 3);
    }
}

#[test]
fn a_response_beyond_late_memory_is_unknown_and_not_late() {
    let mut c = four_cancelled(false);
    let evs = answer(&mut c, 0);
    assert!(is_late(&evs, 0, false), "{evs:?}");
    assert_eq!(c.state(), State::Open);
    assert_eq!(
        (c.stats().unknown_responses, c.stats().late_responses),
        (1, 0)
    );
}

#[test]
fn in_strict_mode_a_response_beyond_late_memory_is_a_protocol_error() {
    let mut c = four_cancelled(true);
    let evs = answer(&mut c, 0);
    assert!(is_fatal(&mut c, &evs, 0), "{evs:?}");
    // The call still pending completed with the error.
    assert!(matches!(
        &evs[0],
        Event::Completed {
            ctx: 9,
            result: Err(CallError::Protocol(_)),
            ..
        }
    ));
}

#[test]
fn deadlines_and_fail_pending_count_as_abandonments_like_cancels() {
    for strict in [false, true] {
        let mut c = client(2, strict);
        let ms = Duration::from_millis;
        c.call_with(T0, "x", CallOptions::new().id(RpcId(0)).timeout(ms(10)), 0)
            .unwrap();
        c.handle_timeout(ms(10));
        call_id(&mut c, 1);
        call_id(&mut c, 2);
        c.fail_pending();
        events(&mut c);
        // Three abandonments, memory of two: 0 (the deadline) is forgotten.
        for id in [1, 2] {
            let evs = answer(&mut c, id);
            assert!(is_late(&evs, id, true), "strict {strict}: {evs:?}");
        }
        let evs = answer(&mut c, 0);
        if strict {
            assert!(is_fatal(&mut c, &evs, 0), "{evs:?}");
        } else {
            assert!(is_late(&evs, 0, false), "{evs:?}");
        }
    }
}

#[test]
fn a_late_memory_of_zero_remembers_nothing() {
    let mut c = client(0, true);
    call_id(&mut c, 5);
    c.cancel(RpcId(5)).unwrap();
    let evs = answer(&mut c, 5);
    assert!(is_fatal(&mut c, &evs, 5), "{evs:?}");
}

/// Regression: the memory forgot an id through the stale record of an
/// earlier abandonment, after the caller had reused the id. With a memory
/// of two, id 5 was abandoned two abandonments ago, so its answer is late;
/// the strict client used to fail on it.
#[test]
fn an_id_abandoned_reused_and_abandoned_again_is_remembered_from_its_latest_abandonment() {
    let mut c = client(2, true);
    call_id(&mut c, 5);
    c.cancel(RpcId(5)).unwrap();
    call_id(&mut c, 5); // reused on purpose: forgotten
    c.cancel(RpcId(5)).unwrap();
    call_id(&mut c, 6);
    c.cancel(RpcId(6)).unwrap();
    let evs = answer(&mut c, 5);
    assert!(is_late(&evs, 5, true), "{evs:?}");
    assert_eq!(c.state(), State::Open);
}

#[test]
fn an_id_the_caller_reuses_is_forgotten_until_abandoned_again() {
    let mut c = client(8, true);
    call_id(&mut c, 5);
    c.cancel(RpcId(5)).unwrap();
    call_id(&mut c, 5);
    c.handle_read(T0, &encode_frame(&Codec::default(), 5, b"answer"));
    assert!(matches!(
        &events(&mut c)[..],
        [Event::Completed {
            ctx: 5,
            result: Ok(_),
            ..
        }]
    ));
    // Answered, not abandoned: a second answer is unknown, not late.
    let evs = answer(&mut c, 5);
    assert!(is_fatal(&mut c, &evs, 5), "{evs:?}");
}

fn one_byte_ids() -> Connection<Duration, u64> {
    let codec = Codec::builder().id_field_len(1).build().unwrap();
    let config = Config::builder().codec(codec).build().unwrap();
    Connection::client(config, T0)
}

/// Regression: pending ids counted towards giving up on a fresh id, so with
/// pending ids after the cursor the core reused a remembered id (whose late
/// answer would then complete the wrong call) while fresh ids were free.
#[test]
fn automatic_ids_skip_remembered_ids_while_a_fresh_one_is_free_even_behind_pending_ids() {
    let mut c = one_byte_ids();
    for ctx in 0..10 {
        assert_eq!(c.call(T0, "x", ctx).unwrap(), RpcId(ctx));
    }
    for id in 10..=20 {
        call_id(&mut c, id);
    }
    call_id(&mut c, 21);
    c.cancel(RpcId(21)).unwrap();
    // The cursor is at 10: 10..=20 are pending, 21 is remembered.
    assert_eq!(c.call(T0, "x", 99).unwrap(), RpcId(22));
}

#[test]
fn when_every_free_id_is_remembered_an_automatic_id_reuses_one_and_no_free_id_comes_only_when_all_are_pending(
) {
    let mut c = one_byte_ids();
    for ctx in 0..256 {
        c.call(T0, "x", ctx).unwrap();
    }
    let refused = c.call(T0, "x", 256).unwrap_err();
    assert_eq!(refused.error, CallError::NoFreeId);
    c.cancel(RpcId(7)).unwrap();
    c.cancel(RpcId(200)).unwrap();
    // Both free ids are remembered: one of them is taken, then the other.
    let a = c.call(T0, "x", 257).unwrap();
    let b = c.call(T0, "x", 258).unwrap();
    let mut got = [a.0, b.0];
    got.sort_unstable();
    assert_eq!(got, [7, 200]);
    assert_eq!(c.call(T0, "x", 259).unwrap_err().error, CallError::NoFreeId);
}

#[test]
fn without_ids_every_abandoned_calls_response_is_late_whatever_late_memory_says() {
    let codec = Codec::builder().id_field_len(0).build().unwrap();
    let config = Config::builder()
        .codec(codec.clone())
        .late_memory(1)
        .strict_unknown_ids(true)
        .build()
        .unwrap();
    let mut c: Connection<Duration, u64> = Connection::client(config, T0);
    for ctx in 0..3 {
        c.call(T0, "x", ctx).unwrap();
    }
    for seq in 0..3 {
        c.cancel(RpcId(seq)).unwrap();
    }
    // Each response takes its place in the queue of calls, however long ago
    // the call was abandoned: the slots are kept until the answers come.
    for seq in 0..3 {
        c.handle_read(T0, &encode_frame(&codec, 0, b"late"));
        let evs = events(&mut c);
        assert!(is_late(&evs, seq, true), "{evs:?}");
    }
    // A fourth answer matches nothing: strict mode fails.
    c.handle_read(T0, &encode_frame(&codec, 0, b"extra"));
    let evs = events(&mut c);
    assert!(is_fatal(&mut c, &evs, 3), "{evs:?}");
}
