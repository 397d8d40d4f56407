//! What a run did, kept outside the simulated hosts (a bounced host loses
//! its memory, the ledger does not): every call with its outcome, every
//! request the servers executed, every fault, and the client's
//! connections. [`Ledger::check`] turns it into the list of broken
//! invariants.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use framing_tokio::{Bytes, CallError, DisconnectReason, Stats};

/// Simulated time since the start of the run, as the current host sees
/// it.
pub(crate) fn now() -> Duration {
    turmoil::sim_elapsed().expect("inside a simulated host")
}

/// A request as messages name it: its unique prefix and its length.
pub(crate) fn label(req: &Bytes) -> String {
    let end = req.iter().position(|&b| b == b':').unwrap_or(req.len());
    format!("{}+{}B", String::from_utf8_lossy(&req[..end]), req.len())
}

/// One call, as its caller saw it.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) payload: Bytes,
    pub(crate) start: Duration,
    pub(crate) end: Duration,
    pub(crate) deadline: Duration,
    /// `None`: its caller gave up on it (dropped its future).
    pub(crate) outcome: Option<Result<Bytes, CallError>>,
}

impl Call {
    fn ok(&self) -> bool {
        matches!(self.outcome, Some(Ok(_)))
    }

    fn kind(&self) -> &'static str {
        match &self.outcome {
            None => "dropped",
            Some(Ok(_)) => "ok",
            Some(Err(CallError::DeadlineExceeded)) => "deadline",
            Some(Err(CallError::Disconnected(_))) => "disconnected",
            Some(Err(CallError::Closed)) => "closed",
            Some(Err(_)) => "other",
        }
    }
}

/// A fault injected by the test, at a simulated time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    Crash(String),
    Bounce(String),
    Partition(String),
    Repair(String),
    Hold(String),
    Release(String),
    Latency(Duration),
}

impl Fault {
    /// Whether it can break a connection (the rest only delay or heal).
    fn breaks(&self) -> bool {
        matches!(
            self,
            Fault::Crash(_) | Fault::Bounce(_) | Fault::Partition(_)
        )
    }
}

#[derive(Debug, Default)]
struct Inner {
    calls: Vec<Call>,
    /// Executions of each request, by every server instance.
    executed: BTreeMap<Bytes, u32>,
    /// `(time, host, request)` in execution order, for the replay trace.
    executions: Vec<(Duration, String, Bytes)>,
    faults: Vec<(Duration, Fault)>,
    /// When the client's connections were established.
    connected: Vec<Duration>,
    /// The client's event subscriber fell behind and missed events.
    lagged: bool,
    /// When the client was closed.
    closed_at: Option<Duration>,
    started: u64,
    /// The client's counters and pending calls once its callers are done.
    stats: Option<(Stats, usize)>,
}

/// Shared by the test, its hosts and every server instance.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ledger(Arc<Mutex<Inner>>);

/// How a scenario judges `Disconnected` and progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// A `Disconnected` call must have been on a connection a fault could
    /// break: a breaking fault at or after the connection's start (from
    /// the client's `Connected` events) and before the call ended.
    pub(crate) per_connection: bool,
    /// Else: a breaking fault within this long before the call ended (a
    /// crashed peer's FIN or RST takes at most the network's latency).
    pub(crate) window: Duration,
    /// Faults stop here; the network is healed and crashed hosts restart.
    pub(crate) healed_at: Duration,
    /// Calls that start this long after the heal must all succeed...
    pub(crate) recovery: Duration,
    /// ... if their deadline leaves room for the slowest answer (the
    /// handler's delay and the network's latency both ways).
    pub(crate) room: Duration,
    /// Longest time without a successful call (`None`: not checked).
    pub(crate) max_gap: Option<Duration>,
}

/// How far from its deadline a call may complete: the timer's rounding to
/// whole ms, and one more.
const LATE: Duration = Duration::from_millis(2);

