//! (c) Model-based test of the client: random sequences of calls (ids
//! chosen by the core or by the caller, duplicates included, bursts that
//! use up a 1-byte id space), cancels, server responses (right, wrong,
//! late, duplicate, of the largest size a frame allows), bad lengths, the
//! peer closing (between frames or mid-frame), i/o errors, a server that
//! stops reading behind a small link, time jumps, `fail_pending`, graceful
//! shutdown and close, run through a [`Pair`] and checked after every step
//! against the reference model in `model/mod.rs`.
//!
//! After every step the core must agree with the model on: every event and
//! the virtual instant it was raised at (completions with their exact
//! result, `UnknownResponse { late }`, `Pause`/`Resume` with the queue size
//! at the crossing, `IdleTimeout`, `ProtocolError`, `Disconnected` with its
//! exact reason), the refusal of every refused call, the state and its
//! reason, the pending calls, the unwritten bytes, the bytes in the link,
//! the requests the server received, and `poll_timeout`.
//!
//! Two ways of moving time:
//! - the default pair fires both cores' timers at every stop on its way;
//!   the events' instants show whether a deadline, the idle timeout or the
//!   shutdown deadline fired on time, and not a tick later;
//! - a pair with [`Pair::manual_timers`] fires nothing: the test calls
//!   `handle_timeout` only at the instants the client's `poll_timeout`
//!   names, as a driver sleeping on it would. A timer `poll_timeout`
//!   forgets never fires (the model's completion is missing), one it names
//!   late fires late, and one it names early is a wasted wake-up: a
//!   `handle_timeout` that does nothing. That last one is a failure too:
//!   `poll_timeout` promises "the earliest instant at which
//!   `handle_timeout` has something to do", and a driver that trusts an
//!   instant at which nothing is due spins (it sleeps until an instant
//!   that has already passed, wakes, and is told the same instant again).

mod model;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use framing_core::testkit::encode_frame;
use framing_core::testkit::pair::{Chunker, LinkConfig, Pair};
use framing_core::testkit::strategies::{chunker, codec_params_with, timeout, CodecParams};
use framing_core::{
    CallError, CallOptions, Config, DisconnectReason, Event, IoFailure, RespondError, RpcId, State,
};
use model::{BadLength, Late, Model, Phase, Seen, Wire};
use proptest::collection::vec;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum TimeoutOp {
    Default,
    Never,
    After(u64),
}

#[derive(Debug, Clone, Copy)]
enum Size {
    /// The call's context and `extra` bytes.
    Small,
    /// The largest payload a frame holds.
    Largest,
    /// One byte more.
    TooLarge,
}

