//! Fuzz harnesses: the functions behind the `fuzz/` targets, kept here so
//! that the checked-in corpus replays under plain `cargo test` and users
//! can drive them from their own fuzzers.
//!
//! Both take raw bytes and read them with a small [`Reader`] (no
//! `arbitrary` dependency): the first bytes choose a configuration, the
//! rest the input. Every function panics only when an invariant breaks,
//! which is what a fuzzer reports.
//!
//! - [`decode_any`]: raw peer bytes under an arbitrary codec, split into
//!   arbitrary chunks, into a client and a server core. Checks that the
//!   frames come out the same whatever the split, that they re-encode to
//!   exactly the bytes that were read, and that the read buffer stays
//!   bounded (never sized from a length the peer merely declared).
//! - [`run_ops`]: arbitrary sequences of calls, cancels, responses (right,
//!   wrong, duplicate ids), partial deliveries, injected peer bytes, time
//!   jumps, `close`, `fail_pending`, `shutdown` and end of stream against a
//!   client and a server core, checked against a model after every step:
//!   every accepted call completes exactly once or is cancelled, never
//!   before its deadline, and unwritten bytes stay within
//!   `max_buffer_bytes` plus one frame.
//!
//! # Examples
//!
//! ```
//! use framing_core::testkit::fuzz;
//!
//! fuzz::decode_any(b"\x03\x04\x00\x00\x00\x00\x00\x06\x00\x00\x00\x01hi");
//! fuzz::run_ops(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
//! ```

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::{
    CallError, CallOptions, Codec, Config, Connection, DisconnectReason, Endian, Event, IoFailure,
    LengthCounts, RespondError, RpcId, State,
};

/// Reads fuzz input as a stream of small values; past the end every read
/// yields zero, so any input is a complete program.
///
/// # Examples
///
/// ```
/// use framing_core::testkit::fuzz::Reader;
///
/// let mut r = Reader::new(&[1, 2, 3]);
/// assert_eq!(r.u16(), 0x0102);
/// assert_eq!(r.bytes(5), &[3]);
/// assert!(r.is_empty());
/// assert_eq!(r.u8(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// The next byte, 0 past the end.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Whether the next byte is odd.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// The next two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        (u16::from(self.u8()) << 8) | u16::from(self.u8())
    }

    /// The next eight bytes, big-endian.
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0, |v, _| (v << 8) | u64::from(self.u8()))
    }

    /// A value below `n` (`n` must be at least 1).
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    /// Up to `n` next bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

/// Reads a valid standard [`Codec`]: length field 1–8 bytes in either byte
/// order, signed or not, any [`LengthCounts`], id field 0–8 bytes, and a
/// maximum frame length from tiny to the field's limit (three bytes).
pub fn codec_from(r: &mut Reader<'_>) -> Codec {
    let a = r.u8();
    let b = r.u8();
    let max_choice = r.u8();
    let endian = |bit: bool| if bit { Endian::Little } else { Endian::Big };
    let counts = match (a >> 5) % 3 {
        0 => LengthCounts::Payload,
        1 => LengthCounts::IdAndPayload,
        _ => LengthCounts::WholeFrame,
    };
    let max = match max_choice & 3 {
        0 => u64::from(max_choice >> 2),
        1 => 1 << (max_choice >> 2),
        2 => 16 + 64 * u64::from(max_choice >> 2),
        _ => u64::MAX,
    };
    let builder = Codec::builder()
        .length_field_len(1 + usize::from(a & 7))
        .length_endian(endian(a & 8 != 0))
        .length_signed(a & 16 != 0)
        .length_counts(counts)
        .id_field_len(usize::from(b % 9))
        .id_endian(endian(b & 16 != 0));
    // A maximum below the header it counts is refused: fall back to the
    // field's own limit, which always holds a header.
    match builder.clone().max_frame_length(max).build() {
        Ok(codec) => codec,
        Err(_) => builder
            .max_frame_length(u64::MAX)
            .build()
            .expect("the field's limit holds any header"),
    }
}

