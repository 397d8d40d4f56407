//! Every error of SPEC sections 1 (bad bytes from the peer) and 3 (client
//! operations), one test each, named as the sentence it checks.

use framing_core::testkit::encode_frame;
use std::time::Duration;

use bytes::Bytes;
use framing_core::testkit::pair::{Completion, Pair};
use framing_core::testkit::take_transmit;
use framing_core::{
    CallError, CallOptions, Codec, Config, Connection, DisconnectReason, Event, IoFailure,
    LengthCounts, ProtocolError, RespondError, RpcId, State,
};

const T0: Duration = Duration::ZERO;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn client<C>(config: Config) -> Connection<Duration, C> {
    Connection::client(config, T0)
}

fn server(config: Config) -> Connection<Duration> {
    Connection::server(config, T0)
}

/// Takes everything `conn` has to write, as if the socket took it all.
fn take_wire<C>(conn: &mut Connection<Duration, C>) -> Vec<u8> {
    take_transmit(conn, T0)
}

fn events<C>(conn: &mut Connection<Duration, C>) -> Vec<Event<C>> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// The completions among `events`, sorted by id.
fn completions<C>(events: &mut Vec<Event<C>>) -> Vec<Completion<C>> {
    let mut done = Vec::new();
    let mut rest = Vec::new();
    for ev in events.drain(..) {
        match ev {
            Event::Completed { id, ctx, result } => done.push(Completion { id, ctx, result }),
            other => rest.push(other),
        }
    }
    *events = rest;
    done.sort_by_key(|c| c.id);
    done
}