#[derive(Debug, Clone)]
enum Op {
    /// A call; `id` picks a caller id (small, so duplicates happen), or
    /// the core chooses.
    Call {
        extra: u8,
        id: Option<u64>,
        timeout: TimeoutOp,
        size: Size,
    },
    /// Many calls at once with automatic ids (a 1-byte id field runs out),
    /// then the last `cancel` of them are cancelled (so that the only free
    /// ids are ones the client remembers).
    Burst {
        n: u16,
        cancel: u8,
    },
    /// Cancel an id issued earlier (pending or not).
    Cancel(usize),
    /// The server answers a request it holds.
    Respond(usize),
    /// The server answers a request it already answered.
    RespondAgain(usize),
    /// A raw response frame: a known id (`pick`) or any id; `len: None`
    /// is the largest payload.
    Inject {
        pick: Option<usize>,
        id: u64,
        len: Option<u8>,
    },
    /// A header whose length breaks the format.
    BadLength(BadLength, u64),
    /// The server closes, after sending `partial` bytes of a frame.
    PeerCloses {
        partial: u8,
    },
    /// Reading or writing fails.
    IoError(IoFailure),
    /// The server's application stops or resumes reading.
    ServerReading(bool),
    /// Time passes.
    Advance(u64),
    FailPending,
    Shutdown(u64),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    let timeout_op = prop_oneof![
        2 => Just(TimeoutOp::Default),
        1 => Just(TimeoutOp::Never),
        2 => (1u64..=300).prop_map(TimeoutOp::After),
    ];
    let size = prop_oneof![
        30 => Just(Size::Small),
        1 => Just(Size::Largest),
        1 => Just(Size::TooLarge),
    ];
    // Small ids collide; a few do not fit a narrow id field.
    let caller_id = prop_oneof![20 => 0u64..=6, 1 => 250u64..=260, 1 => any::<u64>()];
    let bad = prop_oneof![
        Just(BadLength::TooShort),
        Just(BadLength::TooLarge),
        Just(BadLength::Negative),
    ];
    let io = prop_oneof![
        Just(IoFailure::Reset),
        Just(IoFailure::Aborted),
        Just(IoFailure::BrokenPipe),
        Just(IoFailure::TimedOut),
        Just(IoFailure::Other),
    ];
    // Ops that end the connection are rare, so that long histories (late
    // ids evicted, ids running out) happen.
    prop_oneof![
        24 => (0u8..=8, proptest::option::weighted(0.4, caller_id), timeout_op, size)
            .prop_map(|(extra, id, timeout, size)| Op::Call { extra, id, timeout, size }),
        // Enough at once to use up a 1-byte id field, or a few.
        2 => (prop_oneof![1u16..=40, 250u16..=300], prop_oneof![3 => Just(0u8), 1 => 1u8..=3])
            .prop_map(|(n, cancel)| Op::Burst { n, cancel }),
        8 => any::<usize>().prop_map(Op::Cancel),
        20 => any::<usize>().prop_map(Op::Respond),
        2 => any::<usize>().prop_map(Op::RespondAgain),
        6 => (proptest::option::weighted(0.7, any::<usize>()), any::<u64>(),
              proptest::option::weighted(0.95, 0u8..=20))
            .prop_map(|(pick, id, len)| Op::Inject { pick, id, len }),
        2 => (bad, any::<u64>()).prop_map(|(b, k)| Op::BadLength(b, k)),
        1 => prop_oneof![Just(0u8), any::<u8>()].prop_map(|partial| Op::PeerCloses { partial }),
        1 => io.prop_map(Op::IoError),
        6 => any::<bool>().prop_map(Op::ServerReading),
        12 => prop_oneof![1u64..=50, 51u64..=600, Just(0)].prop_map(Op::Advance),
        2 => Just(Op::FailPending),
        1 => (0u64..=400).prop_map(Op::Shutdown),
        1 => Just(Op::Close),
    ]
}

/// Everything a run is set up with.
#[derive(Debug, Clone)]
struct Setup {
    params: CodecParams,
    call_timeout: Option<Duration>,
    idle: Option<Duration>,
    strict: bool,
    late_memory: usize,
    /// `(low, warn, max)`, small; `None` for the defaults.
    watermarks: Option<(usize, usize, usize)>,
    /// Most bytes in flight to the server; `None` for no limit.
    capacity: Option<usize>,
    up: Chunker,
    down: Chunker,
}

fn setup() -> impl Strategy<Value = Setup> {
    let params = prop_oneof![
        1 => codec_params_with(0..=0, 24..=300),
        2 => codec_params_with(1..=1, 24..=300),
        2 => codec_params_with(2..=8, 24..=300),
    ];
    let watermarks = proptest::option::weighted(
        0.6,
        (1usize..=150).prop_flat_map(|warn| (0..warn, Just(warn), warn..=warn + 150)),
    );
    let late_memory = prop_oneof![1 => Just(0usize), 4 => 1usize..=6, 1 => Just(4096usize)];
    (
        params,
        timeout(400),
        timeout(2_000),
        any::<bool>(),
        late_memory,
        watermarks,
        proptest::option::weighted(0.5, 1usize..=64),
        chunker(),
        chunker(),
    )
        .prop_map(
            |(params, call_timeout, idle, strict, late_memory, watermarks, capacity, up, down)| {
                Setup {
                    params,
                    call_timeout,
                    idle,
                    strict,
                    late_memory,
                    watermarks,
                    capacity,
                    up,
                    down,
                }
            },
        )
}

fn response_to(request: &Bytes) -> Bytes {
    request.iter().map(|b| !b).collect::<Vec<u8>>().into()
}

