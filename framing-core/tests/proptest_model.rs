//! (c) Model-based test of the client: random sequences of calls (ids
//! chosen by the core or by the caller, duplicates included), cancels,
//! server responses (right, wrong, late, duplicate), time jumps,
//! `fail_pending`, graceful shutdown and close, run through a [`Pair`]
//! and checked step by step against a reference model built on a
//! `BTreeMap` of pending calls. Every accepted call completes exactly once
//! with the result the model predicts, or is cancelled; none is lost.
//! Runs with id fields of 1 to 8 bytes and without ids (FIFO matching).

use framing_core::testkit::encode_frame;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use framing_core::testkit::pair::{Chunker, LinkConfig, Pair};
use framing_core::testkit::strategies::{chunker, codec_with, timeout};
use framing_core::{CallError, CallOptions, Codec, Config, Event, RespondError, RpcId, State};
use proptest::collection::vec;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum TimeoutOp {
    Default,
    Never,
    After(u64),
}

#[derive(Debug, Clone)]
enum Op {
    /// A call; `id` picks a caller id (small, so duplicates happen), or
    /// the core chooses.
    Call {
        extra: u8,
        id: Option<u64>,
        timeout: TimeoutOp,
        oversize: bool,
    },
    /// Cancel an id issued earlier (pending or not).
    Cancel(usize),
    /// The server answers a request it holds.
    Respond(usize),
    /// The server answers a request it already answered.
    RespondAgain(usize),
    /// A raw response frame: a known id (`pick`) or any id.
    Inject {
        pick: Option<usize>,
        id: u64,
        len: u8,
    },
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
    prop_oneof![
        8 => (0u8..=8, proptest::option::weighted(0.4, 0u64..=6), timeout_op, proptest::bool::weighted(0.05))
            .prop_map(|(extra, id, timeout, oversize)| Op::Call { extra, id, timeout, oversize }),
        2 => any::<usize>().prop_map(Op::Cancel),
        6 => any::<usize>().prop_map(Op::Respond),
        1 => any::<usize>().prop_map(Op::RespondAgain),
        2 => (proptest::option::of(any::<usize>()), any::<u64>(), 0u8..=20)
            .prop_map(|(pick, id, len)| Op::Inject { pick, id, len }),
        3 => prop_oneof![1u64..=50, 51u64..=600, Just(0)].prop_map(Op::Advance),
        1 => Just(Op::FailPending),
        1 => (0u64..=400).prop_map(Op::Shutdown),
        1 => Just(Op::Close),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    ShuttingDown(Duration),
    Closed,
}

#[derive(Debug)]
struct ModelCall {
    ctx: u64,
    deadline: Option<Duration>,
}

/// The reference: what the client must do, written as plainly as possible.
#[derive(Debug)]
struct Model {
    has_ids: bool,
    max_id: u64,
    call_timeout: Option<Duration>,
    now: Duration,
    phase: Phase,
    /// Pending calls by id (by sequence number without ids).
    pending: BTreeMap<u64, ModelCall>,
    /// Ids whose calls timed out, were cancelled or failed by the user.
    recent: BTreeSet<u64>,
    /// Without ids: sequence numbers whose response has not arrived yet,
    /// oldest first (pending or not), and the next sequence number.
    fifo: VecDeque<u64>,
    next_seq: u64,
    /// What this step must produce.
    completions: Vec<(u64, RpcId, Result<Bytes, CallError>)>,
    unknown: Vec<(RpcId, bool)>,
    // Totals, for the counters.
    ok: u64,
    timeouts: u64,
    cancelled: u64,
    unknown_total: u64,
    late_total: u64,
}

impl Model {
    fn complete(&mut self, key: u64, result: Result<Bytes, CallError>) {
        let call = self
            .pending
            .remove(&key)
            .expect("completing a pending call");
        match &result {
            Ok(_) => self.ok += 1,
            Err(CallError::DeadlineExceeded) => self.timeouts += 1,
            Err(_) => {}
        }
        self.completions.push((call.ctx, RpcId(key), result));
    }

