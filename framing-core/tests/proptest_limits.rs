//! Property tests of the limits: (d) unwritten bytes never exceed
//! `max_buffer_bytes` plus one frame, with `Pause`/`Resume` once per
//! crossing, under random calls and partial writes; (e) arbitrary bytes
//! into a client or a server never panic, and the read buffer stays
//! bounded by the frame limit, not by what the peer declares.

use std::time::Duration;

use bytes::{Buf, Bytes};
use framing_core::testkit::peek_transmit;
use framing_core::testkit::strategies::{codec, config_for, payload};
use framing_core::{CallError, Codec, Config, Connection, Event, RespondError, RpcId};
use proptest::collection::vec;
use proptest::prelude::*;

const T0: Duration = Duration::ZERO;

/// The largest frame `codec` allows on the wire, header included.
fn frame_max(codec: &Codec) -> usize {
    codec.standard().map_or(32, |h| h.header_len()) + codec.max_payload_len()
}

#[derive(Debug, Clone)]
enum WriteOp {
    Call(Bytes),
    /// The socket took this many bytes.
    Write(usize),
    /// The socket took everything.
    Drain,
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    prop_oneof![
        5 => payload(0..=320).prop_map(WriteOp::Call),
        3 => (0usize..=700).prop_map(WriteOp::Write),
        1 => Just(WriteOp::Drain),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (d) The write queue is bounded, watermarks fire once per crossing,
    /// and what is written is exactly the accepted calls' frames.
    #[test]
    fn unwritten_bytes_never_exceed_the_limit_plus_one_frame(
        config in codec().prop_flat_map(config_for),
        ops in vec(write_op(), 1..120),
    ) {
        let codec = config.codec().clone();
        let (warn, max, low) = (config.warn_buffer_bytes(), config.max_buffer_bytes(), config.low_buffer_bytes());
        let bound = max + frame_max(&codec);
        let mut conn: Connection<Duration, usize> = Connection::client(config.clone(), T0);
        let mut written = Vec::new();
        let mut accepted = Vec::new();
        let mut paused = false;
        for (i, op) in ops.into_iter().enumerate() {
            let before = conn.queued_bytes();
            match op {
                WriteOp::Call(p) => match conn.call(T0, p.clone(), i) {
                    Ok(_) => {
                        prop_assert!(before <= max, "accepted with {} queued > max {}", before, max);
                        accepted.push(p);
                    }
                    Err(rej) => {
                        prop_assert_eq!(&rej.payload, &p);
                        prop_assert_eq!(rej.ctx, i);
                        match rej.error {
                            CallError::BufferFull { queued, max: m } => {
                                prop_assert_eq!((queued, m), (before, max));
                                prop_assert!(before > max);
                            }
                            CallError::FrameTooLarge { .. } => {
                                prop_assert!(rej.payload.len() > codec.max_payload_len());
                            }
                            other => prop_assert!(false, "unexpected refusal {:?}", other),
                        }
                    }
                },
                WriteOp::Write(_) | WriteOp::Drain if conn.queued_bytes() > 0 => {
                    let all = peek_transmit(&mut conn, T0);
                    let n = match op {
                        WriteOp::Write(n) => n.min(all.len()),
                        _ => all.len(),
                    };
                    written.extend_from_slice(&all[..n]);
                    conn.poll_transmit(T0).expect("bytes queued").advance(n);
                }
                _ => {}
            }
            let queued = conn.queued_bytes();
            prop_assert!(queued <= bound, "{} unwritten bytes > {} + one frame", queued, max);
            while let Some(ev) = conn.poll_event() {
                match ev {
                    Event::Pause { queued: q } => {
                        prop_assert!(!paused, "Pause twice without Resume");
                        prop_assert!(before <= warn && q > warn, "Pause off the crossing: {} -> {}", before, q);
                        paused = true;
                    }
                    Event::Resume { queued: q } => {
                        prop_assert!(paused, "Resume without Pause");
                        prop_assert!(q <= low);
                        paused = false;
                    }
                    other => prop_assert!(false, "unexpected event {:?}", other),
                }
            }
            prop_assert_eq!(conn.is_paused(), paused);
            // No missed transitions: paused exactly when the queue crossed
            // warn and did not yet fall to low.
            if queued > warn {
                prop_assert!(paused);
            }
            if queued <= low {
                prop_assert!(!paused);
            }
        }
        // Everything written decodes to the accepted calls, in order.
        let rest = peek_transmit(&mut conn, T0);
        written.extend_from_slice(&rest);
        let mut server: Connection<Duration> = Connection::server(config, T0);
        server.handle_read(T0, &written);
        let mut got = Vec::new();
        while let Some(ev) = server.poll_event() {
            if let Event::Request { payload, .. } = ev {
                got.push(payload);
            }
        }
        prop_assert_eq!(got, accepted);
    }
}

fn hostile_codec() -> impl Strategy<Value = Codec> {
    prop_oneof![3 => codec(), 1 => Just(Codec::default())]
}

/// Feeds `chunks` to `conn`, lending its buffer where `lend` says so, and
/// checks the read buffer's bounds after each; answers requests. Returns
/// how many calls completed.
fn feed_garbage<C: std::fmt::Debug>(
    conn: &mut Connection<Duration, C>,
    chunks: &[Vec<u8>],
    lend: &[bool],
    read_chunk: usize,
) -> Result<u64, TestCaseError> {
    let codec = conn.config().codec().clone();
    let frame = frame_max(&codec);
    let largest = chunks.iter().map(Vec::len).max().unwrap_or(0);
    let mut fed = 0u64;
    let mut protocol_errors = 0;
    let mut completed = 0u64;
    for (i, chunk) in chunks.iter().enumerate() {
        let was_closed = conn.is_closed();
        if lend[i % lend.len()] {
            let mut rest = &chunk[..];
            while !rest.is_empty() && !conn.is_closed() {
                let room = conn.recv_buffer();
                let n = room.len().min(rest.len());
                prop_assert!(n > 0, "the lent buffer is never empty");
                room[..n].copy_from_slice(&rest[..n]);
                conn.handle_received(T0, n);
                fed += n as u64;
                rest = &rest[n..];
            }
        } else {
            conn.handle_read(T0, chunk);
            if !was_closed {
                fed += chunk.len() as u64;
            }
        }
        let buffered = conn.buffered_bytes();
        prop_assert!(
            buffered < frame.max(1),
            "{} bytes buffered, frames are at most {}",
            buffered,
            frame
        );
        let cap = conn.read_buffer_capacity();
        // The buffer holds at most one unfinished frame (and never more
        // than what arrived) plus one read, and grows by doubling; a
        // declared length costs nothing until its bytes come.
        let held = frame.min(fed as usize);
        let cap_bound = 2 * (2 * held + largest + read_chunk);
        prop_assert!(
            cap <= cap_bound,
            "read buffer capacity {} > {}",
            cap,
            cap_bound
        );
        while let Some(ev) = conn.poll_event() {
            prop_assert!(
                protocol_errors == 0,
                "event after the protocol error: {:?}",
                ev
            );
            match ev {
                Event::Request { id, payload } => {
                    // Answering must not panic either; ids of any value. A
                    // request is answerable as long as the connection is
                    // open (a protocol error later in the same read closes
                    // it, and then nothing can be answered).
                    let open = !conn.is_closed();
                    let got = conn.respond(id, payload);
                    if open {
                        prop_assert_eq!(got, Ok(()), "answering request {:?}", id);
                    } else {
                        prop_assert_eq!(got, Err(RespondError::Closed));
                    }
                }
                Event::ProtocolError(_) => {
                    protocol_errors += 1;
                    prop_assert!(conn.is_closed());
                }
                Event::Completed { result, .. } => {
                    completed += 1;
                    prop_assert!(
                        result.is_ok() || matches!(result, Err(CallError::Protocol(_))),
                        "{:?}",
                        result
                    );
                }
                Event::UnknownResponse { .. } | Event::Pause { .. } => {}
                other => prop_assert!(false, "unexpected event {:?}", other),
            }
        }
        if was_closed {
            prop_assert_eq!(conn.buffered_bytes(), 0);
        }
    }
    prop_assert!(protocol_errors <= 1);
    prop_assert!(conn.stats().bytes_in <= fed);
    Ok(completed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (e) Arbitrary bytes into a client never panic; the read buffer stays
    /// bounded; pending calls end with a response or the protocol error.
    #[test]
    fn arbitrary_bytes_into_a_client_never_panic_and_stay_bounded(
        codec in hostile_codec(),
        strict in any::<bool>(),
        read_chunk in 64usize..=2048,
        calls in 0usize..8,
        chunks in vec(vec(any::<u8>(), 0..700), 0..24),
        lend in vec(any::<bool>(), 1..6),
    ) {
        let config = Config::builder()
            .codec(codec)
            .strict_unknown_ids(strict)
            .read_chunk(read_chunk)
            .build()
            .unwrap();
        let mut conn: Connection<Duration, usize> = Connection::client(config, T0);
        for i in 0..calls {
            conn.call(T0, Bytes::new(), i).unwrap();
        }
        let mut completed = feed_garbage(&mut conn, &chunks, &lend, read_chunk)?;
        // The end of the stream completes whatever is still pending.
        let pending = conn.pending_calls() as u64;
        conn.handle_eof(T0);
        while let Some(ev) = conn.poll_event() {
            if let Event::Completed { result, .. } = ev {
                completed += 1;
                prop_assert!(
                    matches!(result, Err(CallError::Disconnected(_))),
                    "{:?}",
                    result
                );
            }
        }
        // Every accepted call completed exactly once: by a response, the
        // protocol error, or the end of the stream.
        let s = conn.stats();
        prop_assert_eq!(conn.pending_calls(), 0);
        prop_assert_eq!(completed, calls as u64);
        prop_assert_eq!(s.responses + s.failed, calls as u64);
        prop_assert!(pending <= s.failed);
    }

    /// (e) The same for a server, which also answers what it decodes.
    #[test]
    fn arbitrary_bytes_into_a_server_never_panic_and_stay_bounded(
        codec in hostile_codec(),
        read_chunk in 64usize..=2048,
        chunks in vec(vec(any::<u8>(), 0..700), 0..24),
        lend in vec(any::<bool>(), 1..6),
    ) {
        let config = Config::builder().codec(codec).read_chunk(read_chunk).build().unwrap();
        let mut conn: Connection<Duration> = Connection::server(config, T0);
        let completed = feed_garbage(&mut conn, &chunks, &lend, read_chunk)?;
        prop_assert_eq!(completed, 0, "a server completes no calls");
        let s = conn.stats();
        prop_assert_eq!(s.requests, s.frames_in);
        prop_assert_eq!(conn.respond(RpcId(0), Bytes::new()).is_ok(), !conn.is_closed() && conn.config().codec().has_ids());
    }
}