/// What reaches the client from the server's side during one step, in
/// order.
#[derive(Debug)]
enum Input {
    Frame(u64, Bytes),
    BadLength(framing_core::ProtocolError),
    Eof { partial: usize },
}

fn seen(ev: Event<u64>) -> Seen {
    match ev {
        Event::Completed { id, ctx, result } => Seen::Completed { ctx, id, result },
        Event::UnknownResponse { id, late } => Seen::Unknown { id, late },
        Event::Pause { queued } => Seen::Pause(queued),
        Event::Resume { queued } => Seen::Resume(queued),
        Event::IdleTimeout => Seen::Idle,
        Event::ProtocolError(p) => Seen::Protocol(p),
        Event::Disconnected(r) => Seen::Disconnected(r),
        other => panic!("unexpected client event {other:?}"),
    }
}

fn normalized(mut events: Vec<(Duration, Seen)>) -> Vec<(Duration, Seen)> {
    events.sort_by_key(|(at, s)| (*at, s.sort_key()));
    events
}

/// Whether the core's state is the model's phase, reason included.
fn same_phase(s: &State<Duration>, p: &Phase) -> bool {
    match (s, p) {
        (State::Open, Phase::Open) => true,
        (State::ShuttingDown { deadline }, Phase::ShuttingDown(d)) => deadline == d,
        (State::Closed(a), Phase::Closed(b)) => a == b,
        _ => false,
    }
}

/// The pair, the model, and what the test knows about the server.
struct Run {
    pair: Pair<u64>,
    m: Model,
    manual: bool,
    codec: framing_core::Codec,
    /// Requests the server holds / answered, as (server id, request).
    held: Vec<(RpcId, Bytes)>,
    answered: Vec<(RpcId, Bytes)>,
    /// Requests on their way to the server: (server id, payload, where
    /// their frame ends in the client's byte stream).
    on_the_way: VecDeque<(RpcId, Bytes, u64)>,
    /// Without ids: the server sends answers in request order.
    fifo_answers: BTreeMap<u64, Bytes>,
    fifo_sent: u64,
    issued: Vec<RpcId>,
    accepted: BTreeSet<u64>,
    finished: BTreeMap<u64, &'static str>,
    next_ctx: u64,
    /// How often each case the model knows was reached.
    cov: Coverage,
}

/// Cases reached, by name.
type Coverage = BTreeMap<&'static str, u64>;

fn refusal_name(e: &CallError) -> &'static str {
    match e {
        CallError::BufferFull { .. } => "refused: BufferFull",
        CallError::NoFreeId => "refused: NoFreeId",
        CallError::DuplicateRpcId(_) => "refused: DuplicateRpcId",
        CallError::IdOutOfRange { .. } => "refused: IdOutOfRange",
        CallError::IdsNotSupported => "refused: IdsNotSupported",
        CallError::FrameTooLarge { .. } => "refused: FrameTooLarge",
        CallError::ShuttingDown => "refused: ShuttingDown",
        CallError::Closed => "refused: Closed",
        CallError::Disconnected(_) => "refused: Disconnected",
        CallError::Protocol(_) => "refused: Protocol",
        _ => "refused: other",
    }
}

fn event_name(s: &Seen, strict: bool) -> &'static str {
    use framing_core::ProtocolError as P;
    match s {
        Seen::Completed { result: Ok(_), .. } => "completed: response",
        Seen::Completed { result: Err(e), .. } => match e {
            CallError::DeadlineExceeded => "completed: DeadlineExceeded",
            CallError::Closed => "completed: Closed",
            CallError::FailedByUser => "completed: FailedByUser",
            CallError::Disconnected(_) => "completed: Disconnected",
            CallError::Protocol(_) => "completed: Protocol",
            _ => "completed: other",
        },
        Seen::Unknown { late: true, .. } if strict => "unknown: late, strict",
        Seen::Unknown { late: true, .. } => "unknown: late",
        Seen::Unknown { late: false, .. } => "unknown: not late",
        Seen::Pause(_) => "Pause",
        Seen::Resume(_) => "Resume",
        Seen::Idle => "IdleTimeout",
        Seen::Protocol(P::LengthTooShort { .. }) => "protocol: LengthTooShort",
        Seen::Protocol(P::LengthTooLarge { .. }) => "protocol: LengthTooLarge",
        Seen::Protocol(P::NegativeLength { .. }) => "protocol: NegativeLength",
        Seen::Protocol(P::UnknownResponseId { .. }) => "protocol: UnknownResponseId (strict)",
        Seen::Protocol(_) => "protocol: other",
        Seen::Disconnected(DisconnectReason::PeerClosed) => "disconnected: PeerClosed",
        Seen::Disconnected(DisconnectReason::PeerClosedMidFrame { .. }) => {
            "disconnected: PeerClosedMidFrame"
        }
        Seen::Disconnected(DisconnectReason::Io(_)) => "disconnected: Io",
        Seen::Disconnected(_) => "disconnected: other",
    }
}