fn small_buffers() -> Config {
    Config::builder()
        .warn_buffer_bytes(10)
        .max_buffer_bytes(20)
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- section 3

#[test]
fn a_caller_id_already_pending_is_refused_at_once_with_duplicate_rpc_id() {
    let mut c = client(Config::default());
    c.call_with(
        T0,
        Bytes::from_static(b"a"),
        CallOptions::new().id(RpcId(7)),
        1,
    )
    .unwrap();
    let rej = c
        .call_with(
            T0,
            Bytes::from_static(b"b"),
            CallOptions::new().id(RpcId(7)),
            2,
        )
        .unwrap_err();
    assert_eq!(rej.error, CallError::DuplicateRpcId(RpcId(7)));
    assert_eq!((&rej.payload[..], rej.ctx), (&b"b"[..], 2));
    assert_eq!(c.pending_calls(), 1);
    assert_eq!(
        c.call_context(RpcId(7)),
        Some(&1),
        "the first call is untouched"
    );
    assert_eq!(c.stats().rejected, 1);
}

#[test]
fn a_caller_id_can_be_used_again_once_its_call_completed() {
    let mut pair: Pair<u8> = Pair::new(Config::default());
    let opts = CallOptions::new().id(RpcId(3));
    pair.call_with(Bytes::from_static(b"one"), opts, 1).unwrap();
    pair.drive();
    assert_eq!(pair.take_completions().len(), 1);
    assert_eq!(
        pair.call_with(Bytes::from_static(b"two"), opts, 2).unwrap(),
        RpcId(3)
    );
}

#[test]
fn automatic_ids_skip_ids_the_caller_has_pending() {
    let mut c = client(Config::default());
    for id in 0..3 {
        c.call_with(T0, Bytes::new(), CallOptions::new().id(RpcId(id)), ())
            .unwrap();
    }
    assert_eq!(c.call(T0, Bytes::new(), ()).unwrap(), RpcId(3));
}

#[test]
fn a_call_above_max_buffer_bytes_is_refused_with_buffer_full_handing_the_payload_back() {
    let mut c = client(small_buffers());
    c.call(T0, Bytes::from(vec![1u8; 30]), "first").unwrap();
    assert_eq!(c.queued_bytes(), 38);
    let payload = Bytes::from_static(b"second");
    let rej = c.call(T0, payload.clone(), "second").unwrap_err();
    assert_eq!(
        rej.error,
        CallError::BufferFull {
            queued: 38,
            max: 20
        }
    );
    assert_eq!(rej.payload, payload);
    assert_eq!(
        rej.payload.as_ptr(),
        payload.as_ptr(),
        "the very same bytes"
    );
    assert_eq!(rej.ctx, "second");
    assert_eq!(c.stats().rejected_buffer_full, 1);
    assert_eq!(c.stats().calls, 1);
    // Once written, calls are accepted again.
    take_wire(&mut c);
    assert!(c.call(T0, payload, "third").is_ok());
}

#[test]
fn a_call_at_exactly_max_buffer_bytes_is_still_accepted() {
    let mut c = client(small_buffers());
    c.call(T0, Bytes::from(vec![1u8; 12]), 1).unwrap();
    assert_eq!(c.queued_bytes(), 20);
    assert!(c.call(T0, Bytes::new(), 2).is_ok());
    assert!(matches!(
        c.call(T0, Bytes::new(), 3).unwrap_err().error,
        CallError::BufferFull {
            queued: 28,
            max: 20
        }
    ));
}

#[test]
fn close_completes_every_pending_call_with_closed_and_drops_unwritten_bytes() {
    let mut c = client(Config::default());
    for i in 0..3 {
        c.call(T0, Bytes::from_static(b"x"), i).unwrap();
    }
    c.close();
    let mut evs = events(&mut c);
    let done = completions(&mut evs);
    assert_eq!(done.len(), 3);
    assert!(done.iter().all(|d| d.result == Err(CallError::Closed)));
    assert!(evs.is_empty(), "no other event: {evs:?}");
    assert_eq!(c.state(), State::Closed(CallError::Closed));
    assert_eq!(c.queued_bytes(), 0);
    assert!(c.poll_transmit(T0).is_none());
}

#[test]
fn calls_after_close_are_refused_with_closed() {
    let mut c = client(Config::default());
    c.close();
    let rej = c.call(T0, Bytes::from_static(b"late"), 9).unwrap_err();
    assert_eq!(rej.error, CallError::Closed);
    assert_eq!((&rej.payload[..], rej.ctx), (&b"late"[..], 9));
}

#[test]
fn calls_during_a_graceful_shutdown_are_refused_with_shutting_down() {
    let mut c = client(Config::default());
    c.call(T0, Bytes::new(), 1).unwrap();
    c.shutdown(ms(100));
    assert_eq!(c.state(), State::ShuttingDown { deadline: ms(100) });
    let rej = c.call(T0, Bytes::from_static(b"no"), 2).unwrap_err();
    assert_eq!(rej.error, CallError::ShuttingDown);
    assert_eq!(rej.ctx, 2);
}

#[test]
fn a_graceful_shutdown_lets_in_flight_calls_finish_then_closes() {
    let mut pair: Pair<u8> = Pair::new(Config::default()).holding_requests();
    pair.call(Bytes::from_static(b"a"), 1).unwrap();
    pair.call(Bytes::from_static(b"b"), 2).unwrap();
    pair.drive();
    pair.client.shutdown(ms(1000));
    pair.advance(ms(10));
    let held = pair.take_held_requests();
    pair.respond(held[0].0, Bytes::from_static(b"A")).unwrap();
    pair.drive();
    assert_eq!(
        pair.client.state(),
        State::ShuttingDown { deadline: ms(1000) },
        "one call still in flight"
    );
    pair.respond(held[1].0, Bytes::from_static(b"B")).unwrap();
    pair.drive();
    let done = pair.take_completions();
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|d| d.result.is_ok()));
    assert_eq!(pair.client.state(), State::Closed(CallError::Closed));
    assert!(pair.now() < ms(1000));
}

#[test]
fn a_graceful_shutdown_completes_what_is_left_with_closed_at_its_deadline() {
    let mut pair: Pair<u8> = Pair::new(Config::default()).holding_requests();
    pair.call(Bytes::from_static(b"a"), 1).unwrap();
    pair.drive();
    pair.client.shutdown(ms(50));
    assert_eq!(pair.client.poll_timeout(), Some(ms(50)));
    pair.advance(ms(49));
    assert!(pair.take_completions().is_empty());
    pair.advance(ms(1));
    let done = pair.take_completions();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].result, Err(CallError::Closed));
    assert_eq!(pair.client.state(), State::Closed(CallError::Closed));
}

