//! A reconnecting client core against a model of its write queue: across
//! any sequence of calls, partial writes, lost connections, reconnections,
//! deadlines and cancels, every accepted call completes exactly once; a
//! call completes with `Disconnected` exactly when a byte of its request
//! had been handed to a connection that was then lost; no request reaches
//! a server twice; and every answer is the answer to its own request.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::{Buf, Bytes};
use framing_core::testkit::strategies::codec_with;
use framing_core::{
    CallError, CallOptions, Codec, Config, Connection, DisconnectReason, Event, RpcId, State,
    WhileDisconnected,
};
use proptest::collection::vec;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// A call; `Some(ms)` gives it a deadline.
    Call(Option<u64>),
    /// The socket takes up to this many bytes of the queue.
    Write(usize),
    /// Answers the server has sent reach the client.
    Deliver,
    /// The connection is lost: peer closed, or an i/o error.
    Lose(bool),
    /// A new connection is up.
    Reconnect,
    /// Time passes.
    Advance(u64),
    /// The n-th call made so far is cancelled.
    Cancel(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::option::of(1u64..200).prop_map(Op::Call),
        4 => (1usize..64).prop_map(Op::Write),
        2 => Just(Op::Deliver),
        1 => any::<bool>().prop_map(Op::Lose),
        2 => Just(Op::Reconnect),
        1 => (1u64..100).prop_map(Op::Advance),
        1 => any::<usize>().prop_map(Op::Cancel),
    ]
}

/// What the model knows of one accepted call.
#[derive(Debug)]
struct Expect {
    id: RpcId,
    payload: Bytes,
    deadline: Option<Duration>,
    /// Completed or cancelled.
    over: bool,
}

/// The model: each frame of the client's queue, in order, as the call it
/// belongs to and its length, plus how much of the front frame the socket
/// took.
#[derive(Debug, Default)]
struct Model {
    calls: BTreeMap<u64, Expect>,
    /// (call, frame length) in queue order.
    queue: VecDeque<(u64, usize)>,
    front_written: usize,
    /// Calls with a byte handed to the current connection.
    sent_now: BTreeSet<u64>,
}

impl Model {
    fn written(&mut self, mut n: usize) {
        while n > 0 {
            let Some(&(call, len)) = self.queue.front() else {
                panic!("the core wrote {n} bytes more than the model queued");
            };
            self.sent_now.insert(call);
            let take = n.min(len - self.front_written);
            self.front_written += take;
            n -= take;
            if self.front_written == len {
                self.queue.pop_front();
                self.front_written = 0;
            }
        }
    }

    /// The connection is lost: every frame with a byte written leaves the
    /// queue; the rest stay, in order.
    fn lost(&mut self, fail_fast: bool) -> BTreeSet<u64> {
        if self.front_written > 0 {
            self.queue.pop_front();
            self.front_written = 0;
        }
        if fail_fast {
            self.queue.clear();
        }
        std::mem::take(&mut self.sent_now)
    }

    /// With an id field, the frames of calls that ended before any byte of
    /// them was written are never sent (held frames are dropped when their
    /// call ends, and at a loss).
    fn drop_ended(&mut self, has_ids: bool) {
        if has_ids {
            let calls = &self.calls;
            self.queue.retain(|(call, _)| !calls[call].over);
        }
    }

    fn queued(&self) -> usize {
        self.queue.iter().map(|(_, len)| len).sum::<usize>() - self.front_written
    }
}

/// One connection's server: an echo that reverses the payload.
struct Peer {
    server: Connection<Duration>,
    to_client: Vec<u8>,
}

impl Peer {
    fn new(config: &Config) -> Self {
        Peer {
            server: Connection::server(config.clone(), Duration::ZERO),
            to_client: Vec::new(),
        }
    }
}

fn answer(request: &[u8]) -> Bytes {
    request.iter().rev().copied().collect::<Vec<u8>>().into()
}

