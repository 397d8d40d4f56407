//! The client's part of the model: which answers a call may get at once,
//! the ids it may be given, cancelling and failing calls, and matching
//! responses to calls.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::{CallError, ProtocolError, RpcId, State};

use super::calls::{Lookup, Pend};
use super::expect::Exp;
use super::model::Model;
use super::streams::{Decoded, TagKind};

/// A call as the test makes it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ask {
    /// The caller's id, if it chose one.
    pub(super) id: Option<u64>,
    /// The call's timeout, the connection's default resolved.
    pub(super) timeout: Option<Duration>,
    /// Payload bytes.
    pub(super) len: usize,
}

impl Model {
    /// Every error the core may refuse this call with now; empty when it
    /// must accept it. A closed or shutting-down core has one answer; an
    /// open one any that applies (the contract does not rank them).
    pub(super) fn refusals(&self, ask: &Ask) -> Vec<CallError> {
        if self.server {
            return alloc::vec![CallError::WrongRole];
        }
        match self.state() {
            State::Closed(reason) => return alloc::vec![reason],
            State::ShuttingDown { .. } => return alloc::vec![CallError::ShuttingDown],
            _ => {}
        }
        let mut all = Vec::new();
        if self.out.len() > self.lim.max {
            all.push(CallError::BufferFull {
                queued: self.out.len(),
                max: self.lim.max,
            });
        }
        match (ask.id, self.wire.max_id()) {
            (Some(_), None) => all.push(CallError::IdsNotSupported),
            (Some(id), Some(max)) if id > max => {
                all.push(CallError::IdOutOfRange { id: RpcId(id), max })
            }
            (Some(id), Some(_)) if self.table.contains(id) => {
                all.push(CallError::DuplicateRpcId(RpcId(id)));
            }
            (None, Some(max)) if self.table.live() as u128 > u128::from(max) => {
                all.push(CallError::NoFreeId);
            }
            _ => {}
        }
        if let Some((length, max)) = self.wire.too_large(ask.len) {
            all.push(CallError::FrameTooLarge { length, max });
        }
        all
    }

    /// Checks an id the core chose: free, in range, and not a recently
    /// abandoned id while any other is free (its late response would
    /// answer the new call). Without ids: the next number in order.
    pub(super) fn check_auto_id(&self, id: u64) {
        match self.table.max_id() {
            None => {
                assert_eq!(
                    Some(id),
                    self.table.next_seq(),
                    "calls numbered out of order"
                );
            }
            Some(max_id) => {
                assert!(id <= max_id, "id {id} does not fit the field");
                assert!(
                    !self.table.contains(id),
                    "id {id} given to two pending calls"
                );
                if self.recent.contains(id) {
                    let taken = self.table.live() + self.recent.count_outside(&self.table);
                    assert!(
                        taken as u128 > u128::from(max_id),
                        "id {id} was abandoned recently, yet {} ids are free",
                        u128::from(max_id) + 1 - taken as u128
                    );
                }
            }
        }
    }

    /// The core accepted the call under `id`.
    pub(super) fn accept(&mut self, now: Duration, id: u64, ctx: u64, payload: &Bytes, ask: &Ask) {
        self.stats.calls += 1;
        if ask.id.is_some() {
            self.recent.remove(id);
        }
        let deadline = ask.timeout.map(|t| now.saturating_add(t));
        self.table.insert(id, Pend { ctx, deadline });
        let tag = self.tag(TagKind::Request { ctx });
        self.enqueue(self.wire.frame(id, payload), tag);
    }

    /// The core refused a call.
    pub(super) fn refused(&mut self, error: &CallError) {
        self.stats.rejected += 1;
        if matches!(error, CallError::BufferFull { .. }) {
            self.stats.rejected_buffer_full += 1;
        }
    }

    /// `cancel(id)`: the context of the call it removes.
    pub(super) fn cancel(&mut self, id: u64) -> Option<u64> {
        let pend = self.table.remove(id)?;
        self.recent.insert(id);
        self.stats.cancelled += 1;
        Some(pend.ctx)
    }

    /// `fail_pending()`: every pending call completes with `FailedByUser`.
    /// `order` is the order the core completed them in (not promised by
    /// the contract, and the order the memory of abandoned ids follows);
    /// it must hold exactly the pending calls.
    pub(super) fn fail_pending(&mut self, order: &[u64]) {
        let pending = self.table.drain();
        let want: BTreeSet<u64> = pending.iter().map(|(id, _)| *id).collect();
        let got: BTreeSet<u64> = order.iter().copied().collect();
        assert_eq!(
            got, want,
            "fail_pending failed other calls than the pending ones"
        );
        assert_eq!(got.len(), order.len(), "fail_pending failed a call twice");
        for (id, pend) in pending {
            self.stats.failed += 1;
            self.expect.push(Exp::Done {
                id,
                ctx: pend.ctx,
                result: Err(CallError::FailedByUser),
            });
        }
        for &id in order {
            self.recent.insert(id);
        }
    }

    /// A response frame arrived.
    pub(super) fn on_response(&mut self, frame: Decoded) {
        match self.table.take_response(frame.id, &self.recent) {
            Lookup::Found(id, pend) => {
                self.check_answer(id, pend.ctx, &frame);
                self.stats.responses += 1;
                self.expect.push(Exp::Done {
                    id,
                    ctx: pend.ctx,
                    result: Ok(frame.payload),
                });
            }
            Lookup::Late(id) => {
                self.stats.unknown_responses += 1;
                self.stats.late_responses += 1;
                self.expect.push(Exp::Unknown { id, late: true });
            }
            Lookup::Unknown(id) if self.lim.strict => {
                let p = ProtocolError::UnknownResponseId { id: RpcId(id) };
                self.fail(CallError::Protocol(p));
            }
            Lookup::Unknown(id) => {
                self.stats.unknown_responses += 1;
                self.expect.push(Exp::Unknown { id, late: false });
            }
        }
    }

    /// The answer a call gets is the one the server gave to its request,
    /// unless the model can name why not: the frame was garbled, it
    /// answered a request no call sent whole or an id no request had, it
    /// answered a request a second time, or (with ids) the call reuses
    /// the id of an earlier call that this answer was for. Without ids,
    /// answers go by position, so another call's first answer is
    /// legitimate only once a garbled frame (in either direction) has
    /// shifted the positions.
    fn check_answer(&self, id: u64, ctx: u64, frame: &Decoded) {
        let Some(TagKind::Response {
            answers: Some(other),
            again: false,
            in_step,
        }) = frame.tag.map(|t| t.kind)
        else {
            return;
        };
        if other != ctx && self.table.max_id().is_none() {
            assert!(
                !in_step || self.garbled > 0,
                "call {id} got call {other}'s answer, with every frame whole"
            );
        }
    }
}