impl Run {
    fn new(s: &Setup, manual: bool) -> Self {
        let codec = s.params.build();
        let wire = Wire::new(s.params);
        assert_eq!(
            wire.max_payload,
            codec.max_payload_len(),
            "the model's frame limit"
        );
        assert_eq!(wire.max_id, codec.max_id());
        let mut b = Config::builder()
            .codec(codec.clone())
            .call_timeout(s.call_timeout)
            .idle_timeout(s.idle)
            .strict_unknown_ids(s.strict)
            .late_memory(s.late_memory);
        let defaults = Config::default();
        let marks = s.watermarks.unwrap_or((
            defaults.low_buffer_bytes(),
            defaults.warn_buffer_bytes(),
            defaults.max_buffer_bytes(),
        ));
        if let Some((low, warn, max)) = s.watermarks {
            b = b
                .low_buffer_bytes(low)
                .warn_buffer_bytes(warn)
                .max_buffer_bytes(max);
        }
        let client = b.build().unwrap();
        let server = Config::builder()
            .codec(codec.clone())
            .idle_timeout(s.idle)
            .build()
            .unwrap();
        let capacity = s.capacity.unwrap_or(usize::MAX);
        let mut pair: Pair<u64> = Pair::with_configs(client, server)
            .with_links(
                LinkConfig::chunked(s.up.clone()).with_capacity(capacity),
                LinkConfig::chunked(s.down.clone()),
            )
            .holding_requests();
        if manual {
            pair = pair.manual_timers();
        }
        let m = Model::new(
            wire,
            s.call_timeout,
            s.idle,
            s.strict,
            s.late_memory,
            marks,
            capacity,
        );
        Run {
            pair,
            m,
            manual,
            codec,
            held: Vec::new(),
            answered: Vec::new(),
            on_the_way: VecDeque::new(),
            fifo_answers: BTreeMap::new(),
            fifo_sent: 0,
            issued: Vec::new(),
            accepted: BTreeSet::new(),
            finished: BTreeMap::new(),
            next_ctx: 0,
            cov: Coverage::new(),
        }
    }

    fn hit(&mut self, case: &'static str) {
        *self.cov.entry(case).or_default() += 1;
    }

    /// Whether the model can tell what a response to `id` does.
    fn sure(&mut self, id: u64) -> bool {
        let sure = !self.m.has_ids()
            || self.m.pending.contains_key(&id)
            || self.m.late(id) != Late::Unsure;
        if !sure {
            self.hit("response held back: late or not is unsure");
        }
        sure
    }