fn run(codec: Codec, mode: WhileDisconnected, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let has_ids = codec.has_ids();
    let config = Config::builder()
        .codec(codec)
        .idle_timeout(None)
        .late_memory(1 << 16)
        .build()
        .unwrap();
    let fail_fast = mode == WhileDisconnected::FailFast;
    let mut now = Duration::ZERO;
    let mut client: Connection<Duration, u64> = Connection::client(config.clone(), now);
    client.set_reconnect(Some(mode));
    let mut peer = Some(Peer::new(&config));
    let mut model = Model::default();
    let mut received: BTreeMap<Bytes, usize> = BTreeMap::new();
    let mut order: Vec<u64> = Vec::new();
    let mut next = 0u64;

    for op in ops {
        match op {
            Op::Call(ms) => {
                let payload = Bytes::from(format!("call {next}"));
                let opts = match ms {
                    Some(ms) => CallOptions::new().timeout(Duration::from_millis(ms)),
                    None => CallOptions::new(),
                };
                let frame_len = client.queued_bytes();
                match client.call_with(now, payload.clone(), opts, next) {
                    Ok(id) => {
                        let frame_len = client.queued_bytes() - frame_len;
                        model.queue.push_back((next, frame_len));
                        model.calls.insert(
                            next,
                            Expect {
                                id,
                                payload,
                                deadline: ms.map(|ms| now + Duration::from_millis(ms)),
                                over: false,
                            },
                        );
                        order.push(next);
                    }
                    Err(rejected) => {
                        let disconnected = matches!(client.state(), State::Disconnected { .. });
                        prop_assert!(
                            fail_fast && disconnected,
                            "call refused with {:?} in {:?}",
                            rejected.error,
                            client.state()
                        );
                        prop_assert!(matches!(rejected.error, CallError::Disconnected(_)));
                        prop_assert_eq!(rejected.payload, payload);
                    }
                }
                next += 1;
            }
            Op::Write(n) => {
                let Some(p) = peer.as_mut() else {
                    prop_assert!(
                        client.poll_transmit(now).is_none(),
                        "bytes without a connection"
                    );
                    continue;
                };
                if let Some(mut out) = client.poll_transmit(now) {
                    let n = n.min(out.remaining());
                    let bytes = out.copy_to_bytes(n);
                    model.written(n);
                    p.server.handle_read(now, &bytes);
                    while let Some(ev) = p.server.poll_event() {
                        if let Event::Request { id, payload } = ev {
                            *received.entry(payload.clone()).or_default() += 1;
                            p.server.respond(id, answer(&payload)).unwrap();
                        }
                    }
                    if let Some(mut back) = p.server.poll_transmit(now) {
                        let len = back.remaining();
                        p.to_client.extend_from_slice(&back.copy_to_bytes(len));
                    }
                }
            }
            Op::Deliver => {
                if let Some(p) = peer.as_mut() {
                    let bytes = std::mem::take(&mut p.to_client);
                    client.handle_read(now, &bytes);
                }
            }
            Op::Lose(eof) => {
                if peer.take().is_none() {
                    continue;
                }
                if eof {
                    client.handle_eof(now);
                } else {
                    let reason = DisconnectReason::io(framing_core::IoFailure::Reset, "reset");
                    client.handle_io_error(now, reason);
                }
                let sent = model.lost(fail_fast);
                // Exactly the calls that had a byte on the lost connection
                // fail with Disconnected, or every pending call in
                // fail-fast mode.
                let mut failed = BTreeSet::new();
                while let Some(ev) = client.poll_event() {
                    match ev {
                        Event::Completed {
                            ctx,
                            result: Err(CallError::Disconnected(_)),
                            ..
                        } => {
                            let e = model.calls.get_mut(&ctx).expect("a known call");
                            prop_assert!(!e.over, "call {} completed twice", ctx);
                            e.over = true;
                            failed.insert(ctx);
                        }
                        Event::Disconnected(_) => {}
                        other => prop_assert!(false, "unexpected {:?} at a loss", other),
                    }
                }
                let pending: BTreeSet<u64> = model
                    .calls
                    .iter()
                    .filter(|(k, e)| !e.over && !failed.contains(k))
                    .map(|(k, _)| *k)
                    .collect();
                for k in &failed {
                    prop_assert!(
                        fail_fast || sent.contains(k),
                        "call {} failed but no byte of it was written",
                        k
                    );
                }
                for k in &sent {
                    prop_assert!(
                        !pending.contains(k),
                        "call {} was written but stays pending",
                        k
                    );
                }
                if fail_fast {
                    prop_assert!(pending.is_empty(), "fail-fast left {:?} pending", pending);
                }
                let disconnected = matches!(client.state(), State::Disconnected { .. });
                prop_assert!(disconnected, "{:?} after a loss", client.state());
                model.drop_ended(has_ids);
                prop_assert_eq!(
                    client.queued_bytes(),
                    model.queued(),
                    "bytes held at the loss"
                );
            }
            Op::Reconnect => {
                if peer.is_none() {
                    client.handle_connected(now);
                    peer = Some(Peer::new(&config));
                    model.drop_ended(has_ids);
                    prop_assert_eq!(
                        client.queued_bytes(),
                        model.queued(),
                        "bytes queued on the new connection"
                    );
                }
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(ms);
                client.handle_timeout(now);
            }
            Op::Cancel(i) => {
                if order.is_empty() {
                    continue;
                }
                let call = order[i % order.len()];
                let e = model.calls.get_mut(&call).unwrap();
                // An ended call's id may belong to a newer call by now.
                if !e.over {
                    prop_assert_eq!(client.cancel(e.id), Some(call));
                    e.over = true;
                }
            }
        }
        // Completions outside a loss: answers and deadlines.
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::Completed { ctx, result, .. } => {
                    let e = model.calls.get_mut(&ctx).expect("a known call");
                    prop_assert!(!e.over, "call {} completed twice", ctx);
                    e.over = true;
                    match result {
                        Ok(body) => prop_assert_eq!(body, answer(&e.payload)),
                        Err(CallError::DeadlineExceeded) => {
                            prop_assert!(e.deadline.is_some_and(|d| d <= now))
                        }
                        Err(other) => prop_assert!(false, "call {} ended with {:?}", ctx, other),
                    }
                }
                Event::UnknownResponse { late, .. } => {
                    prop_assert!(late, "an answer to a call nobody made")
                }
                other => prop_assert!(false, "unexpected event {:?}", other),
            }
        }
        // No request reached a server twice.
        for (payload, n) in &received {
            prop_assert!(*n == 1, "{:?} reached a server {} times", payload, n);
        }
        // Calls past their deadline are over.
        for (k, e) in &model.calls {
            if e.deadline.is_some_and(|d| d <= now) {
                prop_assert!(e.over, "call {} is past its deadline and still pending", k);
            }
        }
    }
    // Closing completes whatever is left, once.
    client.close();
    while let Some(ev) = client.poll_event() {
        if let Event::Completed { ctx, result, .. } = ev {
            let e = model.calls.get_mut(&ctx).unwrap();
            prop_assert!(!e.over, "call {} completed twice", ctx);
            prop_assert_eq!(result, Err(CallError::Closed));
            e.over = true;
        }
    }
    for (k, e) in &model.calls {
        prop_assert!(e.over, "call {} never completed", k);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_reconnecting_client_completes_every_call_once_and_never_resends_a_written_one(
        codec in prop_oneof![codec_with(0..=0, 64), codec_with(2..=8, 64)],
        fail_fast in any::<bool>(),
        ops in vec(op(), 1..120),
    ) {
        let mode = if fail_fast { WhileDisconnected::FailFast } else { WhileDisconnected::Hold };
        run(codec, mode, ops)?;
    }
}