#[test]
fn a_shutdown_with_nothing_in_flight_closes_at_once() {
    let mut c: Connection<Duration> = client(Config::default());
    c.shutdown(ms(50));
    assert_eq!(c.state(), State::Closed(CallError::Closed));
    assert!(events(&mut c).is_empty());
}

#[test]
fn a_call_past_its_deadline_completes_with_deadline_exceeded() {
    let mut c = client(Config::builder().idle_timeout(None).build().unwrap());
    let id = c
        .call_with(
            T0,
            Bytes::new(),
            CallOptions::new().timeout(ms(200)),
            "slow",
        )
        .unwrap();
    assert_eq!(c.poll_timeout(), Some(ms(200)));
    c.handle_timeout(ms(199)); // early: harmless
    assert!(events(&mut c).is_empty());
    c.handle_timeout(ms(200));
    c.handle_timeout(ms(200)); // twice: harmless
    let mut evs = events(&mut c);
    let done = completions(&mut evs);
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].id, done[0].ctx), (id, "slow"));
    assert_eq!(done[0].result, Err(CallError::DeadlineExceeded));
    assert_eq!(c.stats().timeouts, 1);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn the_connections_call_timeout_applies_unless_a_call_opts_out() {
    let config = Config::builder()
        .idle_timeout(None)
        .call_timeout(Some(ms(100)))
        .build()
        .unwrap();
    let mut c = client(config);
    c.call(T0, Bytes::new(), "default").unwrap();
    c.call_with(T0, Bytes::new(), CallOptions::new().no_timeout(), "never")
        .unwrap();
    c.call_with(T0, Bytes::new(), CallOptions::new().timeout(ms(300)), "own")
        .unwrap();
    c.handle_timeout(ms(100));
    let mut evs = events(&mut c);
    let done = completions(&mut evs);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].ctx, "default");
    assert_eq!(c.poll_timeout(), Some(ms(300)));
    c.handle_timeout(ms(10_000));
    let mut evs = events(&mut c);
    let done = completions(&mut evs);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].ctx, "own");
    assert_eq!(c.pending_calls(), 1, "the call without deadline waits");
}

#[test]
fn the_peer_closing_completes_pending_calls_with_disconnected() {
    let mut pair: Pair<u8> = Pair::new(Config::default()).holding_requests();
    pair.call(Bytes::from_static(b"a"), 1).unwrap();
    pair.drive();
    pair.server.close();
    pair.drive();
    let done = pair.take_completions();
    assert_eq!(done.len(), 1);
    assert_eq!(
        done[0].result,
        Err(CallError::Disconnected(DisconnectReason::PeerClosed))
    );
    let evs = pair.take_client_events();
    assert!(matches!(
        evs.as_slice(),
        [Event::Disconnected(DisconnectReason::PeerClosed)]
    ));
}

#[test]
fn the_peer_closing_mid_frame_says_how_much_of_the_frame_had_arrived() {
    let mut c = client(Config::default());
    c.call(T0, Bytes::new(), 1).unwrap();
    let codec = Codec::default();
    let whole = encode_frame(&codec, 0, b"hello");
    c.handle_read(T0, &whole[..6]);
    c.handle_eof(T0);
    let reason = DisconnectReason::PeerClosedMidFrame { buffered: 6 };
    let mut evs = events(&mut c);
    let done = completions(&mut evs);
    assert_eq!(done[0].result, Err(CallError::Disconnected(reason.clone())));
    assert!(matches!(evs.as_slice(), [Event::Disconnected(r)] if *r == reason));
    assert!(reason.to_string().contains("mid-frame"));
}