    fn call(
        &mut self,
        extra: u8,
        id: Option<u64>,
        timeout: TimeoutOp,
        size: Size,
    ) -> Result<(), TestCaseError> {
        let ctx = self.next_ctx;
        self.next_ctx += 1;
        let mut req = ctx.to_le_bytes().to_vec();
        req.extend(std::iter::repeat_n(extra, usize::from(extra)));
        match size {
            Size::Small => {}
            Size::Largest => req.resize(self.m.wire.max_payload, 0xAB),
            Size::TooLarge => req.resize(self.m.wire.max_payload + 1, 0xAA),
        }
        let req = Bytes::from(req);
        let mut opts = CallOptions::new();
        if let Some(id) = id {
            opts = opts.id(RpcId(id));
        }
        let d = match timeout {
            TimeoutOp::Default => self.m.call_timeout,
            TimeoutOp::Never => {
                opts = opts.no_timeout();
                None
            }
            TimeoutOp::After(ms) => {
                opts = opts.timeout(Duration::from_millis(ms));
                Some(Duration::from_millis(ms))
            }
        };
        let want = self.m.refusal(id, req.len());
        match (self.pair.call_with(req.clone(), opts, ctx), want) {
            (Ok(got), None) => {
                let key = got.0;
                let m = &mut self.m;
                prop_assert!(
                    !m.pending.contains_key(&key),
                    "id {} reused while pending",
                    key
                );
                match (m.wire.max_id, id) {
                    (Some(max), Some(id)) => {
                        prop_assert!(key <= max);
                        prop_assert_eq!(key, id);
                        m.reuse(key);
                    }
                    (Some(max), None) => {
                        prop_assert!(key <= max);
                        if m.late(key) == Late::Yes {
                            *self
                                .cov
                                .entry("automatic id reuses a remembered one")
                                .or_default() += 1;
                            prop_assert!(
                                !m.fresh_id_exists(),
                                "automatic id {} is remembered as abandoned while a fresh one is free",
                                key
                            );
                        }
                    }
                    (None, _) => {
                        prop_assert_eq!(key, m.next_seq, "FIFO calls are numbered in order")
                    }
                }
                m.accept(key, ctx, d.map(|d| m.now + d), req.len());
                self.accepted.insert(ctx);
                self.issued.push(got);
                self.on_the_way.push_back((got, req, self.m.accepted_bytes));
            }
            (Err(rej), Some(want)) => {
                prop_assert_eq!(&rej.error, &want);
                prop_assert_eq!(rej.ctx, ctx);
                prop_assert_eq!(rej.payload, req);
                self.m.note_refusal(&want);
                self.hit(refusal_name(&want));
            }
            (got, want) => prop_assert!(
                false,
                "call gave {:?}, the model expected refusal {:?}",
                got.map_err(|r| r.error),
                want
            ),
        }
        Ok(())
    }

    /// A response from the server: the frames it releases.
    fn respond(
        &mut self,
        sid: RpcId,
        req: &Bytes,
        again: bool,
    ) -> Result<Vec<Input>, TestCaseError> {
        let resp = response_to(req);
        let got = self.pair.respond(sid, resp.clone());
        let mut frames = Vec::new();
        if self.m.server_closed {
            prop_assert_eq!(got, Err(RespondError::Closed));
        } else if !self.m.has_ids() && again {
            prop_assert_eq!(got, Err(RespondError::UnknownRequest(sid)));
        } else {
            prop_assert_eq!(got, Ok(()));
            if self.m.has_ids() {
                frames.push(Input::Frame(sid.0, resp));
            } else {
                self.fifo_answers.insert(sid.0, resp);
                while let Some(p) = self.fifo_answers.remove(&self.fifo_sent) {
                    frames.push(Input::Frame(self.fifo_sent, p));
                    self.fifo_sent += 1;
                }
            }
        }
        Ok(frames)
    }

