//! Every event of SPEC section 4, and the defaults of section 5 that the
//! core holds (socket options and the connect timeout belong to the
//! adapters).

use framing_core::testkit::encode_frame;
use std::time::Duration;

use bytes::{Buf, Bytes};
use framing_core::testkit::pair::{LinkConfig, Pair};
use framing_core::testkit::peek_transmit;
use framing_core::{
    CallError, CallOptions, Codec, Config, Connection, DisconnectReason, Event, ProtocolError,
    RpcId, State, DEFAULT_IDLE_TIMEOUT, DEFAULT_LOW_BUFFER_BYTES, DEFAULT_MAX_BUFFER_BYTES,
    DEFAULT_MAX_FRAME_LENGTH, DEFAULT_WARN_BUFFER_BYTES, MAX_HEADER_LEN,
};

const T0: Duration = Duration::ZERO;
const KIB: usize = 1024;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn events<C>(conn: &mut Connection<Duration, C>) -> Vec<Event<C>> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

fn watermarks(low: usize, warn: usize, max: usize) -> Config {
    Config::builder()
        .low_buffer_bytes(low)
        .warn_buffer_bytes(warn)
        .max_buffer_bytes(max)
        .build()
        .unwrap()
}

fn pauses_and_resumes<C>(evs: &[Event<C>]) -> Vec<(char, usize)> {
    evs.iter()
        .filter_map(|e| match e {
            Event::Pause { queued } => Some(('P', *queued)),
            Event::Resume { queued } => Some(('R', *queued)),
            _ => None,
        })
        .collect()
}

// ------------------------------------------------------------ Pause / Resume

#[test]
fn pause_is_raised_once_when_unwritten_bytes_cross_the_warn_watermark() {
    let mut c: Connection<Duration> = Connection::client(watermarks(0, 20, 1000), T0);
    c.call(T0, Bytes::from(vec![0; 12]), ()).unwrap(); // 20 queued: not above
    assert!(events(&mut c).is_empty());
    c.call(T0, Bytes::new(), ()).unwrap(); // 28
    c.call(T0, Bytes::new(), ()).unwrap(); // 36: still paused, no second Pause
    assert_eq!(pauses_and_resumes(&events(&mut c)), [('P', 28)]);
    assert!(c.is_paused());
}

#[test]
fn resume_is_raised_when_unwritten_bytes_drain_to_the_default_low_watermark() {
    let mut c: Connection<Duration> = Connection::client(watermarks(0, 20, 1000), T0);
    for _ in 0..4 {
        c.call(T0, Bytes::new(), ()).unwrap(); // 32 queued
    }
    events(&mut c);
    c.poll_transmit(T0).expect("bytes queued").advance(31);
    assert!(events(&mut c).is_empty(), "below warn is not enough");
    assert!(c.is_paused());
    c.poll_transmit(T0).expect("bytes queued").advance(1);
    assert_eq!(pauses_and_resumes(&events(&mut c)), [('R', 0)]);
    assert!(!c.is_paused());
}

#[test]
fn resume_honours_a_custom_low_watermark() {
    let mut c: Connection<Duration> = Connection::client(watermarks(10, 20, 1000), T0);
    for _ in 0..4 {
        c.call(T0, Bytes::new(), ()).unwrap(); // 32 queued
    }
    events(&mut c);
    c.poll_transmit(T0).expect("bytes queued").advance(21); // 11 left
    assert!(events(&mut c).is_empty());
    c.poll_transmit(T0).expect("bytes queued").advance(1); // 10 left
    assert_eq!(pauses_and_resumes(&events(&mut c)), [('R', 10)]);
}

#[test]
fn pause_is_raised_again_on_the_next_crossing_after_a_resume() {
    let mut c: Connection<Duration> = Connection::client(watermarks(0, 20, 1000), T0);
    for round in 0..3 {
        for _ in 0..3 {
            c.call(T0, Bytes::new(), ()).unwrap();
        }
        let n = c.queued_bytes();
        c.poll_transmit(T0).expect("bytes queued").advance(n);
        assert_eq!(
            pauses_and_resumes(&events(&mut c)),
            [('P', 24), ('R', 0)],
            "round {round}"
        );
    }
}