#[test]
fn an_io_error_completes_pending_calls_with_disconnected_carrying_the_error() {
    let mut c = client(Config::default());
    c.call(T0, Bytes::new(), 1).unwrap();
    let err = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
    c.handle_io_error(T0, DisconnectReason::from(err));
    let mut evs = events(&mut c);
    let done = completions(&mut evs);
    let reason = match &done[0].result {
        Err(CallError::Disconnected(reason @ DisconnectReason::Io(e))) => {
            assert_eq!(e.kind(), IoFailure::Reset);
            assert!(e.to_string().contains("reset by peer"));
            // The io::Error is kept whole, as the reason's source.
            let source = std::error::Error::source(reason).expect("a source");
            let io = source
                .downcast_ref::<std::io::Error>()
                .expect("the io::Error");
            assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
            assert!(e.io_error().is_some());
            reason.clone()
        }
        other => panic!("{other:?}"),
    };
    assert!(matches!(evs.as_slice(), [Event::Disconnected(_)]));
    assert_eq!(c.state(), State::Closed(CallError::Disconnected(reason)));
}

#[test]
fn fail_pending_completes_every_call_with_failed_by_user_and_keeps_the_connection_usable() {
    let mut pair: Pair<u8> = Pair::new(Config::default()).holding_requests();
    pair.call(Bytes::from_static(b"a"), 1).unwrap();
    pair.call(Bytes::from_static(b"b"), 2).unwrap();
    pair.drive();
    pair.client.fail_pending();
    pair.drive();
    let done = pair.take_completions();
    assert_eq!(done.len(), 2);
    assert!(done
        .iter()
        .all(|d| d.result == Err(CallError::FailedByUser)));
    assert_eq!(pair.client.state(), State::Open);
    // Their late answers are dropped; a new call works.
    for (id, payload) in pair.take_held_requests() {
        pair.respond(id, payload).unwrap();
    }
    pair.call(Bytes::from_static(b"c"), 3).unwrap();
    pair.drive();
    let held = pair.take_held_requests();
    pair.respond(held[0].0, Bytes::from_static(b"C")).unwrap();
    pair.drive();
    let done = pair.take_completions();
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0].ctx, done[0].result.clone()),
        (3, Ok(Bytes::from_static(b"C")))
    );
    let late: Vec<bool> = pair
        .take_client_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::UnknownResponse { late, .. } => Some(late),
            _ => None,
        })
        .collect();
    assert_eq!(late, [true, true]);
}

#[test]
fn a_caller_id_wider_than_the_id_field_is_refused_with_id_out_of_range() {
    let codec = Codec::builder().id_field_len(1).build().unwrap();
    let mut c = client(Config::builder().codec(codec).build().unwrap());
    let rej = c
        .call_with(T0, Bytes::new(), CallOptions::new().id(RpcId(256)), ())
        .unwrap_err();
    assert_eq!(
        rej.error,
        CallError::IdOutOfRange {
            id: RpcId(256),
            max: 255
        }
    );
    assert!(c
        .call_with(T0, Bytes::new(), CallOptions::new().id(RpcId(255)), ())
        .is_ok());
}

#[test]
fn a_one_byte_id_field_with_every_id_pending_refuses_the_next_call_with_no_free_id() {
    let codec = Codec::builder().id_field_len(1).build().unwrap();
    let mut c = client(Config::builder().codec(codec).build().unwrap());
    let mut ids: Vec<u64> = (0..256)
        .map(|i| c.call(T0, Bytes::new(), i).unwrap().0)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 256, "every id used once");
    let rej = c.call(T0, Bytes::new(), 256).unwrap_err();
    assert_eq!(rej.error, CallError::NoFreeId);
    // Freeing one id makes room again.
    assert_eq!(c.cancel(RpcId(17)), Some(17));
    assert_eq!(c.call(T0, Bytes::new(), 257).unwrap(), RpcId(17));
}

#[test]
fn a_payload_larger_than_a_frame_is_refused_with_frame_too_large() {
    let codec = Codec::builder().max_frame_length(20).build().unwrap();
    let config = Config::builder().codec(codec).build().unwrap();
    let mut c = client(config.clone());
    assert!(c.call(T0, Bytes::from(vec![0u8; 16]), 1).is_ok());
    let rej = c.call(T0, Bytes::from(vec![0u8; 17]), 2).unwrap_err();
    assert_eq!(
        rej.error,
        CallError::FrameTooLarge {
            length: 21,
            max: 20
        }
    );
    assert_eq!(rej.payload.len(), 17);

    let mut s = server(config);
    assert_eq!(
        s.respond(RpcId(1), Bytes::from(vec![0u8; 17])),
        Err(RespondError::FrameTooLarge {
            length: 21,
            max: 20
        })
    );
}