/// The largest frame the codec lets through, header included.
fn frame_limit(codec: &Codec) -> usize {
    let header = codec
        .standard()
        .map_or(crate::MAX_HEADER_LEN, |h| h.header_len());
    header.saturating_add(codec.max_payload_len())
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

/// What a server core made of a byte stream: the frames, re-encoded, and
/// whether it failed.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    wire: Vec<u8>,
    frames: usize,
    failed: bool,
}

/// Raw peer bytes into a client and a server core under an arbitrary codec.
///
/// The first four bytes choose the codec ([`codec_from`]) and how the rest
/// is split into reads. Panics if: a core panics; the server's frames
/// differ from those of a core fed the same bytes in one read; the frames,
/// re-encoded, are not exactly the bytes read; a core keeps more than one
/// frame's worth of unframed bytes; or the read buffer grows far beyond
/// what actually arrived (a declared length must never be allocated).
pub fn decode_any(data: &[u8]) {
    let mut r = Reader::new(data);
    let codec = codec_from(&mut r);
    let split = r.u16();
    let read_chunk = 64 + 64 * usize::from(split >> 12);
    let config = Config::builder()
        .codec(codec.clone())
        .read_chunk(read_chunk)
        .idle_timeout(None)
        .strict_unknown_ids(split & 0x200 != 0)
        .build()
        .expect("defaults with a valid codec");
    let stream = r.rest();
    let mut chunks = Chunks {
        state: u32::from(split) | 1 << 16,
        max: match split & 0xff {
            0 => stream.len().max(1),
            n => usize::from(n),
        },
    };
    let lend = split & 0x100 != 0;

    let now = Duration::ZERO;
    let mut server: Connection<Duration> = Connection::server(config.clone(), now);
    let mut client: Connection<Duration, u32> = Connection::client(config.clone(), now);
    // Pending calls for the client, so that some responses match.
    for ctx in 0..4 {
        let _ = client.call(now, Bytes::from_static(b"q"), ctx);
    }
    while client.poll_event().is_some() {}

    let limit = frame_limit(&codec);
    let mut got = Decoded {
        wire: Vec::new(),
        frames: 0,
        failed: false,
    };
    // The most unframed bytes each core has held at once.
    let mut peak = [0usize; 2];
    let mut completed = 0;
    let mut rest = stream;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(chunks.next().min(rest.len()));
        rest = tail;
        peak[0] = peak[0].max(server.buffered_bytes() + chunk.len());
        peak[1] = peak[1].max(client.buffered_bytes() + chunk.len());
        feed(&mut server, chunk, lend);
        feed(&mut client, chunk, !lend);
        drain_decoded(&mut server, &codec, &mut got);
        while let Some(ev) = client.poll_event() {
            assert!(!matches!(ev, Event::Request { .. }), "request on a client");
            completed += usize::from(matches!(ev, Event::Completed { .. }));
        }
        assert!(completed <= 4, "more completions than calls");
        for (name, buffered, cap, peak) in [
            (
                "server",
                server.buffered_bytes(),
                server.read_buffer_capacity(),
                peak[0],
            ),
            (
                "client",
                client.buffered_bytes(),
                client.read_buffer_capacity(),
                peak[1],
            ),
        ] {
            assert!(
                buffered <= limit,
                "{name}: {buffered} unframed bytes, frames are at most {limit}"
            );
            // Growth may double what is held, and lending adds a chunk.
            let bound = 4 * (peak + read_chunk) + 4096;
            assert!(
                cap <= bound,
                "{name}: read buffer of {cap} bytes after at most {peak} held"
            );
        }
    }

    // The same bytes in one read give the same frames.
    let mut whole: Connection<Duration> = Connection::server(config, now);
    whole.handle_read(now, stream);
    let mut once = Decoded {
        wire: Vec::new(),
        frames: 0,
        failed: false,
    };
    drain_decoded(&mut whole, &codec, &mut once);
    assert_eq!(got, once, "frames depend on how the bytes were split");
    // Frames re-encode to exactly the bytes they came from.
    assert!(stream.starts_with(&got.wire), "re-encoded frames differ");
    if !got.failed {
        assert_eq!(
            got.wire.len() + server.buffered_bytes(),
            stream.len(),
            "bytes lost without an error"
        );
    } else {
        assert!(server.is_closed() && server.buffered_bytes() == 0);
    }
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