    fn check_shutdown_done(&mut self) {
        if matches!(self.phase, Phase::ShuttingDown(_)) && self.pending.is_empty() {
            self.phase = Phase::Closed;
        }
    }

    fn close_all(&mut self, error: CallError) {
        let keys: Vec<u64> = self.pending.keys().copied().collect();
        for k in keys {
            self.complete(k, Err(error.clone()));
        }
        self.phase = Phase::Closed;
    }

    /// A response frame reaches the client.
    fn response(&mut self, wire_id: u64, payload: Bytes) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.has_ids {
            if self.pending.contains_key(&wire_id) {
                self.complete(wire_id, Ok(payload));
            } else {
                let late = self.recent.contains(&wire_id);
                self.note_unknown(RpcId(wire_id), late);
            }
        } else {
            match self.fifo.pop_front() {
                Some(seq) if self.pending.contains_key(&seq) => self.complete(seq, Ok(payload)),
                Some(seq) => self.note_unknown(RpcId(seq), true),
                None => self.note_unknown(RpcId(self.next_seq), false),
            }
        }
        self.check_shutdown_done();
    }

    fn note_unknown(&mut self, id: RpcId, late: bool) {
        self.unknown_total += 1;
        self.late_total += u64::from(late);
        self.unknown.push((id, late));
    }

    fn abandon(&mut self, key: u64) {
        if self.has_ids {
            self.recent.insert(key);
        }
    }

    fn advance(&mut self, to: Duration) {
        self.now = to;
        let limit = match self.phase {
            Phase::ShuttingDown(d) if d <= to => d,
            _ => to,
        };
        let due: Vec<(Duration, u64)> = self
            .pending
            .iter()
            .filter_map(|(k, c)| c.deadline.filter(|&d| d <= limit).map(|d| (d, *k)))
            .collect();
        for (_, k) in due {
            self.complete(k, Err(CallError::DeadlineExceeded));
            self.abandon(k);
        }
        if let Phase::ShuttingDown(d) = self.phase {
            if d <= to {
                self.close_all(CallError::Closed);
            }
        }
        self.check_shutdown_done();
    }
}

fn response_to(request: &Bytes) -> Bytes {
    request.iter().map(|b| !b).collect::<Vec<u8>>().into()
}

/// Whether the core's state is the model's phase.
fn same_phase(s: &State<Duration>, p: Phase) -> bool {
    match (s, p) {
        (State::Open, Phase::Open) => true,
        (State::ShuttingDown { deadline }, Phase::ShuttingDown(d)) => *deadline == d,
        (State::Closed(_), Phase::Closed) => true,
        _ => false,
    }
}

fn scenario() -> impl Strategy<
    Value = (
        Codec,
        Option<Duration>,
        Option<Duration>,
        Chunker,
        Chunker,
        Vec<Op>,
    ),
> {
    (
        prop_oneof![codec_with(0..=0, 24), codec_with(1..=8, 24)],
        timeout(400),
        timeout(2_000),
        chunker(),
        chunker(),
        vec(op(), 1..80),
    )
}

