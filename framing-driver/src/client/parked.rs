//! Calls that chose to wait for room (`CallOptions::wait_for_room`) while
//! more than `max_buffer_bytes` are unwritten: they wait here, in order,
//! until the queue has room or their deadline passes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use framing_core::{CallError, CallOptions, Connection};

use super::call::CallCtx;

pub(crate) struct Parked {
    pub(crate) payload: Bytes,
    pub(crate) opts: CallOptions,
    pub(crate) ctx: CallCtx,
    deadline: Option<Instant>,
    seq: u64,
}

/// The waiting calls, oldest first, and their deadlines.
#[derive(Default)]
pub(crate) struct ParkedCalls {
    calls: VecDeque<Parked>,
    /// `(deadline, seq)` of parked calls with a deadline; entries of calls
    /// that left already are skipped when they come up.
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    next_seq: u64,
}

impl ParkedCalls {
    pub(crate) fn len(&self) -> usize {
        self.calls.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Parks a call made at `now`; its deadline is the one the core would
    /// have given it.
    pub(crate) fn park(
        &mut self,
        now: Instant,
        core_config: &framing_core::Config,
        payload: Bytes,
        opts: CallOptions,
        ctx: CallCtx,
    ) {
        let deadline = opts
            .effective_timeout(core_config.call_timeout())
            .map(|t| now + t);
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(d) = deadline {
            self.deadlines.push(Reverse((d, seq)));
        }
        self.calls.push_back(Parked {
            payload,
            opts,
            ctx,
            deadline,
            seq,
        });
    }

    /// Hands waiting calls to the core, oldest first, while it has room;
    /// completes those whose caller is gone (nothing) or whose deadline
    /// passed (`DeadlineExceeded`). Returns whether any call left.
    pub(crate) fn offer(&mut self, now: Instant, core: &mut Connection<Instant, CallCtx>) -> bool {
        let mut moved = false;
        while let Some(front) = self.calls.front() {
            if front.ctx.reply.is_closed() {
                self.calls.pop_front();
                moved = true;
                continue;
            }
            if front.deadline.is_some_and(|d| d <= now) {
                let call = self.calls.pop_front().expect("the front");
                call.ctx.complete(Err(CallError::DeadlineExceeded));
                moved = true;
                continue;
            }
            if core.config().check_room(core.queued_bytes()).is_err() {
                break;
            }
            let call = self.calls.pop_front().expect("the front");
            moved = true;
            // The core counts the rest of the call's time from now.
            let opts = match call.deadline {
                Some(d) => call.opts.timeout(
                    d.saturating_duration_since(now)
                        .max(Duration::from_nanos(1)),
                ),
                None => call.opts,
            };
            let slot = call.ctx.slot.clone();
            match core.call_with(now, call.payload, opts, call.ctx) {
                Ok(id) => slot.accepted(id),
                Err(rejected) => rejected.ctx.complete(Err(rejected.error)),
            }
        }
        self.expire(now);
        moved
    }

    /// Completes every parked call whose deadline passed.
    fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((d, seq))) = self.deadlines.peek() {
            if d > now {
                break;
            }
            self.deadlines.pop();
            if let Ok(i) = self.calls.binary_search_by_key(&seq, |c| c.seq) {
                let call = self.calls.remove(i).expect("found");
                call.ctx.complete(Err(CallError::DeadlineExceeded));
            }
        }
    }

    /// The earliest deadline of a parked call.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((d, seq))) = self.deadlines.peek() {
            // Calls stay in `seq` order as they leave.
            if self.calls.binary_search_by_key(&seq, |c| c.seq).is_ok() {
                return Some(d);
            }
            self.deadlines.pop();
        }
        None
    }

    /// Completes every parked call with `error` (the connection ended).
    pub(crate) fn fail_all(&mut self, error: &CallError) {
        for call in self.calls.drain(..) {
            call.ctx.complete(Err(error.clone()));
        }
        self.deadlines.clear();
    }
}