#[test]
fn a_lazy_client_holds_calls_until_its_first_connection() {
    let t0 = Duration::ZERO;
    let mut c: Connection<Duration> = Connection::client(Config::default(), t0);
    c.set_reconnect(Some(WhileDisconnected::Hold));
    c.handle_io_error(t0, DisconnectReason::NotConnected);
    assert!(
        c.poll_event().is_none(),
        "no event for never having connected"
    );
    c.call(t0, "early", ()).unwrap();
    assert!(
        c.poll_transmit(t0).is_none(),
        "nothing to write without a connection"
    );
    assert!(!c.wants_read());
    c.handle_connected(t0);
    assert_eq!(c.poll_transmit(t0).map(|t| t.remaining()), Some(13));
}

#[test]
fn a_fail_fast_client_refuses_calls_while_disconnected_with_the_reason() {
    let t0 = Duration::ZERO;
    let mut c: Connection<Duration> = Connection::client(Config::default(), t0);
    c.set_reconnect(Some(WhileDisconnected::FailFast));
    c.handle_eof(t0);
    let rejected = c.call(t0, "now", ()).unwrap_err();
    assert_eq!(
        rejected.error,
        CallError::Disconnected(DisconnectReason::PeerClosed)
    );
    c.handle_connected(t0);
    assert!(c.call(t0, "now", ()).is_ok());
}

#[test]
fn a_shutdown_without_a_connection_closes_at_once() {
    let t0 = Duration::ZERO;
    let mut c: Connection<Duration, u8> = Connection::client(Config::default(), t0);
    c.set_reconnect(Some(WhileDisconnected::Hold));
    c.call(t0, "waits", 1).unwrap();
    c.handle_eof(t0);
    assert!(c
        .poll_event()
        .is_some_and(|e| matches!(e, Event::Disconnected(_))));
    c.shutdown(t0 + Duration::from_secs(1));
    match c.poll_event() {
        Some(Event::Completed { ctx: 1, result, .. }) => assert_eq!(result, Err(CallError::Closed)),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.state(), State::Closed(CallError::Closed));
}

#[test]
fn deadlines_fire_while_disconnected_and_idle_does_not() {
    let t0 = Duration::ZERO;
    let config = Config::builder()
        .idle_timeout(Some(Duration::from_millis(10)))
        .build()
        .unwrap();
    let mut c: Connection<Duration, u8> = Connection::client(config, t0);
    c.set_reconnect(Some(WhileDisconnected::Hold));
    c.handle_eof(t0);
    let _ = c.poll_event();
    c.call_with(
        t0,
        "x",
        CallOptions::new().timeout(Duration::from_millis(50)),
        7,
    )
    .unwrap();
    assert_eq!(
        c.poll_timeout(),
        Some(Duration::from_millis(50)),
        "no idle timer"
    );
    c.handle_timeout(Duration::from_millis(50));
    match c.poll_event() {
        Some(Event::Completed { ctx: 7, result, .. }) => {
            assert_eq!(result, Err(CallError::DeadlineExceeded))
        }
        other => panic!("{other:?}"),
    }
}