fn run(
    codec: Codec,
    call_timeout: Option<Duration>,
    idle: Option<Duration>,
    up: Chunker,
    down: Chunker,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let config = Config::builder()
        .codec(codec.clone())
        .call_timeout(call_timeout)
        .idle_timeout(idle)
        .build()
        .unwrap();
    let mut pair: Pair<u64> = Pair::new(config)
        .with_links(LinkConfig::chunked(up), LinkConfig::chunked(down))
        .holding_requests();
    let has_ids = codec.has_ids();
    let mut m = Model {
        has_ids,
        max_id: codec.max_id().unwrap_or(0),
        call_timeout,
        now: Duration::ZERO,
        phase: Phase::Open,
        pending: BTreeMap::new(),
        recent: BTreeSet::new(),
        fifo: VecDeque::new(),
        next_seq: 0,
        completions: Vec::new(),
        unknown: Vec::new(),
        ok: 0,
        timeouts: 0,
        cancelled: 0,
        unknown_total: 0,
        late_total: 0,
    };
    let max_payload = codec.max_payload_len();
    // Requests the server holds / answered, as (server id, request payload).
    let mut held: Vec<(RpcId, Bytes)> = Vec::new();
    let mut answered: Vec<(RpcId, Bytes)> = Vec::new();
    // Requests the server must see next, as (server id, payload).
    let mut expect_requests: VecDeque<(RpcId, Bytes)> = VecDeque::new();
    // Without ids: the server sends answers in request order.
    let mut fifo_answers: BTreeMap<u64, Bytes> = BTreeMap::new();
    let mut fifo_sent = 0u64;
    let mut issued: Vec<RpcId> = Vec::new();
    let mut accepted: BTreeSet<u64> = BTreeSet::new();
    let mut finished: BTreeMap<u64, &'static str> = BTreeMap::new();
    let mut server_closed = false;
    let mut next_ctx = 0u64;

    for op in ops.into_iter().chain([Op::Close]) {
        m.completions.clear();
        m.unknown.clear();
        // Frames the server core is expected to send to the client, in order.
        let mut frames: Vec<(u64, Bytes)> = Vec::new();
        match op {
            Op::Call {
                extra,
                id,
                timeout,
                oversize,
            } => {
                let ctx = next_ctx;
                next_ctx += 1;
                let mut req = ctx.to_le_bytes().to_vec();
                req.extend(std::iter::repeat_n(extra, usize::from(extra)));
                if oversize {
                    req.resize(max_payload + 1, 0xAA);
                }
                let req = Bytes::from(req);
                let mut opts = CallOptions::new();
                if let Some(id) = id {
                    opts = opts.id(RpcId(id));
                }
                opts = match timeout {
                    TimeoutOp::Default => opts,
                    TimeoutOp::Never => opts.no_timeout(),
                    TimeoutOp::After(ms) => opts.timeout(Duration::from_millis(ms)),
                };
                let expected_err = match m.phase {
                    Phase::Closed => Some(CallError::Closed),
                    Phase::ShuttingDown(_) => Some(CallError::ShuttingDown),
                    Phase::Open => match id {
                        Some(_) if !has_ids => Some(CallError::IdsNotSupported),
                        Some(id) if id > m.max_id => Some(CallError::IdOutOfRange {
                            id: RpcId(id),
                            max: m.max_id,
                        }),
                        Some(id) if m.pending.contains_key(&id) => {
                            Some(CallError::DuplicateRpcId(RpcId(id)))
                        }
                        _ if oversize => Some(CallError::FrameTooLarge { length: 0, max: 0 }),
                        _ => None,
                    },
                };
                match (pair.call_with(req.clone(), opts, ctx), expected_err) {
                    (Ok(got), None) => {
                        let key = got.0;
                        prop_assert!(
                            !m.pending.contains_key(&key),
                            "id {} reused while pending",
                            key
                        );
                        if has_ids {
                            prop_assert!(key <= m.max_id);
                            if let Some(id) = id {
                                prop_assert_eq!(key, id);
                                m.recent.remove(&key);
                            }
                        } else {
                            prop_assert_eq!(key, m.next_seq, "FIFO calls are numbered in order");
                            m.next_seq += 1;
                            m.fifo.push_back(key);
                        }
                        let d = match timeout {
                            TimeoutOp::Default => m.call_timeout,
                            TimeoutOp::Never => None,
                            TimeoutOp::After(ms) => Some(Duration::from_millis(ms)),
                        };
                        m.pending.insert(
                            key,
                            ModelCall {
                                ctx,
                                deadline: d.map(|d| m.now + d),
                            },
                        );
                        accepted.insert(ctx);
                        issued.push(got);
                        expect_requests.push_back((got, req));
                    }
                    (Err(rej), Some(want)) => {
                        if let CallError::FrameTooLarge { .. } = want {
                            prop_assert!(
                                matches!(rej.error, CallError::FrameTooLarge { .. }),
                                "{:?}",
                                rej.error
                            );
                        } else {
                            prop_assert_eq!(rej.error, want);
                        }
                        prop_assert_eq!(rej.ctx, ctx);
                        prop_assert_eq!(rej.payload, req);
                    }
                    (got, want) => prop_assert!(
                        false,
                        "call gave {:?}, model expected error {:?}",
                        got.map_err(|r| r.error),
                        want
                    ),
                }
            }
            Op::Cancel(i) => {
                if !issued.is_empty() {
                    let id = issued[i % issued.len()];
                    let got = pair.client.cancel(id);
                    let want = m.pending.remove(&id.0).map(|c| c.ctx);
                    prop_assert_eq!(got, want);
                    if let Some(ctx) = want {
                        m.cancelled += 1;
                        m.abandon(id.0);
                        prop_assert!(finished.insert(ctx, "cancelled").is_none());
                    }
                    m.check_shutdown_done();
                }
            }
            Op::Respond(i) => {
                if !held.is_empty() {
                    let (sid, req) = held.remove(i % held.len());
                    let resp = response_to(&req);
                    let got = pair.respond(sid, resp.clone());
                    if server_closed {
                        prop_assert_eq!(got, Err(RespondError::Closed));
                    } else {
                        prop_assert_eq!(got, Ok(()));
                        answered.push((sid, req));
                        if has_ids {
                            frames.push((sid.0, resp));
                        } else {
                            fifo_answers.insert(sid.0, resp);
                            while let Some(p) = fifo_answers.remove(&fifo_sent) {
                                frames.push((fifo_sent, p));
                                fifo_sent += 1;
                            }
                        }
                    }
                }
            }
            Op::RespondAgain(i) => {
                if !answered.is_empty() {
                    let (sid, req) = answered[i % answered.len()].clone();
                    let resp = response_to(&req);
                    let got = pair.respond(sid, resp.clone());
                    if server_closed {
                        prop_assert_eq!(got, Err(RespondError::Closed));
                    } else if has_ids {
                        prop_assert_eq!(got, Ok(()));
                        frames.push((sid.0, resp));
                    } else {
                        prop_assert_eq!(got, Err(RespondError::UnknownRequest(sid)));
                    }
                }
            }
            Op::Inject { pick, id, len } => {
                let id = match (pick, issued.is_empty()) {
                    (Some(i), false) => issued[i % issued.len()].0,
                    _ if m.max_id == u64::MAX => id,
                    _ => id % (m.max_id + 1),
                };
                let wire_id = if has_ids { id } else { 0 };
                let payload = Bytes::from(vec![0xEE; usize::from(len)]);
                pair.send_raw_to_client(&encode_frame(&codec, wire_id, &payload));
                m.response(wire_id, payload);
            }
            Op::Advance(ms) => {
                pair.advance(Duration::from_millis(ms));
                m.advance(pair.now());
            }
            Op::FailPending => {
                pair.client.fail_pending();
                let keys: Vec<u64> = m.pending.keys().copied().collect();
                for k in keys {
                    m.complete(k, Err(CallError::FailedByUser));
                    m.abandon(k);
                }
                m.check_shutdown_done();
            }
            Op::Shutdown(ms) => {
                let deadline = pair.now() + Duration::from_millis(ms);
                pair.client.shutdown(deadline);
                match m.phase {
                    Phase::Open => m.phase = Phase::ShuttingDown(deadline),
                    Phase::ShuttingDown(d) if deadline < d => {
                        m.phase = Phase::ShuttingDown(deadline)
                    }
                    _ => {}
                }
                m.check_shutdown_done();
            }
            Op::Close => {
                pair.client.close();
                m.close_all(CallError::Closed);
            }
        }
        // The server's answers reach the client in the order it sent them.
        for (id, payload) in frames {
            m.response(id, payload);
        }
        pair.drive();

        // Requests reached the server in order, unchanged.
        for (sid, payload) in pair.take_held_requests() {
            let want = expect_requests.pop_front();
            prop_assert_eq!(Some((sid, payload.clone())), want, "request at the server");
            held.push((sid, payload));
        }
        if !server_closed {
            prop_assert!(
                expect_requests.is_empty(),
                "requests lost on the way: {:?}",
                expect_requests
            );
        }

        // Completions: exactly the model's, each call at most once.
        let mut got: Vec<(u64, RpcId, Result<Bytes, CallError>)> = pair
            .take_completions()
            .into_iter()
            .map(|c| (c.ctx, c.id, c.result))
            .collect();
        got.sort_by_key(|c| c.0);
        m.completions.sort_by_key(|c| c.0);
        prop_assert_eq!(&got, &m.completions);
        for (ctx, _, _) in &got {
            prop_assert!(
                accepted.contains(ctx),
                "completion of a call never accepted"
            );
            prop_assert!(
                finished.insert(*ctx, "completed").is_none(),
                "call {} ended twice",
                ctx
            );
        }

        // Unknown responses, in order; nothing else but idle timeouts.
        let mut unknown = Vec::new();
        for ev in pair.take_client_events() {
            match ev {
                Event::UnknownResponse { id, late } => unknown.push((id, late)),
                Event::IdleTimeout => {}
                other => prop_assert!(false, "unexpected client event {:?}", other),
            }
        }
        prop_assert_eq!(&unknown, &m.unknown);

        prop_assert!(
            same_phase(&pair.client.state(), m.phase),
            "core {:?}, model {:?}",
            pair.client.state(),
            m.phase
        );
        prop_assert_eq!(pair.client.pending_calls(), m.pending.len());
        if pair.client.is_closed() {
            server_closed = true;
            prop_assert!(
                pair.server.is_closed(),
                "the server saw the end of the stream"
            );
        }
    }

    // Nothing lost: every accepted call either completed or was cancelled.
    prop_assert_eq!(
        finished.keys().copied().collect::<BTreeSet<u64>>(),
        accepted.clone()
    );
    let s = pair.client.stats();
    prop_assert_eq!(s.calls, accepted.len() as u64);
    prop_assert_eq!(s.responses, m.ok);
    prop_assert_eq!(s.timeouts, m.timeouts);
    prop_assert_eq!(s.cancelled, m.cancelled);
    prop_assert_eq!(s.unknown_responses, m.unknown_total);
    prop_assert_eq!(s.late_responses, m.late_total);
    // Every accepted call is accounted for exactly once in the counters.
    prop_assert_eq!(s.calls, s.responses + s.timeouts + s.cancelled + s.failed);
    prop_assert_eq!(
        pair.client.poll_timeout(),
        None,
        "a closed client wants no wakeup"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn every_accepted_call_completes_exactly_once_as_the_model_predicts(
        (codec, call_timeout, idle, up, down, ops) in scenario()
    ) {
        run(codec, call_timeout, idle, up, down, ops)?;
    }
}

/// The same, without ids: responses complete calls in FIFO order.
mod fifo {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn fifo_calls_complete_exactly_once_as_the_model_predicts(
            (codec, call_timeout, idle, up, down, ops) in (
                codec_with(0..=0, 24),
                timeout(400),
                timeout(2_000),
                chunker(),
                chunker(),
                vec(op(), 1..80),
            )
        ) {
            run(codec, call_timeout, idle, up, down, ops)?;
        }
    }
}