    /// Moves time to `target`: the pair's way, or by hand at the instants
    /// `poll_timeout` names.
    fn advance(&mut self, target: Duration) -> Result<(), TestCaseError> {
        if !self.manual {
            self.pair.advance_to(target);
            self.m.fire();
            for _ in 0..10_000 {
                match self.m.next_due() {
                    Some(t) if t <= target => {
                        self.m.now = t.max(self.m.now);
                        prop_assert!(self.m.fire(), "the model did nothing at {:?}", t);
                    }
                    _ => break,
                }
            }
            self.m.now = target;
            return Ok(());
        }
        loop {
            let due = self.pair.client.poll_timeout();
            prop_assert_eq!(
                due,
                self.m.next_due(),
                "poll_timeout at {:?} must name the next instant anything is due",
                self.pair.now()
            );
            let now = self.pair.now();
            let wake = due.map(|d| d.max(now));
            let next = [wake, self.pair.next_delivery()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= target => {
                    self.pair.advance_to(t);
                    self.m.now = t;
                    if wake == Some(t) {
                        let did = self.pair.fire_client_timeout();
                        let want = self.m.fire();
                        self.m.settle();
                        prop_assert!(
                            did,
                            "wasted wake-up at {:?}: poll_timeout named an instant at which nothing was due",
                            t
                        );
                        prop_assert!(want, "the model did nothing at {:?}", t);
                        self.hit("manual wake-up at poll_timeout");
                    }
                }
                _ => {
                    self.pair.advance_to(target);
                    self.m.now = target;
                    return Ok(());
                }
            }
        }
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        self.m.expected.clear();
        self.m.now = self.pair.now();
        let mut inputs: Vec<Input> = Vec::new();
        match op {
            Op::Call {
                extra,
                id,
                timeout,
                size,
            } => self.call(extra, id, timeout, size)?,
            Op::Burst { n, cancel } => {
                let first = self.issued.len();
                for _ in 0..n {
                    self.call(0, None, TimeoutOp::Default, Size::Small)?;
                }
                let burst: Vec<RpcId> = self.issued[first..].to_vec();
                for id in burst.iter().rev().take(usize::from(cancel)) {
                    let got = self.pair.client.cancel(*id);
                    let want = self.m.cancel(id.0);
                    prop_assert_eq!(got, want);
                    if let Some(ctx) = want {
                        prop_assert!(self.finished.insert(ctx, "cancelled").is_none());
                    }
                }
            }
            Op::Cancel(i) => {
                if !self.issued.is_empty() {
                    let id = self.issued[i % self.issued.len()];
                    let got = self.pair.client.cancel(id);
                    let want = self.m.cancel(id.0);
                    prop_assert_eq!(got, want);
                    if let Some(ctx) = want {
                        prop_assert!(self.finished.insert(ctx, "cancelled").is_none());
                    }
                }
            }
            Op::Respond(i) => {
                if !self.held.is_empty() {
                    let i = i % self.held.len();
                    if self.sure(self.held[i].0 .0) {
                        let (sid, req) = self.held.remove(i);
                        inputs = self.respond(sid, &req, false)?;
                        self.answered.push((sid, req));
                    }
                }
            }
            Op::RespondAgain(i) => {
                if !self.answered.is_empty() {
                    let (sid, req) = self.answered[i % self.answered.len()].clone();
                    if self.sure(sid.0) {
                        inputs = self.respond(sid, &req, true)?;
                    }
                }
            }
            Op::Inject { pick, id, len } => {
                let id = match (pick, self.issued.is_empty(), self.m.wire.max_id) {
                    (_, _, None) => 0,
                    (Some(i), false, _) => self.issued[i % self.issued.len()].0,
                    (_, _, Some(u64::MAX)) => id,
                    (_, _, Some(max)) => id % (max + 1),
                };
                if self.sure(id) {
                    let len = len.map_or(self.m.wire.max_payload, usize::from);
                    let payload = Bytes::from(vec![0xEE; len]);
                    self.pair
                        .send_raw_to_client(&encode_frame(&self.codec, id, &payload));
                    inputs.push(Input::Frame(id, payload));
                }
            }
            Op::BadLength(kind, k) => {
                if let Some((header, error)) = self.m.wire.bad_header(kind, k) {
                    self.pair.send_raw_to_client(&header);
                    inputs.push(Input::BadLength(error));
                }
            }
            Op::PeerCloses { partial } => {
                let frame = encode_frame(&self.codec, 0, &[0xEE; 20]);
                let partial = usize::from(partial) % frame.len();
                self.pair.send_raw_to_client(&frame[..partial]);
                self.pair.server.close();
                inputs.push(Input::Eof { partial });
            }
            Op::IoError(kind) => {
                let reason = DisconnectReason::io(kind, format!("injected {kind:?}"));
                self.pair
                    .client
                    .handle_io_error(self.pair.now(), reason.clone());
                self.m.fail(CallError::Disconnected(reason));
            }
            Op::ServerReading(on) => {
                self.pair.set_server_reading(on);
                self.m.server_reading = on;
            }
            Op::Advance(ms) => {
                let target = self.pair.now() + Duration::from_millis(ms);
                self.advance(target)?;
            }
            Op::FailPending => {
                self.pair.client.fail_pending();
                self.m.fail_pending();
            }
            Op::Shutdown(ms) => {
                let deadline = self.pair.now() + Duration::from_millis(ms);
                self.pair.client.shutdown(deadline);
                self.m.shutdown(deadline);
            }
            Op::Close => {
                self.pair.client.close();
                self.m.fail(CallError::Closed);
            }
        }
        self.pair.drive();
        self.model_drive(inputs);
        self.check()
    }