fn drain_decoded(conn: &mut Connection<Duration>, codec: &Codec, out: &mut Decoded) {
    while let Some(ev) = conn.poll_event() {
        match ev {
            Event::Request { id, payload } => {
                assert!(payload.len() <= codec.max_payload_len());
                let wire_id = if codec.has_ids() { id } else { RpcId(0) };
                let mut header = [0u8; crate::MAX_HEADER_LEN];
                let n = codec
                    .encode_header(wire_id, payload.len(), &mut header)
                    .expect("a decoded frame re-encodes");
                out.wire.extend_from_slice(&header[..n]);
                out.wire.extend_from_slice(&payload);
                out.frames += 1;
            }
            Event::ProtocolError(_) => {
                assert!(!out.failed, "two protocol errors");
                assert!(conn.is_closed(), "a protocol error left the core open");
                out.failed = true;
            }
            other => panic!("unexpected server event {other:?}"),
        }
    }
}

/// Reads a [`Config`] with small, valid watermarks and timeouts around
/// `codec`, so that limits are reached within a short input.
pub fn config_from(r: &mut Reader<'_>, codec: Codec) -> Config {
    let max = 64 + usize::from(r.u16() % 4096);
    let warn = 1 + usize::from(r.u16()) % max;
    let low = usize::from(r.u16()) % warn;
    let flags = r.u8();
    let ms = |v: u8| Duration::from_millis(1 + u64::from(v) * 4);
    let idle = (flags & 1 != 0).then(|| ms(r.u8()));
    let call = (flags & 2 != 0).then(|| ms(r.u8()));
    Config::builder()
        .codec(codec)
        .max_buffer_bytes(max)
        .warn_buffer_bytes(warn)
        .low_buffer_bytes(low)
        .idle_timeout(idle)
        .call_timeout(call)
        .strict_unknown_ids(flags & 4 != 0)
        .late_memory(usize::from(flags >> 4))
        .read_chunk(64 * (1 + usize::from(r.u8() & 7)))
        .coalesce_max(usize::from(r.u8()))
        .build()
        .expect("watermarks are ordered by construction")
}

/// One core and what the model knows about it.
struct Side {
    conn: Connection<Duration, u64>,
    paused: bool,
    closed_by_user: bool,
}

impl Side {
    fn check_watermark(&mut self, ev: &Event<u64>) {
        let cfg = self.conn.config();
        match *ev {
            Event::Pause { queued } => {
                assert!(!self.paused, "Pause twice");
                assert!(queued > cfg.warn_buffer_bytes(), "Pause below warn");
                self.paused = true;
            }
            Event::Resume { queued } => {
                assert!(self.paused, "Resume without Pause");
                assert!(queued <= cfg.low_buffer_bytes(), "Resume above low");
                self.paused = false;
            }
            _ => {}
        }
    }

    fn check_common(&self) {
        let c = &self.conn;
        if c.is_closed() {
            assert_eq!(c.pending_calls(), 0, "pending calls on a closed core");
            assert_eq!(c.queued_bytes(), 0, "bytes to write on a closed core");
            assert_eq!(c.buffered_bytes(), 0, "read buffer kept after close");
            assert!(!c.wants_read());
        }
        assert_eq!(c.has_transmit(), c.queued_bytes() > 0);
        let total: usize = c.poll_transmit().map(<[u8]>::len).sum();
        assert_eq!(total, c.queued_bytes(), "slices disagree with the count");
        assert!(c.buffered_bytes() <= frame_limit(c.config().codec()));
    }
}

/// A call the model expects to complete: its context and deadline.
#[derive(Debug, Clone, Copy)]
struct Expected {
    ctx: u64,
    deadline: Option<Duration>,
    /// The request payload: `len` bytes of `tag`, which the server echoes.
    len: usize,
    tag: u8,
}