impl Ledger {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn started(&self) {
        self.lock().started += 1;
    }

    pub(crate) fn completed(&self, call: Call) {
        self.lock().calls.push(call);
    }

    /// A server executes `request` (before answering it).
    pub(crate) fn executed(&self, host: &str, request: &Bytes) {
        let mut inner = self.lock();
        *inner.executed.entry(request.clone()).or_default() += 1;
        inner
            .executions
            .push((now(), host.to_owned(), request.clone()));
    }

    pub(crate) fn fault(&self, at: Duration, fault: Fault) {
        self.lock().faults.push((at, fault));
    }

    pub(crate) fn connected(&self) {
        self.lock().connected.push(now());
    }

    pub(crate) fn lagged(&self) {
        self.lock().lagged = true;
    }

    /// The client's counters once every call has completed.
    pub(crate) fn client_stats(&self, stats: Stats, pending: usize) {
        self.lock().stats = Some((stats, pending));
    }

    pub(crate) fn closing(&self) {
        self.lock().closed_at = Some(now());
    }

    /// Every call, execution and fault with its time: two runs of one seed
    /// must give the same trace.
    pub(crate) fn trace(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        for (at, f) in &inner.faults {
            let _ = writeln!(out, "{at:?} fault {f:?}");
        }
        for (at, host, req) in &inner.executions {
            let _ = writeln!(out, "{at:?} {host} executes {}", label(req));
        }
        for c in &inner.calls {
            let outcome = c.outcome.as_ref().map(|o| o.as_ref().map(Bytes::len));
            let (start, end, req) = (c.start, c.end, label(&c.payload));
            let _ = writeln!(out, "{start:?}..{end:?} {req} {outcome:?}");
        }
        out
    }

    /// Calls by outcome (`ok`, `deadline`, `disconnected`, `closed`,
    /// `dropped`, `other`), and `faults`.
    pub(crate) fn totals(&self) -> BTreeMap<&'static str, usize> {
        let inner = self.lock();
        let mut totals = BTreeMap::new();
        for c in &inner.calls {
            *totals.entry(c.kind()).or_default() += 1;
        }
        totals.insert("faults", inner.faults.len());
        totals
    }

    /// Every broken invariant, one line each (empty: the run is good).
    pub(crate) fn check(&self, rules: &Rules) -> Vec<String> {
        let inner = self.lock();
        let mut broken = Vec::new();
        if inner.started != inner.calls.len() as u64 {
            broken.push(format!(
                "{} calls started, {} completed",
                inner.started,
                inner.calls.len()
            ));
        }
        if inner.lagged {
            broken.push("the event subscriber lagged: connections were missed".to_owned());
        }
        for (req, &n) in &inner.executed {
            if n > 1 {
                broken.push(format!("{} executed {n} times", label(req)));
            }
        }
        let mut made = BTreeMap::new();
        for c in &inner.calls {
            if made.insert(c.payload.clone(), ()).is_some() {
                broken.push(format!("{} called twice by the test", label(&c.payload)));
            }
            if let Err(e) = inner.check_call(c, rules) {
                broken.push(format!("{}: {e}", label(&c.payload)));
            }
        }
        for req in inner.executed.keys() {
            if !made.contains_key(req) {
                broken.push(format!("{} executed but never called", label(req)));
            }
        }
        broken.extend(inner.check_stats());
        broken.extend(inner.check_progress(rules));
        broken
    }
}

