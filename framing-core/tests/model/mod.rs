//! The reference model of a client core, written from SPEC.md as plainly
//! as possible: a `BTreeMap` of pending calls, a log of abandoned ids, a
//! byte count for the write queue and a byte count for the link to the
//! server. It never looks at the core; `proptest_model.rs` drives both and
//! compares.
//!
//! What it predicts, at the virtual instant each happens:
//! - every completion (response, `DeadlineExceeded`, `Closed`,
//!   `Disconnected(reason)`, `FailedByUser`, `Protocol(error)`);
//! - `UnknownResponse { late }`: late exactly when the id's latest
//!   abandonment (cancel, timeout, `fail_pending`) is among the last
//!   `late_memory` abandonments and the caller has not reused the id since;
//! - `Pause`/`Resume` with the queue size at the crossing, from the bytes
//!   queued and the bytes the link took;
//! - `IdleTimeout` at the last read or write plus the idle timeout, once per
//!   idle stretch;
//! - `ProtocolError`, `Disconnected`;
//! - the next instant anything is due (`poll_timeout`);
//! - the refusal of a call, with its exact error.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use framing_core::testkit::strategies::CodecParams;
use framing_core::{CallError, DisconnectReason, LengthCounts, ProtocolError, RpcId};

/// One event, as the model predicts it and as the core's is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    Completed {
        ctx: u64,
        id: RpcId,
        result: Result<Bytes, CallError>,
    },
    Unknown {
        id: RpcId,
        late: bool,
    },
    Pause(usize),
    Resume(usize),
    Idle,
    Protocol(ProtocolError),
    Disconnected(DisconnectReason),
}

impl Seen {
    /// Order within one instant where the core's order is not specified
    /// (failures drain a hash table): by kind, then call or id. The sort is
    /// stable, so `Pause` stays before `Resume`.
    pub(crate) fn sort_key(&self) -> (u8, u64) {
        match self {
            Seen::Completed { ctx, .. } => (0, *ctx),
            Seen::Unknown { id, .. } => (1, id.0),
            Seen::Pause(_) => (2, 0),
            Seen::Resume(_) => (3, 0),
            Seen::Idle => (4, 0),
            Seen::Protocol(_) => (5, 0),
            Seen::Disconnected(_) => (6, 0),
        }
    }
}

/// Where the client is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    ShuttingDown(Duration),
    Closed(CallError),
}

#[derive(Debug)]
pub(crate) struct ModelCall {
    pub(crate) ctx: u64,
    pub(crate) deadline: Option<Duration>,
}

/// Whether a response to an id is reported late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Late {
    Yes,
    No,
    /// The id was abandoned by a `fail_pending` that abandoned several ids
    /// at once, in an order the core does not specify (it drains a hash
    /// table), and the memory's bound now cuts through that batch. The
    /// harness sends no response for such an id.
    Unsure,
}

/// The wire format, computed from the codec's parameters (not read back
/// from the core).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wire {
    pub(crate) p: CodecParams,
    pub(crate) header_len: usize,
    pub(crate) overhead: u64,
    pub(crate) max_length: u64,
    pub(crate) max_payload: usize,
    pub(crate) max_id: Option<u64>,
}

fn field_max(bytes: usize) -> u64 {
    if bytes >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * bytes)) - 1
    }
}

fn put_uint(v: u64, bytes: usize, big: bool, out: &mut Vec<u8>) {
    let le = v.to_le_bytes();
    let field: Vec<u8> = le[..bytes].to_vec();
    if big {
        out.extend(field.iter().rev());
    } else {
        out.extend(field);
    }
}

/// How a bad length is made.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BadLength {
    TooShort,
    TooLarge,
    Negative,
}

impl Wire {
    pub(crate) fn new(p: CodecParams) -> Self {
        let overhead = match p.length_counts {
            LengthCounts::Payload => 0,
            LengthCounts::IdAndPayload => p.id_field_len as u64,
            LengthCounts::WholeFrame => (p.length_field_len + p.id_field_len) as u64,
        };
        let field_limit = if p.length_signed {
            field_max(p.length_field_len) >> 1
        } else {
            field_max(p.length_field_len)
        };
        let max_length = (overhead + p.max_payload).min(field_limit);
        Wire {
            p,
            header_len: p.length_field_len + p.id_field_len,
            overhead,
            max_length,
            max_payload: (max_length - overhead) as usize,
            max_id: (p.id_field_len > 0).then(|| field_max(p.id_field_len)),
        }
    }