/// The client, the server and the model of pending calls.
struct World {
    now: Duration,
    client: Side,
    server: Side,
    /// Accepted, not yet completed or cancelled calls, by id.
    calls: BTreeMap<u64, Expected>,
    next_ctx: u64,
    accepted: u64,
    /// Requests the server received (with their payloads, which it
    /// echoes), not yet answered or answered but kept to answer again.
    requests: Vec<(RpcId, Bytes)>,
    /// Ids the server answered since it last received them.
    answered: BTreeSet<u64>,
    /// Raw bytes were injected: frames may pair with the wrong calls.
    injected: bool,
    /// With ids: a wrong or duplicate response was sent, or a call was
    /// abandoned (its id may be reused), so a response may legitimately
    /// complete another call than the one it was meant for.
    ambiguous: bool,
    largest_frame: usize,
    header_len: usize,
}

/// Arbitrary operations on a client and a server core, checked against a
/// model after every step.
///
/// The first bytes choose the codec ([`codec_from`]) and the settings
/// ([`config_from`]); each following byte picks an operation, whose
/// arguments come from the next bytes. Panics if: a core panics; a call
/// completes twice, completes after being cancelled, or completes before
/// its deadline with `DeadlineExceeded`; a call refusal contradicts the
/// model; unwritten client bytes exceed `max_buffer_bytes` plus the
/// largest frame; `Pause`/`Resume` do not alternate; `Disconnected` follows
/// `close()`; a closed core still holds calls or bytes; `handle_timeout`
/// leaves something due; or, once both cores are closed at the end, any
/// accepted call has not completed.
pub fn run_ops(data: &[u8]) {
    let mut r = Reader::new(data);
    let codec = codec_from(&mut r);
    let config = config_from(&mut r, codec.clone());
    let now = Duration::ZERO;
    let mut w = World {
        now,
        client: Side {
            conn: Connection::client(config.clone(), now),
            paused: false,
            closed_by_user: false,
        },
        server: Side {
            conn: Connection::server(config, now),
            paused: false,
            closed_by_user: false,
        },
        calls: BTreeMap::new(),
        next_ctx: 0,
        accepted: 0,
        requests: Vec::new(),
        answered: BTreeSet::new(),
        injected: false,
        ambiguous: false,
        largest_frame: 0,
        header_len: codec.standard().map_or(0, |h| h.header_len()),
    };
    let mut steps = 0;
    while !r.is_empty() && steps < 2048 {
        steps += 1;
        w.step(&mut r);
        w.drain();
        w.check();
    }
    // Every accepted call ends: closing completes whatever is left.
    w.client.conn.close();
    w.client.closed_by_user = true;
    w.server.conn.close();
    w.server.closed_by_user = true;
    w.drain();
    w.check();
    assert!(
        w.calls.is_empty(),
        "calls never completed: {:?}",
        w.calls.keys().collect::<Vec<_>>()
    );
    assert_eq!(w.client.conn.stats().calls, w.accepted);
}

impl World {
    fn step(&mut self, r: &mut Reader<'_>) {
        match r.u8() % 20 {
            0..=2 => self.call(r, false),
            3 => self.call(r, true),
            4 => self.cancel(r),
            5..=7 => self.respond(r),
            8..=10 => {
                let n = Self::amount(r);
                let lend = r.bool();
                Self::deliver(self.now, &mut self.client, &mut self.server, n, lend);
            }
            11..=12 => {
                let n = Self::amount(r);
                let lend = r.bool();
                Self::deliver(self.now, &mut self.server, &mut self.client, n, lend);
            }
            13 => {
                let to_client = r.bool();
                let n = r.below(32);
                let bytes = r.bytes(n);
                self.injected |= !bytes.is_empty();
                let side = if to_client {
                    &mut self.client
                } else {
                    &mut self.server
                };
                side.conn.handle_read(self.now, bytes);
            }
            14 => {
                let v = r.u16();
                let d = if v & 1 == 0 {
                    Duration::from_millis(u64::from(v >> 1))
                } else {
                    Duration::from_secs(u64::from(v >> 1))
                };
                self.advance(self.now.saturating_add(d));
            }
            15 => {
                let next = [
                    self.client.conn.poll_timeout(),
                    self.server.conn.poll_timeout(),
                ]
                .into_iter()
                .flatten()
                .min();
                if let Some(t) = next {
                    self.advance(t.max(self.now));
                }
            }
            16 => {
                let side = self.side(r.bool());
                side.conn.close();
                side.closed_by_user = true;
            }
            17 => {
                self.ambiguous |= !self.calls.is_empty();
                self.client.conn.fail_pending();
            }
            18 => {
                let d = Duration::from_millis(u64::from(r.u8()) * 8);
                let at = self.now.saturating_add(d);
                self.side(r.bool()).conn.shutdown(at);
            }
            _ => {
                let now = self.now;
                let kind = r.u8();
                let side = self.side(kind & 1 == 1);
                match (kind >> 1) & 3 {
                    0 => side.conn.handle_eof(now),
                    1 => side
                        .conn
                        .handle_io_error(now, DisconnectReason::io(IoFailure::Reset, "reset")),
                    2 => self.misuse(),
                    _ => {
                        let n = r.below(16);
                        let bytes = r.bytes(n);
                        side.conn.handle_read(now, bytes);
                        self.injected |= !bytes.is_empty();
                    }
                }
            }
        }
    }