#[test]
fn a_paused_server_stops_reading_until_its_responses_drain() {
    let link = LinkConfig::default().with_capacity(16);
    let mut pair: Pair<u8> = Pair::with_configs(Config::default(), watermarks(0, 64, 1000))
        .with_links(LinkConfig::default(), link)
        .with_handler(|_, _| Some(Bytes::from(vec![7; 100])));
    pair.set_client_reading(false);
    pair.call(Bytes::new(), 1).unwrap();
    pair.drive();
    assert!(pair.server.is_paused());
    assert!(!pair.server.wants_read(), "backpressure onto the client");
    let evs = pair.take_server_events();
    assert!(matches!(evs.as_slice(), [Event::Pause { .. }]), "{evs:?}");
    pair.set_client_reading(true);
    pair.drive();
    assert!(pair.server.wants_read());
    let evs = pair.take_server_events();
    assert!(
        matches!(evs.as_slice(), [Event::Resume { queued: 0 }]),
        "{evs:?}"
    );
    assert_eq!(pair.take_completions().len(), 1);
}

// ------------------------------------------------------------ IdleTimeout

#[test]
fn idle_timeout_fires_once_per_idle_stretch_and_the_connection_stays_open() {
    let config = Config::builder()
        .idle_timeout(Some(ms(100)))
        .build()
        .unwrap();
    let mut c: Connection<Duration> = Connection::client(config, T0);
    assert_eq!(c.poll_timeout(), Some(ms(100)));
    c.handle_timeout(ms(99));
    assert!(events(&mut c).is_empty());
    c.handle_timeout(ms(100));
    assert!(matches!(events(&mut c).as_slice(), [Event::IdleTimeout]));
    c.handle_timeout(ms(500));
    c.handle_timeout(ms(5000));
    assert!(events(&mut c).is_empty(), "once per idle stretch");
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.state(), State::Open);
    assert!(c.call(ms(5000), Bytes::new(), ()).is_ok());
}

#[test]
fn idle_timeout_is_rearmed_by_reading_or_writing() {
    let config = Config::builder()
        .idle_timeout(Some(ms(100)))
        .build()
        .unwrap();
    let mut c: Connection<Duration> = Connection::client(config, T0);
    c.handle_timeout(ms(100));
    assert_eq!(events(&mut c).len(), 1);
    // Writing counts as activity.
    c.call(ms(150), Bytes::new(), ()).unwrap();
    c.poll_transmit(ms(150)).expect("bytes queued").advance(8);
    assert_eq!(c.poll_timeout(), Some(ms(250)));
    c.handle_timeout(ms(250));
    assert!(matches!(events(&mut c).as_slice(), [Event::IdleTimeout]));
    // So does reading (here, the response).
    c.handle_read(ms(300), &encode_frame(&Codec::default(), 0, b""));
    events(&mut c);
    assert_eq!(c.poll_timeout(), Some(ms(400)));
    c.handle_timeout(ms(399));
    assert!(events(&mut c).is_empty());
    c.handle_timeout(ms(400));
    assert!(matches!(events(&mut c).as_slice(), [Event::IdleTimeout]));
}

#[test]
fn a_disabled_idle_timeout_never_fires() {
    let config = Config::builder().idle_timeout(None).build().unwrap();
    let mut c: Connection<Duration> = Connection::client(config, T0);
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(Duration::from_secs(3600));
    assert!(events(&mut c).is_empty());
}

// ------------------------------------------------------------ Disconnected

#[test]
fn disconnected_is_raised_when_the_peer_closes_between_frames() {
    let mut c: Connection<Duration> = Connection::client(Config::default(), T0);
    c.handle_eof(T0);
    assert!(matches!(
        events(&mut c).as_slice(),
        [Event::Disconnected(DisconnectReason::PeerClosed)]
    ));
    assert_eq!(
        c.state(),
        State::Closed(CallError::Disconnected(DisconnectReason::PeerClosed))
    );
    assert!(!c.wants_read());
}

