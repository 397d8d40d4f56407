//! [`decode_any`]: a byte stream, split arbitrarily, into a server and a
//! client core, each checked against exactly what the stream must give.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::{CallError, Codec, Config, Connection, Event, ProtocolError, RpcId, State};

use super::frames::{self, Outcome};
use super::report::{protocol_name, Report, Seen};
use super::spec::std_from;
use super::wire::Wire;
use super::Reader;

/// Calls the client core has pending when the stream starts.
const CALLS: u64 = 4;

/// Peer bytes into a server and a client core under an arbitrary standard
/// codec; panics when a core gets anything but what the bytes must give.
/// See [`decode_report`].
pub fn decode_any(data: &[u8]) {
    let _ = decode_report(data);
}

/// [`decode_any`], returning what happened.
///
/// The first three bytes choose the codec ([`codec_from`](super::codec_from)),
/// the next two how the stream is cut into reads (low byte: largest read,
/// 0 for one read; bit 8: the server reads through the lent buffer, the
/// client not, or the reverse; bit 9: unknown ids are fatal; bit 10: build
/// the stream from frames, see below; bits 12–15: the read chunk). The
/// rest is the stream, or, with bit 10, read as frames (ids, payloads,
/// cut points) that end with a bad header or a frame cut short.
///
/// The expected outcome comes from the construction (bit 10) or from a
/// reference decoder written from the contract (otherwise; with bit 10 it
/// must agree with the construction). Panics if: a core panics; the
/// server's requests are not exactly the stream's frames (ids, payloads,
/// order), or a valid stream fails; a bad length does not fail the server
/// with exactly its [`ProtocolError`] (variant, length and limit) or fails
/// it late; the unfinished rest is not what the server holds; the client,
/// holding 4 calls, does not complete exactly the calls the frames answer
/// with exactly their payloads (the others: unknown responses, or in
/// strict mode the `UnknownResponseId` error); the codec encodes a frame's
/// header differently from the reference; a core keeps more than one
/// frame of unframed bytes, or grows its read buffer far beyond what
/// arrived (a declared length must never be allocated).
pub fn decode_report(data: &[u8]) -> Report {
    let mut r = Reader::new(data);
    let (spec, codec) = std_from(&mut r);
    run(Wire::Std(spec), codec, &mut r)
}

/// The decode harness for any format.
pub(super) fn run(wire: Wire, codec: Codec, r: &mut Reader<'_>) -> Report {
    let split = r.u16();
    let (stream, built) = if split & 0x400 != 0 {
        let (stream, built) = frames::generate(&wire, r);
        (stream, Some(built))
    } else {
        (r.rest().to_vec(), None)
    };
    let expected = frames::reference(&wire, &stream);
    if let Some(built) = built {
        assert_eq!(
            expected.result(),
            built.result(),
            "the reference decoder disagrees with the construction"
        );
    }
    let read_chunk = 64 + 64 * usize::from(split >> 12);
    let strict = split & 0x200 != 0;
    let config = Config::builder()
        .codec(codec.clone())
        .read_chunk(read_chunk)
        .idle_timeout(None)
        .strict_unknown_ids(strict)
        .build()
        .expect("defaults with a valid codec");
    let now = Duration::ZERO;
    let mut server: Connection<Duration> = Connection::server(config.clone(), now);
    let mut client: Connection<Duration, u64> = Connection::client(config, now);
    let mut calls = BTreeMap::new();
    for ctx in 0..CALLS {
        let id = client
            .call(now, Bytes::new(), ctx)
            .expect("an open client takes a call");
        calls.insert(id.0, ctx);
    }
    let mut chunks = Chunks {
        state: u32::from(split) | 1 << 16,
        max: match split & 0xff {
            0 => stream.len().max(1),
            n => usize::from(n),
        },
    };
    let lend = split & 0x100 != 0;
    let limit = wire.frame_limit();
    let mut requests = Vec::new();
    let mut server_errors = Vec::new();
    let mut client_events = Vec::new();
    let mut peak = [0usize; 2];
    let mut rest = &stream[..];
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(chunks.next().min(rest.len()));
        rest = tail;
        let fed = stream.len() - rest.len();
        peak[0] = peak[0].max(server.buffered_bytes() + chunk.len());
        peak[1] = peak[1].max(client.buffered_bytes() + chunk.len());
        feed(&mut server, chunk, lend);
        feed(&mut client, chunk, !lend);
        while let Some(ev) = server.poll_event() {
            match ev {
                Event::Request { id, payload } => requests.push((id.0, payload)),
                Event::ProtocolError(p) => {
                    // The error comes with the bytes that make it.
                    assert_eq!(Some(p), expected.error, "server failed with {p:?}");
                    server_errors.push(p);
                }
                other => panic!("unexpected server event {other:?}"),
            }
        }
        assert_eq!(
            server.is_closed(),
            expected.error.is_some() && fed >= expected.error_at,
            "the server's end after {fed} bytes (error known at {})",
            expected.error_at
        );
        client_events.extend(core::iter::from_fn(|| client.poll_event()));
        check_memory("server", &server, limit, peak[0], read_chunk);
        check_memory("client", &client, limit, peak[1], read_chunk);
    }

    let mut report = Report::default();
    let want: Vec<(u64, Bytes)> = if codec.has_ids() {
        expected.frames.clone()
    } else {
        let numbered = expected.frames.iter().enumerate();
        numbered.map(|(i, (_, p))| (i as u64, p.clone())).collect()
    };
    assert_eq!(
        requests, want,
        "the server's requests are not the stream's frames"
    );
    for (id, payload) in &expected.frames {
        let frame = wire.frame(*id, payload);
        let mut header = [0u8; crate::MAX_HEADER_LEN];
        let n = codec
            .encode_header(RpcId(*id), payload.len(), &mut header)
            .expect("a decoded frame re-encodes");
        assert_eq!(header[..n], frame[..n], "the codec encodes another header");
        report.add(Seen::Request);
        if payload.len() == wire.max_payload() {
            report.add(Seen::FrameAtMax);
        }
    }
    match expected.error {
        Some(p) => {
            assert_eq!(
                server_errors,
                [p],
                "the server did not fail once with {p:?}"
            );
            assert_eq!(server.state(), State::Closed(CallError::Protocol(p)));
            assert_eq!(server.buffered_bytes(), 0, "a failed core keeps bytes");
            report.add(Seen::ProtocolError {
                server: true,
                kind: protocol_name(&p),
            });
        }
        None => {
            assert_eq!(
                server.state(),
                State::Open,
                "a valid stream closed the server"
            );
            assert_eq!(server.buffered_bytes(), expected.rest, "unfinished bytes");
            if expected.rest > 0 {
                report.add(Seen::Unfinished);
            }
        }
    }
    check_client(
        &expected,
        calls,
        strict,
        codec.has_ids(),
        client_events,
        &mut report,
    );
    report
}