#[test]
fn calls_on_a_server_are_refused_with_wrong_role() {
    let mut s = server(Config::default());
    let rej = s.call(T0, Bytes::from_static(b"x"), ()).unwrap_err();
    assert_eq!(rej.error, CallError::WrongRole);
    let mut c: Connection<Duration> = client(Config::default());
    assert_eq!(
        c.respond(RpcId(0), Bytes::new()),
        Err(RespondError::WrongRole)
    );
}

#[test]
fn caller_ids_without_an_id_field_are_refused_with_ids_not_supported() {
    let codec = Codec::builder().id_field_len(0).build().unwrap();
    let mut c = client(Config::builder().codec(codec).build().unwrap());
    let rej = c
        .call_with(T0, Bytes::new(), CallOptions::new().id(RpcId(0)), ())
        .unwrap_err();
    assert_eq!(rej.error, CallError::IdsNotSupported);
    assert_eq!(c.call(T0, Bytes::new(), ()).unwrap(), RpcId(0));
}

#[test]
fn answering_a_request_twice_without_ids_is_refused_with_unknown_request() {
    let codec = Codec::builder().id_field_len(0).build().unwrap();
    let mut s = server(Config::builder().codec(codec.clone()).build().unwrap());
    s.handle_read(T0, &encode_frame(&codec, 0, b"q"));
    let Some(Event::Request { id, .. }) = s.poll_event() else {
        panic!("a request")
    };
    s.respond(id, Bytes::new()).unwrap();
    assert_eq!(
        s.respond(id, Bytes::new()),
        Err(RespondError::UnknownRequest(id))
    );
    assert_eq!(
        s.respond(RpcId(5), Bytes::new()),
        Err(RespondError::UnknownRequest(RpcId(5)))
    );
}

#[test]
fn answering_on_a_closed_server_is_refused_with_closed() {
    let mut s = server(Config::default());
    s.close();
    assert_eq!(s.respond(RpcId(1), Bytes::new()), Err(RespondError::Closed));
}

#[test]
fn cancel_hands_the_context_back_and_no_completion_follows() {
    let mut pair: Pair<&str> = Pair::new(Config::default()).holding_requests();
    let id = pair.call(Bytes::from_static(b"a"), "mine").unwrap();
    pair.drive();
    assert_eq!(pair.client.cancel(id), Some("mine"));
    assert_eq!(pair.client.cancel(id), None, "only once");
    assert_eq!(pair.client.pending_calls(), 0);
    for (id, p) in pair.take_held_requests() {
        pair.respond(id, p).unwrap();
    }
    pair.run();
    assert!(pair.take_completions().is_empty());
    assert_eq!(pair.client_stats().cancelled, 1);
    assert_eq!(pair.client_stats().late_responses, 1);
}

// ---------------------------------------------------------------- section 1

fn one_pending_call() -> Connection<Duration, u8> {
    let mut c = client(Config::default());
    c.call(T0, Bytes::new(), 1).unwrap();
    c.call(T0, Bytes::new(), 2).unwrap();
    c
}

fn assert_protocol_failure(c: &mut Connection<Duration, u8>, want: ProtocolError) {
    let mut evs = events(c);
    let done = completions(&mut evs);
    assert_eq!(done.len(), 2);
    assert!(done
        .iter()
        .all(|d| d.result == Err(CallError::Protocol(want))));
    assert!(
        matches!(evs.as_slice(), [Event::ProtocolError(p)] if *p == want),
        "{evs:?}"
    );
    assert_eq!(c.state(), State::Closed(CallError::Protocol(want)));
    assert_eq!(c.buffered_bytes(), 0);
}