    /// Whether a response may legitimately complete another call than the
    /// one it answers.
    fn muddled(&self) -> bool {
        self.injected || (self.ambiguous && self.has_ids())
    }

    fn has_ids(&self) -> bool {
        self.client.conn.config().codec().has_ids()
    }

    fn side(&mut self, client: bool) -> &mut Side {
        if client {
            &mut self.client
        } else {
            &mut self.server
        }
    }

    fn amount(r: &mut Reader<'_>) -> usize {
        match r.u8() {
            0 => usize::MAX,
            n => usize::from(n),
        }
    }

    fn payload(r: &mut Reader<'_>, tag: u64) -> Bytes {
        let b = r.u8();
        let len = if b & 0x80 != 0 {
            usize::from(b & 0x7f) * 64
        } else {
            usize::from(b)
        };
        Bytes::from(alloc::vec![tag as u8; len])
    }

    fn call(&mut self, r: &mut Reader<'_>, caller_id: bool) {
        let ctx = self.next_ctx;
        self.next_ctx += 1;
        let payload = Self::payload(r, ctx);
        let len = payload.len();
        debug_assert!(payload.iter().all(|&b| b == ctx as u8));
        let mut opts = CallOptions::new();
        let id_pick = r.u8();
        let wanted = if caller_id {
            // Often an id already pending, to provoke DuplicateRpcId.
            let id = match self.calls.keys().nth(usize::from(id_pick)) {
                Some(&id) if id_pick & 1 == 0 => id,
                _ => u64::from(id_pick >> 1),
            };
            opts = opts.id(RpcId(id));
            Some(id)
        } else {
            None
        };
        let t = r.u8();
        let timeout = match t & 3 {
            0 => self.client.conn.config().call_timeout(),
            1 => {
                opts = opts.no_timeout();
                None
            }
            _ => {
                let d = Duration::from_millis(u64::from(t >> 2) * 4);
                opts = opts.timeout(d);
                Some(d)
            }
        };
        let conn = &mut self.client.conn;
        let state = conn.state();
        let queued = conn.queued_bytes();
        let max_buffer = conn.config().max_buffer_bytes();
        match conn.call_with(self.now, payload, opts, ctx) {
            Ok(id) => {
                assert_eq!(state, State::Open, "call accepted while {state:?}");
                assert!(queued <= max_buffer, "call accepted over max_buffer_bytes");
                if let Some(want) = wanted {
                    assert_eq!(id.0, want, "caller id not used");
                }
                if let Some(max) = conn.config().codec().max_id() {
                    assert!(id.0 <= max, "id {id:?} does not fit the field");
                }
                let deadline = timeout.map(|d| self.now.saturating_add(d));
                let tag = ctx as u8;
                let prev = self.calls.insert(
                    id.0,
                    Expected {
                        ctx,
                        deadline,
                        len,
                        tag,
                    },
                );
                assert!(prev.is_none(), "id {id:?} given to two pending calls");
                self.accepted += 1;
                self.largest_frame = self.largest_frame.max(self.header_len + len);
            }
            Err(rej) => {
                assert_eq!(rej.ctx, ctx, "rejection lost the context");
                assert_eq!(rej.payload.len(), len, "rejection lost the payload");
                match rej.error {
                    CallError::Closed => assert_eq!(state, State::Closed),
                    CallError::ShuttingDown => assert_eq!(state, State::ShuttingDown),
                    CallError::BufferFull { queued: q, max } => {
                        assert!(q > max && max == max_buffer && q == queued);
                    }
                    CallError::DuplicateRpcId(id) => {
                        assert!(self.calls.contains_key(&id.0), "{id:?} was not pending");
                    }
                    CallError::IdsNotSupported => assert!(!conn.config().codec().has_ids()),
                    CallError::IdOutOfRange { id, max } => assert!(id.0 > max),
                    CallError::NoFreeId => {
                        let max = conn.config().codec().max_id().unwrap_or(u64::MAX);
                        assert!(self.calls.len() as u128 > u128::from(max));
                    }
                    CallError::FrameTooLarge { .. } => {
                        assert!(len > conn.config().codec().max_payload_len());
                    }
                    other => panic!("a call refused with {other:?}"),
                }
            }
        }
    }