    fn field_limit(&self) -> u64 {
        let m = field_max(self.p.length_field_len);
        if self.p.length_signed {
            m >> 1
        } else {
            m
        }
    }

    /// A header with this raw length field and id 0.
    fn header(&self, raw: u64) -> Vec<u8> {
        use framing_core::Endian;
        let mut out = Vec::new();
        put_uint(
            raw,
            self.p.length_field_len,
            self.p.length_endian == Endian::Big,
            &mut out,
        );
        put_uint(0, self.p.id_field_len, true, &mut out);
        out
    }

    /// A header whose length the peer may not send, and the error it must
    /// raise; `None` when the format has no such length (a `Payload`
    /// length has no minimum, an unsigned field no sign, a field whose
    /// every value is allowed nothing too large).
    pub(crate) fn bad_header(&self, kind: BadLength, k: u64) -> Option<(Vec<u8>, ProtocolError)> {
        let n = self.p.length_field_len;
        match kind {
            BadLength::TooShort if self.overhead > 0 => {
                let raw = k % self.overhead;
                Some((
                    self.header(raw),
                    ProtocolError::LengthTooShort {
                        length: raw,
                        min: self.overhead,
                    },
                ))
            }
            BadLength::TooLarge if self.max_length < self.field_limit() => {
                let span = self.field_limit() - self.max_length;
                let raw = self.max_length + 1 + k % span;
                Some((
                    self.header(raw),
                    ProtocolError::LengthTooLarge {
                        length: raw,
                        max: self.max_length,
                    },
                ))
            }
            BadLength::Negative if self.p.length_signed => {
                let top = 1u64 << (8 * n - 1);
                let raw = top | (k & (top - 1));
                let length = (i128::from(raw) - (1i128 << (8 * n))) as i64;
                Some((self.header(raw), ProtocolError::NegativeLength { length }))
            }
            _ => None,
        }
    }
}

/// The reference model of the client, and of the link to the server as
/// far as the client's writes and the idle clock need it.
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) wire: Wire,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) idle: Option<Duration>,
    pub(crate) strict: bool,
    pub(crate) late_memory: usize,
    pub(crate) low: usize,
    pub(crate) warn: usize,
    pub(crate) max: usize,
    /// Most bytes the link to the server holds.
    pub(crate) capacity: usize,

    pub(crate) now: Duration,
    pub(crate) phase: Phase,
    pub(crate) pending: BTreeMap<u64, ModelCall>,
    /// Every abandonment of an id, oldest first, with the batch it belongs
    /// to (one `fail_pending` is one batch; anything else a batch of one).
    log: Vec<(u64, u64)>,
    batches: u64,
    /// Where each batch starts and ends in the log.
    batch_span: BTreeMap<u64, (usize, usize)>,
    /// Log length when the caller last reused an id on purpose.
    reused_at: BTreeMap<u64, usize>,
    /// Without ids: sequence numbers whose response has not arrived yet,
    /// oldest first (pending or not), and the next sequence number.
    pub(crate) fifo: VecDeque<u64>,
    pub(crate) next_seq: u64,

    // The write path.
    pub(crate) queued: usize,
    pub(crate) paused: bool,
    pub(crate) in_flight: usize,
    /// Bytes of frames accepted, taken by the link, read by the server.
    pub(crate) accepted_bytes: u64,
    pub(crate) transmitted: u64,
    pub(crate) delivered: u64,
    pub(crate) server_reading: bool,
    pub(crate) server_closed: bool,

    // The idle clock.
    pub(crate) last_io: Duration,
    pub(crate) idle_fired: bool,

    /// What the current step must produce, with the instant of each.
    pub(crate) expected: Vec<(Duration, Seen)>,

    // Totals, for the counters.
    pub(crate) calls: u64,
    pub(crate) ok: u64,
    pub(crate) timeouts: u64,
    pub(crate) cancelled: u64,
    pub(crate) failed: u64,
    pub(crate) unknown_total: u64,
    pub(crate) late_total: u64,
    pub(crate) rejected: u64,
    pub(crate) rejected_full: u64,
    /// Responses to ids the memory had abandoned and then forgotten.
    pub(crate) forgotten: u64,
}