    /// The model's side of the pair's `drive`: the first round carries
    /// the client's write, the server's read and then everything on its
    /// way to the client; later rounds only the writes a reading server
    /// makes room for.
    fn model_drive(&mut self, inputs: Vec<Input>) {
        self.m.flow_round();
        for input in inputs {
            match input {
                Input::Frame(id, payload) => self.m.response(id, payload),
                Input::BadLength(e) => self.m.bad_length(e),
                Input::Eof { partial } => {
                    self.m.server_closed = true;
                    self.m.eof_after(partial);
                }
            }
        }
        while self.m.flow_round() {}
        self.m.settle();
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        // Requests reach the server in order, unchanged, once their last
        // byte is delivered; those cut off by a close never do.
        for (sid, payload) in self.pair.take_held_requests() {
            let want = self.on_the_way.pop_front();
            prop_assert!(
                want.as_ref().is_some_and(|w| w.2 <= self.m.delivered),
                "request {:?} reached the server before all its bytes",
                sid
            );
            let want = want.map(|(s, p, _)| (s, p));
            prop_assert_eq!(Some((sid, payload.clone())), want, "request at the server");
            self.held.push((sid, payload));
        }
        if let Some((sid, _, end)) = self.on_the_way.front() {
            prop_assert!(*end > self.m.delivered, "request {:?} lost on the way", sid);
        }
        let cut = if self.m.server_closed {
            self.m.delivered
        } else if self.m.is_closed() {
            self.m.transmitted
        } else {
            u64::MAX
        };
        self.on_the_way.retain(|r| r.2 <= cut);

        // Events: exactly the model's, each at the model's instant.
        let got: Vec<(Duration, Seen)> = self
            .pair
            .take_timed_client_events()
            .into_iter()
            .map(|(at, ev)| (at, seen(ev)))
            .collect();
        for (_, s) in &got {
            if let Seen::Completed { ctx, .. } = s {
                prop_assert!(
                    self.accepted.contains(ctx),
                    "completion of a call never accepted"
                );
                prop_assert!(
                    self.finished.insert(*ctx, "completed").is_none(),
                    "call {} ended twice",
                    ctx
                );
            }
        }
        let want = std::mem::take(&mut self.m.expected);
        for (_, s) in &want {
            let name = event_name(s, self.m.strict);
            self.hit(name);
        }
        prop_assert_eq!(normalized(got), normalized(want));

        let c = &mut self.pair.client;
        prop_assert!(
            same_phase(&c.state(), &self.m.phase),
            "core {:?}, model {:?}",
            c.state(),
            self.m.phase
        );
        prop_assert_eq!(c.pending_calls(), self.m.pending.len());
        prop_assert_eq!(c.queued_bytes(), self.m.queued, "unwritten bytes");
        prop_assert_eq!(c.is_paused(), self.m.paused);
        prop_assert_eq!(
            c.poll_timeout(),
            self.m.next_due(),
            "poll_timeout must name the next instant anything is due"
        );
        prop_assert_eq!(
            self.pair.in_flight().0,
            self.m.in_flight,
            "bytes in the link"
        );
        prop_assert_eq!(
            self.pair.server.is_closed(),
            self.m.server_closed,
            "server closed"
        );
        Ok(())
    }