    fn cancel(&mut self, r: &mut Reader<'_>) {
        let pick = r.u8();
        let id = match self.calls.keys().nth(usize::from(pick >> 1)) {
            Some(&id) if pick & 1 == 0 => id,
            _ => u64::from(pick),
        };
        match self.client.conn.cancel(RpcId(id)) {
            Some(ctx) => {
                self.ambiguous = true;
                let e = self.calls.remove(&id).expect("cancelled a call never made");
                assert_eq!(e.ctx, ctx, "cancel returned another call's context");
            }
            None => assert!(!self.calls.contains_key(&id), "pending call not cancelled"),
        }
    }

    fn respond(&mut self, r: &mut Reader<'_>) {
        let pick = r.u8();
        let other = Self::payload(r, u64::from(pick));
        let (id, payload, known) = match pick & 3 {
            // The oldest request not yet answered (right id, in order).
            0 if !self.requests.is_empty() => {
                let (id, p) = self.requests.remove(0);
                (id, p, true)
            }
            // Any request (out of order), kept or not to be answered again.
            1 | 2 if !self.requests.is_empty() => {
                let i = usize::from(pick >> 2) % self.requests.len();
                let (id, p) = if pick & 3 == 1 {
                    self.requests.swap_remove(i)
                } else {
                    self.requests[i].clone()
                };
                (id, p, true)
            }
            // A wrong id (unless it happens to be a request's).
            _ => {
                let id = RpcId(u64::from(pick >> 2));
                match self.requests.iter().find(|(rid, _)| *rid == id) {
                    Some((_, p)) => (id, p.clone(), true),
                    None => (id, other, false),
                }
            }
        };
        let len = payload.len();
        let has_ids = self.has_ids();
        let conn = &mut self.server.conn;
        match conn.respond(id, payload) {
            Ok(()) => {
                assert!(!conn.is_closed());
                let duplicate = !self.answered.insert(id.0);
                self.ambiguous |= has_ids && (duplicate || !known);
            }
            Err(RespondError::Closed) => assert!(conn.is_closed()),
            Err(RespondError::UnknownRequest(_)) => assert!(!has_ids),
            Err(RespondError::IdOutOfRange { id, max }) => assert!(id.0 > max),
            Err(RespondError::FrameTooLarge { .. }) => {
                assert!(len > conn.config().codec().max_payload_len());
            }
            Err(e) => panic!("respond refused with {e:?}"),
        }
    }

    /// Commands given to the wrong role are refused, changing nothing.
    fn misuse(&mut self) {
        let before = self.server.conn.stats();
        let rej = self
            .server
            .conn
            .call(self.now, Bytes::new(), u64::MAX)
            .expect_err("a server accepted a call");
        assert!(matches!(rej.error, CallError::WrongRole));
        assert_eq!(self.server.conn.stats().calls, before.calls);
        let err = self.client.conn.respond(RpcId(0), Bytes::new());
        assert_eq!(err, Err(RespondError::WrongRole));
    }