impl Model {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        wire: Wire,
        call_timeout: Option<Duration>,
        idle: Option<Duration>,
        strict: bool,
        late_memory: usize,
        (low, warn, max): (usize, usize, usize),
        capacity: usize,
    ) -> Self {
        Model {
            wire,
            call_timeout,
            idle,
            strict,
            late_memory,
            low,
            warn,
            max,
            capacity,
            now: Duration::ZERO,
            phase: Phase::Open,
            pending: BTreeMap::new(),
            log: Vec::new(),
            batches: 0,
            batch_span: BTreeMap::new(),
            reused_at: BTreeMap::new(),
            fifo: VecDeque::new(),
            next_seq: 0,
            queued: 0,
            paused: false,
            in_flight: 0,
            accepted_bytes: 0,
            transmitted: 0,
            delivered: 0,
            server_reading: true,
            server_closed: false,
            last_io: Duration::ZERO,
            idle_fired: false,
            expected: Vec::new(),
            calls: 0,
            ok: 0,
            timeouts: 0,
            cancelled: 0,
            failed: 0,
            unknown_total: 0,
            late_total: 0,
            rejected: 0,
            rejected_full: 0,
            forgotten: 0,
        }
    }

    pub(crate) fn has_ids(&self) -> bool {
        self.wire.max_id.is_some()
    }

    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed(_))
    }

    fn emit(&mut self, seen: Seen) {
        self.expected.push((self.now, seen));
    }

    // ------------------------------------------------------------ late ids

    /// Records the abandonment of these ids, as one batch.
    fn abandon(&mut self, ids: &[u64]) {
        if !self.has_ids() || ids.is_empty() {
            return;
        }
        let b = self.batches;
        self.batches += 1;
        let start = self.log.len();
        self.log.extend(ids.iter().map(|&id| (id, b)));
        self.batch_span.insert(b, (start, self.log.len()));
    }

    /// The caller chose this id: what was remembered about it goes.
    pub(crate) fn reuse(&mut self, id: u64) {
        self.reused_at.insert(id, self.log.len());
    }

    /// Whether a response to `id` (pending or not) is reported late.
    pub(crate) fn late(&self, id: u64) -> Late {
        let Some(i) = self.log.iter().rposition(|&(x, _)| x == id) else {
            return Late::No;
        };
        if self.reused_at.get(&id).is_some_and(|&r| i < r) || self.late_memory == 0 {
            return Late::No;
        }
        let window = self.log.len().saturating_sub(self.late_memory);
        let (start, end) = self.batch_span[&self.log[i].1];
        if start >= window {
            Late::Yes
        } else if end <= window {
            Late::No
        } else {
            Late::Unsure
        }
    }

    /// Whether `id` was abandoned, not reused since, and forgotten because
    /// `late_memory` more abandonments came after.
    fn evicted(&self, id: u64) -> bool {
        let Some(i) = self.log.iter().rposition(|&(x, _)| x == id) else {
            return false;
        };
        let reused = self.reused_at.get(&id).is_some_and(|&r| i < r);
        !reused && self.late_memory > 0 && self.late(id) == Late::No
    }

    // ------------------------------------------------------------ calls

    /// Why a call must be refused now, if it must: the first reason in the
    /// order the core checks them (state, room, id, frame size).
    pub(crate) fn refusal(&self, id: Option<u64>, len: usize) -> Option<CallError> {
        match &self.phase {
            Phase::Closed(reason) => return Some(reason.clone()),
            Phase::ShuttingDown(_) => return Some(CallError::ShuttingDown),
            Phase::Open => {}
        }
        if self.queued > self.max {
            return Some(CallError::BufferFull {
                queued: self.queued,
                max: self.max,
            });
        }
        match (id, self.wire.max_id) {
            (Some(_), None) => return Some(CallError::IdsNotSupported),
            (Some(id), Some(max)) if id > max => {
                return Some(CallError::IdOutOfRange { id: RpcId(id), max })
            }
            (Some(id), Some(_)) if self.pending.contains_key(&id) => {
                return Some(CallError::DuplicateRpcId(RpcId(id)))
            }
            (None, Some(max)) if self.pending.len() as u128 == u128::from(max) + 1 => {
                return Some(CallError::NoFreeId)
            }
            _ => {}
        }
        if len > self.wire.max_payload {
            return Some(CallError::FrameTooLarge {
                length: len as u64 + self.wire.overhead,
                max: self.wire.max_length,
            });
        }
        None
    }

    pub(crate) fn note_refusal(&mut self, error: &CallError) {
        self.rejected += 1;
        if matches!(error, CallError::BufferFull { .. }) {
            self.rejected_full += 1;
        }
    }

    /// Whether some id is neither pending nor possibly remembered: then an
    /// automatic id must not be one the client remembers.
    pub(crate) fn fresh_id_exists(&self) -> bool {
        let Some(max) = self.wire.max_id else {
            return true;
        };
        let mut taken: BTreeSet<u64> = self.pending.keys().copied().collect();
        taken.extend(
            self.log
                .iter()
                .map(|&(id, _)| id)
                .filter(|&id| self.late(id) != Late::No),
        );
        (taken.len() as u128) < u128::from(max) + 1
    }

    /// A call was accepted under `key`; its frame is `len` payload bytes.
    pub(crate) fn accept(&mut self, key: u64, ctx: u64, deadline: Option<Duration>, len: usize) {
        self.calls += 1;
        self.pending.insert(key, ModelCall { ctx, deadline });
        if !self.has_ids() {
            self.fifo.push_back(key);
            self.next_seq += 1;
        }
        let frame = self.wire.header_len + len;
        self.queued += frame;
        self.accepted_bytes += frame as u64;
        if !self.paused && self.queued > self.warn {
            self.paused = true;
            self.emit(Seen::Pause(self.queued));
        }
    }

    fn complete(&mut self, key: u64, result: Result<Bytes, CallError>) {
        let call = self
            .pending
            .remove(&key)
            .expect("completing a pending call");
        match &result {
            Ok(_) => self.ok += 1,
            Err(CallError::DeadlineExceeded) => self.timeouts += 1,
            Err(_) => self.failed += 1,
        }
        self.emit(Seen::Completed {
            ctx: call.ctx,
            id: RpcId(key),
            result,
        });
    }

    /// The caller cancels `key`; returns the context if it was pending.
    pub(crate) fn cancel(&mut self, key: u64) -> Option<u64> {
        let call = self.pending.remove(&key)?;
        self.cancelled += 1;
        self.abandon(&[key]);
        self.check_shutdown_done();
        Some(call.ctx)
    }

    pub(crate) fn fail_pending(&mut self) {
        let keys: Vec<u64> = self.pending.keys().copied().collect();
        for &k in &keys {
            self.complete(k, Err(CallError::FailedByUser));
        }
        self.abandon(&keys);
        self.check_shutdown_done();
    }

    pub(crate) fn shutdown(&mut self, deadline: Duration) {
        match self.phase {
            Phase::Open => self.phase = Phase::ShuttingDown(deadline),
            Phase::ShuttingDown(d) if deadline < d => self.phase = Phase::ShuttingDown(deadline),
            _ => {}
        }
        self.check_shutdown_done();
    }

    fn check_shutdown_done(&mut self) {
        if matches!(self.phase, Phase::ShuttingDown(_))
            && self.pending.is_empty()
            && self.queued == 0
        {
            self.phase = Phase::Closed(CallError::Closed);
        }
    }

    /// The connection ends: every pending call completes with `reason`, a
    /// failure raises its event, unwritten bytes are dropped.
    pub(crate) fn fail(&mut self, reason: CallError) {
        if self.is_closed() {
            return;
        }
        let keys: Vec<u64> = self.pending.keys().copied().collect();
        for k in keys {
            self.complete(k, Err(reason.clone()));
        }
        match &reason {
            CallError::Protocol(p) => self.emit(Seen::Protocol(*p)),
            CallError::Disconnected(r) => self.emit(Seen::Disconnected(r.clone())),
            _ => {}
        }
        self.phase = Phase::Closed(reason);
        self.queued = 0;
        self.fifo.clear();
    }

    // ------------------------------------------------------------ input

    /// The client read bytes (restarts the idle clock).
    pub(crate) fn io(&mut self) {
        if !self.is_closed() {
            self.last_io = self.now;
            self.idle_fired = false;
        }
    }

    /// A whole response frame reaches the client.
    pub(crate) fn response(&mut self, wire_id: u64, payload: Bytes) {
        if self.is_closed() {
            return;
        }
        self.io();
        if self.has_ids() {
            if self.pending.contains_key(&wire_id) {
                self.complete(wire_id, Ok(payload));
            } else {
                match self.late(wire_id) {
                    Late::Yes => self.unknown(RpcId(wire_id), true),
                    Late::No => {
                        if self.evicted(wire_id) {
                            self.forgotten += 1;
                        }
                        self.unknown(RpcId(wire_id), false)
                    }
                    Late::Unsure => panic!("the harness sent a response whose fate is unsure"),
                }
            }
        } else {
            match self.fifo.pop_front() {
                Some(seq) if self.pending.contains_key(&seq) => self.complete(seq, Ok(payload)),
                Some(seq) => self.unknown(RpcId(seq), true),
                None => self.unknown(RpcId(self.next_seq), false),
            }
        }
        self.check_shutdown_done();
    }

    fn unknown(&mut self, id: RpcId, late: bool) {
        if self.strict && !late {
            self.fail(CallError::Protocol(ProtocolError::UnknownResponseId { id }));
            return;
        }
        self.unknown_total += 1;
        self.late_total += u64::from(late);
        self.emit(Seen::Unknown { id, late });
    }

    /// The client read `n` bytes that do not finish a frame, then the end
    /// of the stream.
    pub(crate) fn eof_after(&mut self, partial: usize) {
        if self.is_closed() {
            return;
        }
        if partial > 0 {
            self.io();
        }
        let reason = match partial {
            0 => DisconnectReason::PeerClosed,
            buffered => DisconnectReason::PeerClosedMidFrame { buffered },
        };
        self.fail(CallError::Disconnected(reason));
    }

    /// The client read a header with a bad length.
    pub(crate) fn bad_length(&mut self, error: ProtocolError) {
        if self.is_closed() {
            return;
        }
        self.io();
        self.fail(CallError::Protocol(error));
    }

    // ------------------------------------------------------------ the link

    /// One round of the pair's drive on the way to the server: the link
    /// takes what fits, then a server that reads (or has closed, and
    /// drops it) empties the link. Returns whether anything moved.
    pub(crate) fn flow_round(&mut self) -> bool {
        let mut moved = false;
        let take = self
            .capacity
            .saturating_sub(self.in_flight)
            .min(self.queued);
        if take > 0 {
            moved = true;
            self.queued -= take;
            self.in_flight += take;
            self.transmitted += take as u64;
            self.io();
            if self.paused && self.queued <= self.low {
                self.paused = false;
                self.emit(Seen::Resume(self.queued));
            }
            self.check_shutdown_done();
        }
        if self.in_flight > 0 && (self.server_reading || self.server_closed) {
            moved = true;
            if !self.server_closed {
                self.delivered += self.in_flight as u64;
            }
            self.in_flight = 0;
        }
        moved
    }

    /// After the pair's drive: a closed client's end of stream reaches a
    /// server that reads once the link is empty.
    pub(crate) fn settle(&mut self) {
        if self.is_closed() && self.in_flight == 0 && self.server_reading {
            self.server_closed = true;
        }
    }

    // ------------------------------------------------------------ time

    /// The next instant at which `handle_timeout` has something to do.
    pub(crate) fn next_due(&self) -> Option<Duration> {
        if self.is_closed() {
            return None;
        }
        let deadline = self.pending.values().filter_map(|c| c.deadline).min();
        let idle = match self.idle {
            Some(idle) if !self.idle_fired => Some(self.last_io + idle),
            _ => None,
        };
        let shutdown = match self.phase {
            Phase::ShuttingDown(d) => Some(d),
            _ => None,
        };
        [deadline, idle, shutdown].into_iter().flatten().min()
    }

    /// `handle_timeout(now)`: everything due fires, deadlines first (in
    /// deadline order, then id order), then the idle timeout, then the
    /// shutdown deadline. Everything due at the instant fires, even when
    /// the deadlines that fired first have just finished a graceful
    /// shutdown: the idle stretch did elapse at that instant too, so its
    /// `IdleTimeout` comes with the last completions, and never later.
    /// Returns whether anything happened.
    pub(crate) fn fire(&mut self) -> bool {
        if self.is_closed() {
            return false;
        }
        let before = (self.expected.len(), self.phase.clone());
        let mut due: Vec<(Duration, u64)> = self
            .pending
            .iter()
            .filter_map(|(k, c)| c.deadline.filter(|&d| d <= self.now).map(|d| (d, *k)))
            .collect();
        due.sort();
        for (_, k) in due {
            self.complete(k, Err(CallError::DeadlineExceeded));
            self.abandon(&[k]);
        }
        if let Some(idle) = self.idle {
            if !self.idle_fired && self.last_io + idle <= self.now {
                self.idle_fired = true;
                self.emit(Seen::Idle);
            }
        }
        self.check_shutdown_done();
        if let Phase::ShuttingDown(d) = self.phase {
            if d <= self.now {
                self.fail(CallError::Closed);
            }
        }
        (self.expected.len(), self.phase.clone()) != before
    }
}