/// Compares the client's events with what the frames must do to its
/// calls: complete them with exactly their payloads, or be unknown.
fn check_client(
    expected: &Outcome,
    mut calls: BTreeMap<u64, u64>,
    strict: bool,
    has_ids: bool,
    events: Vec<Event<u64>>,
    report: &mut Report,
) {
    let mut want_done = BTreeMap::new();
    let mut want_other = Vec::new();
    let mut fifo_next = 0;
    let mut error = None;
    for (id, payload) in &expected.frames {
        let (key, found) = if has_ids {
            (*id, calls.remove(id))
        } else {
            let found = calls.remove(&fifo_next);
            let key = fifo_next;
            fifo_next += u64::from(found.is_some());
            (key, found)
        };
        match found {
            Some(ctx) => {
                want_done.insert(key, (ctx, Ok(payload.clone())));
            }
            None if strict => {
                error = Some(ProtocolError::UnknownResponseId { id: RpcId(key) });
                break;
            }
            None => want_other.push(alloc::format!("UnknownResponse({key}, late: false)")),
        }
    }
    if let Some(p) = error.or(expected.error) {
        for (id, ctx) in core::mem::take(&mut calls) {
            want_done.insert(id, (ctx, Err(CallError::Protocol(p))));
        }
        want_other.push(alloc::format!("ProtocolError({p:?})"));
        report.add(Seen::ProtocolError {
            server: false,
            kind: protocol_name(&p),
        });
    }
    let mut got_done = BTreeMap::new();
    let mut got_other = Vec::new();
    for ev in events {
        match ev {
            Event::Completed { id, ctx, result } => {
                report.add(if result.is_ok() {
                    Seen::Answered
                } else {
                    Seen::Failed("Protocol")
                });
                let again = got_done.insert(id.0, (ctx, result));
                assert!(again.is_none(), "{id:?} completed twice");
            }
            Event::UnknownResponse { id, late } => {
                report.add(Seen::UnknownResponse { late });
                got_other.push(alloc::format!("UnknownResponse({}, late: {late})", id.0));
            }
            Event::ProtocolError(p) => got_other.push(alloc::format!("ProtocolError({p:?})")),
            other => panic!("unexpected client event {other:?}"),
        }
    }
    assert_eq!(got_done, want_done, "the client's completions");
    assert_eq!(got_other, want_other, "the client's other events");
}

/// A deterministic generator for chunk sizes, so that the payload part of
/// the input stays one contiguous stream the fuzzer can mutate.
struct Chunks {
    state: u32,
    max: usize,
}

impl Chunks {
    fn next(&mut self) -> usize {
        // xorshift32; the state is never 0.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        1 + self.state as usize % self.max
    }
}

fn check_memory<C>(
    name: &str,
    conn: &Connection<Duration, C>,
    limit: usize,
    peak: usize,
    read_chunk: usize,
) {
    let buffered = conn.buffered_bytes();
    assert!(
        buffered <= limit,
        "{name}: {buffered} unframed bytes, frames are at most {limit}"
    );
    // Not a declared length: a multiple of what actually arrived. The read
    // room grows by what is held (2x), a reallocation may double again
    // (2x), and once a frame is split off, the buffer that replaces the
    // shared one starts at the original's capacity (up to 2x more): 8x,
    // plus a lent chunk. Reading a 32 KiB frame 42 bytes at a time through
    // the lent buffer reaches 4.8x (found-ccb3d17ff5cddb32 in the corpus).
    let cap = conn.read_buffer_capacity();
    let bound = 8 * (peak + read_chunk) + 4096;
    assert!(
        cap <= bound,
        "{name}: read buffer of {cap} bytes after at most {peak} held"
    );
}

fn feed<C>(conn: &mut Connection<Duration, C>, mut chunk: &[u8], lend: bool) {
    if !lend {
        conn.handle_read(Duration::ZERO, chunk);
        return;
    }
    while !chunk.is_empty() {
        let room = conn.recv_buffer();
        assert!(!room.is_empty(), "recv_buffer lent no room");
        let n = room.len().min(chunk.len());
        room[..n].copy_from_slice(&chunk[..n]);
        conn.handle_received(Duration::ZERO, n);
        chunk = &chunk[n..];
    }
}