    /// Moves up to `n` unwritten bytes from one core to the other, through
    /// `handle_read` or the lent receive buffer.
    fn deliver(now: Duration, from: &mut Side, to: &mut Side, n: usize, lend: bool) {
        let mut bytes = Vec::new();
        for chunk in from.conn.poll_transmit() {
            let take = chunk.len().min(n - bytes.len());
            bytes.extend_from_slice(&chunk[..take]);
            if bytes.len() == n {
                break;
            }
        }
        from.conn.advance_transmit(now, bytes.len());
        if lend {
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let room = to.conn.recv_buffer();
                let k = room.len().min(rest.len());
                room[..k].copy_from_slice(&rest[..k]);
                to.conn.handle_received(now, k);
                rest = &rest[k..];
            }
        } else {
            to.conn.handle_read(now, &bytes);
        }
    }

    fn advance(&mut self, to: Duration) {
        self.now = to;
        for side in [&mut self.client, &mut self.server] {
            side.conn.handle_timeout(to);
            if let Some(t) = side.conn.poll_timeout() {
                assert!(t > to, "handle_timeout({to:?}) left {t:?} due");
            }
        }
    }

    fn drain(&mut self) {
        while let Some(ev) = self.client.conn.poll_event() {
            self.client.check_watermark(&ev);
            match ev {
                Event::Completed { id, ctx, result } => {
                    let e = self
                        .calls
                        .remove(&id.0)
                        .unwrap_or_else(|| panic!("{id:?} completed but was not pending"));
                    assert_eq!(e.ctx, ctx, "completion carries another call's context");
                    match result {
                        Ok(p) => {
                            // Unless the pairing was muddled on purpose, the
                            // response is the echo of this call's request.
                            if !self.muddled() {
                                assert!(
                                    p.len() == e.len && p.iter().all(|&b| b == e.tag),
                                    "{id:?} completed with another call's response"
                                );
                            }
                        }
                        Err(
                            CallError::Closed
                            | CallError::Disconnected(_)
                            | CallError::FailedByUser
                            | CallError::Protocol(_),
                        ) => {}
                        Err(CallError::DeadlineExceeded) => {
                            self.ambiguous = true;
                            let at = e.deadline.expect("timed out without a deadline");
                            assert!(at <= self.now, "timed out at {:?}, due {at:?}", self.now);
                        }
                        Err(other) => panic!("a call completed with {other:?}"),
                    }
                }
                Event::UnknownResponse { id, .. } if self.has_ids() => {
                    assert!(!self.calls.contains_key(&id.0), "pending {id:?} unmatched");
                }
                Event::ProtocolError(_) => assert!(self.client.conn.is_closed()),
                Event::Disconnected(_) => assert!(!self.client.closed_by_user),
                Event::Request { .. } => panic!("a client received a request"),
                Event::IdleTimeout => assert!(self.client.conn.config().idle_timeout().is_some()),
                _ => {}
            }
        }
        while let Some(ev) = self.server.conn.poll_event() {
            self.server.check_watermark(&ev);
            match ev {
                Event::Request { id, payload } => {
                    // A new request under an old id supersedes the old one.
                    self.requests.retain(|(rid, _)| *rid != id);
                    self.answered.remove(&id.0);
                    self.requests.push((id, payload));
                }
                Event::ProtocolError(_) => assert!(self.server.conn.is_closed()),
                Event::Disconnected(_) => assert!(!self.server.closed_by_user),
                Event::Completed { .. } | Event::UnknownResponse { .. } => {
                    panic!("a server got a response: {ev:?}")
                }
                Event::IdleTimeout => assert!(self.server.conn.config().idle_timeout().is_some()),
                _ => {}
            }
        }
    }

    fn check(&mut self) {
        self.client.check_common();
        self.server.check_common();
        let c = &self.client.conn;
        assert_eq!(c.pending_calls(), self.calls.len(), "pending count drifted");
        for side in [&self.client, &self.server] {
            assert_eq!(side.conn.is_paused(), side.paused, "is_paused drifted");
        }
        let limit = c.config().max_buffer_bytes() + self.largest_frame;
        assert!(
            c.queued_bytes() <= limit,
            "{} unwritten bytes, limit {limit}",
            c.queued_bytes()
        );
    }
}