#[test]
fn disconnected_is_never_raised_after_close() {
    let mut c: Connection<Duration, u8> = Connection::client(Config::default(), T0);
    c.call(T0, Bytes::new(), 1).unwrap();
    c.close();
    c.handle_eof(T0);
    c.handle_io_error(
        T0,
        DisconnectReason::io(framing_core::IoFailure::BrokenPipe, "broken pipe"),
    );
    let evs = events(&mut c);
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert!(matches!(
        &evs[0],
        Event::Completed {
            result: Err(CallError::Closed),
            ..
        }
    ));
}

#[test]
fn disconnected_is_raised_once_however_many_errors_follow() {
    let mut c: Connection<Duration> = Connection::client(Config::default(), T0);
    c.handle_eof(T0);
    c.handle_eof(T0);
    c.handle_io_error(T0, DisconnectReason::PeerClosed);
    assert_eq!(events(&mut c).len(), 1);
}

#[test]
fn calls_ended_together_complete_in_id_order() {
    // The pending table's own order follows a randomly seeded hasher; the
    // same inputs must still give the same events in the same order.
    let completed = |evs: Vec<Event<u64>>| -> Vec<u64> {
        evs.iter()
            .filter_map(|e| match e {
                Event::Completed { id, ctx, .. } if id.0 == *ctx => Some(id.0),
                _ => None,
            })
            .collect()
    };
    let mut c: Connection<Duration, u64> = Connection::client(Config::default(), T0);
    for i in 0..64 {
        c.call(T0, Bytes::new(), i).unwrap();
    }
    c.fail_pending();
    assert_eq!(completed(events(&mut c)), (0..64).collect::<Vec<_>>());
    for i in 64..128 {
        c.call(T0, Bytes::new(), i).unwrap();
    }
    c.handle_eof(T0);
    assert_eq!(completed(events(&mut c)), (64..128).collect::<Vec<_>>());
}

// ------------------------------------------------------------ UnknownResponse