#[test]
fn a_negative_length_is_a_protocol_error_that_fails_every_pending_call() {
    let mut c = one_pending_call();
    c.handle_read(T0, &[0xff, 0xff, 0xff, 0xf0]);
    assert_protocol_failure(&mut c, ProtocolError::NegativeLength { length: -16 });
}

#[test]
fn a_length_shorter_than_the_id_field_is_a_protocol_error() {
    let mut c = one_pending_call();
    c.handle_read(T0, &[0, 0, 0, 3, 0, 0, 0]);
    assert_protocol_failure(&mut c, ProtocolError::LengthTooShort { length: 3, min: 4 });
}

#[test]
fn a_whole_frame_length_shorter_than_its_header_is_a_protocol_error() {
    let codec = Codec::builder()
        .length_counts(LengthCounts::WholeFrame)
        .build()
        .unwrap();
    let mut c = client(Config::builder().codec(codec).build().unwrap());
    c.call(T0, Bytes::new(), 1u8).unwrap();
    c.call(T0, Bytes::new(), 2u8).unwrap();
    c.handle_read(T0, &[0, 0, 0, 7]);
    assert_protocol_failure(&mut c, ProtocolError::LengthTooShort { length: 7, min: 8 });
}

#[test]
fn a_length_above_the_maximum_is_a_protocol_error_before_its_bytes_arrive() {
    let mut c = one_pending_call();
    // Declares 1 GiB; only the length field arrives.
    c.handle_read(T0, &[0x40, 0, 0, 0]);
    assert!(
        c.read_buffer_capacity() < 1 << 20,
        "nothing reserved for it"
    );
    assert_protocol_failure(
        &mut c,
        ProtocolError::LengthTooLarge {
            length: 1 << 30,
            max: 8 * 1024 * 1024,
        },
    );
}

#[test]
fn an_unsigned_length_field_reads_the_top_bit_as_size_not_sign() {
    let codec = Codec::builder()
        .length_signed(false)
        .max_frame_length(u64::MAX)
        .build()
        .unwrap();
    let mut c = client(Config::builder().codec(codec).build().unwrap());
    c.call(T0, Bytes::new(), 1u8).unwrap();
    c.call(T0, Bytes::new(), 2u8).unwrap();
    c.handle_read(T0, &[0xff, 0xff, 0xff, 0xf0]);
    // A plausible (if large) frame: waiting for it, no error.
    assert!(events(&mut c).is_empty());
    assert_eq!(c.state(), State::Open);
    assert!(c.read_buffer_capacity() < 1 << 20);
}

#[test]
fn strict_mode_makes_an_unknown_response_id_a_protocol_error() {
    let config = Config::builder().strict_unknown_ids(true).build().unwrap();
    let mut c = client(config);
    c.call(T0, Bytes::new(), 1u8).unwrap();
    c.call(T0, Bytes::new(), 2u8).unwrap();
    c.handle_read(T0, &encode_frame(&Codec::default(), 99, b"?"));
    assert_protocol_failure(&mut c, ProtocolError::UnknownResponseId { id: RpcId(99) });
}

#[test]
fn frames_after_a_protocol_error_are_ignored() {
    let mut c = one_pending_call();
    let mut bytes = vec![0xff, 0xff, 0xff, 0xf0];
    bytes.extend(encode_frame(&Codec::default(), 0, b"x"));
    c.handle_read(T0, &bytes);
    c.handle_read(T0, &encode_frame(&Codec::default(), 1, b"y"));
    assert_protocol_failure(&mut c, ProtocolError::NegativeLength { length: -16 });
    assert_eq!(c.stats().frames_in, 0);
}

#[test]
fn error_messages_say_what_was_wrong_and_by_how_much() {
    let e = CallError::BufferFull {
        queued: 38,
        max: 20,
    };
    assert!(e.to_string().contains("38") && e.to_string().contains("20"));
    let p = ProtocolError::LengthTooLarge {
        length: 101,
        max: 100,
    };
    assert!(p.to_string().contains("101") && p.to_string().contains("100"));
    let e = CallError::Protocol(p);
    assert!(std::error::Error::source(&e).is_some());
}