impl Inner {
    /// One call's outcome: its own echo, or an error it may end with.
    fn check_call(&self, c: &Call, rules: &Rules) -> Result<(), String> {
        let took = c.end - c.start;
        if took > c.deadline + LATE {
            return Err(format!("took {took:?}, past its deadline {:?}", c.deadline));
        }
        let executed = self.executed.get(&c.payload).copied().unwrap_or(0);
        let closing = self.closed_at.is_some_and(|t| t <= c.start);
        let owed = c.start >= rules.healed_at + rules.recovery && c.deadline >= rules.room;
        if owed && c.outcome.is_some() && !c.ok() && !closing {
            return Err(format!(
                "started {:?} after the heal at {:?} and failed: {:?}",
                c.start - rules.healed_at,
                rules.healed_at,
                c.outcome
            ));
        }
        let Some(outcome) = &c.outcome else {
            return Ok(()); // dropped: anything may have happened
        };
        match outcome {
            Ok(answer) if *answer != c.payload => {
                Err(format!("answered {}, not its echo", label(answer)))
            }
            Ok(_) if executed != 1 => Err(format!("succeeded, executed {executed} times")),
            Ok(_) => Ok(()),
            Err(CallError::DeadlineExceeded) if took + LATE < c.deadline => Err(format!(
                "DeadlineExceeded after {took:?}, before its deadline {:?}",
                c.deadline
            )),
            Err(CallError::DeadlineExceeded) => Ok(()),
            Err(CallError::Disconnected(DisconnectReason::NotConnected)) => {
                Err("Disconnected(NotConnected) while waiting for a connection".to_owned())
            }
            Err(CallError::Disconnected(reason)) => {
                let since = if rules.per_connection {
                    // The connection the call was on: the last one
                    // established before the call ended.
                    self.connected.iter().rev().find(|&&t| t <= c.end).copied()
                } else {
                    c.end.checked_sub(rules.window)
                }
                .unwrap_or_default();
                let hit = self
                    .faults
                    .iter()
                    .any(|(at, f)| f.breaks() && since <= *at && *at <= c.end);
                if hit {
                    Ok(())
                } else {
                    Err(format!(
                        "Disconnected({reason}) at {:?}, no fault since {since:?}",
                        c.end
                    ))
                }
            }
            Err(CallError::Closed) if self.closed_at.is_some_and(|t| t <= c.end) => Ok(()),
            Err(e) => Err(format!("failed with {e:?}")),
        }
    }

    /// The client's own counters agree with what its callers saw: every
    /// accepted call ended once, in the same way. A dropped call may have
    /// ended in the core before its cancel came, or been dropped before
    /// the driver took it (it is then not counted at all).
    fn check_stats(&self) -> Option<String> {
        let (s, pending) = self.stats?;
        let count = |kind| self.calls.iter().filter(|c| c.kind() == kind).count() as u64;
        let (ok, deadline, disconnected) = (count("ok"), count("deadline"), count("disconnected"));
        let dropped = count("dropped");
        let balanced = s.calls == s.responses + s.timeouts + s.cancelled + s.failed;
        let of_dropped = (s.responses.checked_sub(ok))
            .zip(s.timeouts.checked_sub(deadline))
            .zip(s.failed.checked_sub(disconnected))
            .map(|((r, t), f)| r + t + f + s.cancelled);
        if pending == 0 && balanced && of_dropped.is_some_and(|n| n <= dropped) {
            return None;
        }
        Some(format!(
            "the client counts {s:?} with {pending} pending; its callers saw \
             {ok} ok, {deadline} deadline, {disconnected} disconnected, {dropped} dropped"
        ))
    }

    /// Calls were made to the end, and answered often enough.
    fn check_progress(&self, rules: &Rules) -> Vec<String> {
        let mut broken = Vec::new();
        let late = rules.healed_at + rules.recovery;
        if !self.calls.iter().any(|c| c.start >= late) {
            broken.push(format!("no call started after {late:?}"));
        }
        if let Some(max) = rules.max_gap {
            let mut oks: Vec<Duration> = self
                .calls
                .iter()
                .filter(|c| c.ok())
                .map(|c| c.end)
                .collect();
            oks.sort();
            for pair in oks.windows(2) {
                if pair[1] - pair[0] > max {
                    broken.push(format!(
                        "no call succeeded between {:?} and {:?}",
                        pair[0], pair[1]
                    ));
                }
            }
        }
        broken
    }
}