fn unknown<C>(evs: &[Event<C>]) -> Vec<(RpcId, bool)> {
    evs.iter()
        .filter_map(|e| match e {
            Event::UnknownResponse { id, late } => Some((*id, *late)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_response_for_a_cancelled_call_is_reported_as_late() {
    let mut c: Connection<Duration, u8> = Connection::client(Config::default(), T0);
    let id = c.call(T0, Bytes::new(), 1).unwrap();
    c.cancel(id);
    c.handle_read(T0, &encode_frame(&Codec::default(), id.0, b"late"));
    assert_eq!(unknown(&events(&mut c)), [(id, true)]);
    let s = c.stats();
    assert_eq!((s.unknown_responses, s.late_responses), (1, 1));
}

#[test]
fn a_response_after_the_deadline_is_reported_as_late() {
    let mut c: Connection<Duration, u8> = Connection::client(Config::default(), T0);
    let id = c
        .call_with(T0, Bytes::new(), CallOptions::new().timeout(ms(10)), 1)
        .unwrap();
    c.handle_timeout(ms(10));
    c.handle_read(ms(20), &encode_frame(&Codec::default(), id.0, b"late"));
    let evs = events(&mut c);
    assert!(matches!(
        &evs[0],
        Event::Completed {
            result: Err(CallError::DeadlineExceeded),
            ..
        }
    ));
    assert_eq!(unknown(&evs), [(id, true)]);
}

#[test]
fn a_response_with_an_id_never_used_is_reported_as_unknown_not_late() {
    let mut c: Connection<Duration, u8> = Connection::client(Config::default(), T0);
    c.call(T0, Bytes::new(), 1).unwrap();
    c.handle_read(T0, &encode_frame(&Codec::default(), 4242, b"?"));
    assert_eq!(unknown(&events(&mut c)), [(RpcId(4242), false)]);
    assert_eq!(c.pending_calls(), 1, "the pending call is untouched");
    assert_eq!(c.state(), State::Open);
    let s = c.stats();
    assert_eq!((s.unknown_responses, s.late_responses), (1, 0));
}

#[test]
fn a_duplicate_response_is_reported_as_unknown() {
    let mut c: Connection<Duration, u8> = Connection::client(Config::default(), T0);
    let id = c.call(T0, Bytes::new(), 1).unwrap();
    let f = encode_frame(&Codec::default(), id.0, b"r");
    c.handle_read(T0, &f);
    c.handle_read(T0, &f);
    let evs = events(&mut c);
    assert_eq!(evs.len(), 2);
    assert_eq!(unknown(&evs), [(id, false)]);
}

#[test]
fn without_ids_a_response_with_nothing_pending_is_unknown_and_one_for_a_cancelled_call_is_late() {
    let codec = Codec::builder().id_field_len(0).build().unwrap();
    let config = Config::builder().codec(codec.clone()).build().unwrap();
    let mut c: Connection<Duration, u8> = Connection::client(config, T0);
    let a = c.call(T0, Bytes::new(), 1).unwrap();
    let b = c.call(T0, Bytes::new(), 2).unwrap();
    c.cancel(a);
    let f = encode_frame(&codec, 0, b"r");
    c.handle_read(T0, &f); // answers a: late
    c.handle_read(T0, &f); // answers b
    c.handle_read(T0, &f); // answers nothing
    let evs = events(&mut c);
    assert_eq!(unknown(&evs), [(a, true), (RpcId(2), false)]);
    assert!(evs
        .iter()
        .any(|e| matches!(e, Event::Completed { id, ctx: 2, result: Ok(_) } if *id == b)));
}

// ------------------------------------------------------------ ProtocolError

#[test]
fn protocol_error_event_names_the_offending_length_and_the_limit() {
    let codec = Codec::builder().max_frame_length(100).build().unwrap();
    let mut s: Connection<Duration> =
        Connection::server(Config::builder().codec(codec).build().unwrap(), T0);
    s.handle_read(T0, &[0, 0, 0, 101]);
    let evs = events(&mut s);
    assert!(matches!(
        evs.as_slice(),
        [Event::ProtocolError(ProtocolError::LengthTooLarge {
            length: 101,
            max: 100
        })]
    ));
    assert_eq!(
        s.state(),
        State::Closed(CallError::Protocol(ProtocolError::LengthTooLarge {
            length: 101,
            max: 100
        }))
    );
}

#[test]
fn a_protocol_error_through_the_pair_ends_both_sides() {
    let mut pair: Pair<u8> = Pair::new(Config::default()).holding_requests();
    pair.call(Bytes::new(), 1).unwrap();
    pair.drive();
    pair.send_raw_to_client(&[0x80, 0, 0, 0]);
    pair.drive();
    let done = pair.take_completions();
    assert_eq!(
        done[0].result,
        Err(CallError::Protocol(ProtocolError::NegativeLength {
            length: i64::from(i32::MIN)
        }))
    );
    assert!(pair.client.is_closed());
    assert!(pair.server.is_closed(), "the server sees the stream end");
}

// ------------------------------------------------------------ defaults (section 5)

#[test]
fn the_defaults_are_the_node_librarys() {
    let c = Config::default();
    assert_eq!(DEFAULT_IDLE_TIMEOUT, Duration::from_secs(5));
    assert_eq!(c.idle_timeout(), Some(DEFAULT_IDLE_TIMEOUT));
    assert_eq!(DEFAULT_WARN_BUFFER_BYTES, 512 * KIB);
    assert_eq!(c.warn_buffer_bytes(), DEFAULT_WARN_BUFFER_BYTES);
    assert_eq!(DEFAULT_MAX_BUFFER_BYTES, 1024 * KIB);
    assert_eq!(c.max_buffer_bytes(), DEFAULT_MAX_BUFFER_BYTES);
    assert_eq!(DEFAULT_LOW_BUFFER_BYTES, 0);
    assert_eq!(c.low_buffer_bytes(), 0);
    assert_eq!(c.call_timeout(), None);
    assert_eq!(DEFAULT_MAX_FRAME_LENGTH, 8 * 1024 * 1024);
}

#[test]
fn by_default_frames_are_a_4_byte_big_endian_length_of_id_and_payload_then_a_4_byte_big_endian_id()
{
    let mut c: Connection<Duration> = Connection::client(Config::default(), T0);
    c.call_with(
        T0,
        Bytes::from_static(b"abc"),
        CallOptions::new().id(RpcId(0x0102_0304)),
        (),
    )
    .unwrap();
    let wire = peek_transmit(&mut c, T0);
    assert_eq!(wire, [0, 0, 0, 7, 1, 2, 3, 4, b'a', b'b', b'c']);
}

#[test]
fn by_default_the_idle_timeout_fires_after_five_seconds() {
    let mut c: Connection<Duration> = Connection::client(Config::default(), T0);
    assert_eq!(c.poll_timeout(), Some(Duration::from_secs(5)));
    c.handle_timeout(Duration::from_millis(4999));
    assert!(events(&mut c).is_empty());
    c.handle_timeout(Duration::from_secs(5));
    assert!(matches!(events(&mut c).as_slice(), [Event::IdleTimeout]));
}

#[test]
fn by_default_pause_comes_above_512_kib_unwritten() {
    let mut c: Connection<Duration> = Connection::client(Config::default(), T0);
    c.call(T0, Bytes::from(vec![0; 512 * KIB - 8]), ()).unwrap();
    assert_eq!(c.queued_bytes(), 512 * KIB);
    assert!(events(&mut c).is_empty());
    c.call(T0, Bytes::new(), ()).unwrap();
    assert_eq!(pauses_and_resumes(&events(&mut c)), [('P', 512 * KIB + 8)]);
    let n = c.queued_bytes();
    c.poll_transmit(T0).expect("bytes queued").advance(n);
    assert_eq!(pauses_and_resumes(&events(&mut c)), [('R', 0)]);
}

#[test]
fn by_default_calls_are_refused_above_1_mib_unwritten() {
    let mut c: Connection<Duration> = Connection::client(Config::default(), T0);
    c.call(T0, Bytes::from(vec![0; 1024 * KIB - 8]), ())
        .unwrap();
    c.call(T0, Bytes::new(), ()).unwrap();
    let rej = c.call(T0, Bytes::new(), ()).unwrap_err();
    assert_eq!(
        rej.error,
        CallError::BufferFull {
            queued: 1024 * KIB + 8,
            max: 1024 * KIB
        }
    );
}

#[test]
fn by_default_calls_have_no_deadline() {
    let mut c: Connection<Duration> =
        Connection::client(Config::builder().idle_timeout(None).build().unwrap(), T0);
    c.call(T0, Bytes::new(), ()).unwrap();
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(Duration::from_secs(24 * 3600));
    assert!(events(&mut c).is_empty());
    assert_eq!(c.pending_calls(), 1);
}

#[test]
fn by_default_frames_may_be_up_to_8_mib() {
    let codec = Codec::default();
    assert_eq!(codec.max_payload_len(), 8 * 1024 * 1024 - 4);
    let mut out = [0u8; MAX_HEADER_LEN];
    assert!(codec
        .encode_header(RpcId(0), 8 * 1024 * 1024 - 4, &mut out)
        .is_ok());
    assert!(codec
        .encode_header(RpcId(0), 8 * 1024 * 1024 - 3, &mut out)
        .is_err());
    assert_eq!(
        codec.decode_header(&[0, 0x80, 0, 1]),
        Err(ProtocolError::LengthTooLarge {
            length: 8 * 1024 * 1024 + 1,
            max: 8 * 1024 * 1024
        })
    );
}