    fn finish(mut self) -> Result<Coverage, TestCaseError> {
        self.step(Op::Close)?;
        if self.m.forgotten > 0 {
            self.hit("late id forgotten beyond late_memory");
        }
        let largest = self.m.wire.max_payload;
        if self.answered.iter().any(|(_, r)| r.len() == largest) {
            self.hit("largest frame answered");
        }
        // Nothing lost: every accepted call either completed or was cancelled.
        prop_assert_eq!(
            self.finished.keys().copied().collect::<BTreeSet<u64>>(),
            self.accepted.clone()
        );
        let s = self.pair.client.stats();
        let m = &self.m;
        prop_assert_eq!(s.calls, m.calls);
        prop_assert_eq!(s.calls, self.accepted.len() as u64);
        prop_assert_eq!(s.responses, m.ok);
        prop_assert_eq!(s.timeouts, m.timeouts);
        prop_assert_eq!(s.cancelled, m.cancelled);
        prop_assert_eq!(s.failed, m.failed);
        prop_assert_eq!(s.unknown_responses, m.unknown_total);
        prop_assert_eq!(s.late_responses, m.late_total);
        prop_assert_eq!(s.rejected, m.rejected);
        prop_assert_eq!(s.rejected_buffer_full, m.rejected_full);
        // Every accepted call is accounted for exactly once in the counters.
        prop_assert_eq!(s.calls, s.responses + s.timeouts + s.cancelled + s.failed);
        prop_assert_eq!(
            self.pair.client.poll_timeout(),
            None,
            "a closed client wants no wakeup"
        );
        Ok(self.cov)
    }
}

fn run(setup: &Setup, ops: Vec<Op>, manual: bool) -> Result<Coverage, TestCaseError> {
    let mut run = Run::new(setup, manual);
    for op in ops {
        run.step(op)?;
    }
    run.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The pair fires timers by itself; the events' instants show that
    /// deadlines, idle timeouts and shutdown deadlines fire exactly on time.
    #[test]
    fn every_accepted_call_completes_exactly_once_at_the_instant_the_model_predicts(
        setup in setup(),
        ops in vec(op(), 1..100),
    ) {
        run(&setup, ops, false)?;
    }

    /// The test fires timers only where `poll_timeout` says.
    #[test]
    fn poll_timeout_names_exactly_the_next_instant_anything_is_due(
        setup in setup(),
        ops in vec(op(), 1..100),
    ) {
        run(&setup, ops, true)?;
    }
}

/// Every case the model checks must actually be reached by the generated
/// histories, or its checks say nothing. Runs a fixed set of cases (a
/// deterministic seed), both ways of moving time, and counts.
#[test]
fn the_generated_histories_reach_every_case_the_model_checks() {
    use proptest::test_runner::TestRunner;
    use std::cell::RefCell;

    const CASES: &[&str] = &[
        "refused: BufferFull",
        "refused: NoFreeId",
        "refused: DuplicateRpcId",
        "refused: IdOutOfRange",
        "refused: IdsNotSupported",
        "refused: FrameTooLarge",
        "refused: ShuttingDown",
        "refused: Closed",
        "refused: Disconnected",
        "refused: Protocol",
        "completed: response",
        "completed: DeadlineExceeded",
        "completed: Closed",
        "completed: FailedByUser",
        "completed: Disconnected",
        "completed: Protocol",
        "unknown: late",
        "unknown: late, strict",
        "unknown: not late",
        "late id forgotten beyond late_memory",
        "automatic id reuses a remembered one",
        "response held back: late or not is unsure",
        "largest frame answered",
        "Pause",
        "Resume",
        "IdleTimeout",
        "protocol: LengthTooShort",
        "protocol: LengthTooLarge",
        "protocol: NegativeLength",
        "protocol: UnknownResponseId (strict)",
        "disconnected: PeerClosed",
        "disconnected: PeerClosedMidFrame",
        "disconnected: Io",
        "manual wake-up at poll_timeout",
    ];
    let total = RefCell::new(Coverage::new());
    let mut runner = TestRunner::deterministic();
    runner
        .run(
            &(setup(), vec(op(), 1..100), any::<bool>()),
            |(setup, ops, manual)| {
                for (case, n) in run(&setup, ops, manual)? {
                    *total.borrow_mut().entry(case).or_default() += n;
                }
                Ok(())
            },
        )
        .unwrap();
    let total = total.into_inner();
    let missed: Vec<&str> = CASES
        .iter()
        .copied()
        .filter(|c| !total.contains_key(c))
        .collect();
    assert!(
        missed.is_empty(),
        "never reached: {missed:?}\nreached: {total:#?}"
    );
}
