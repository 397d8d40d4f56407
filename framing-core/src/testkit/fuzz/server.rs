//! The server's part of the model: requests received, and answering them
//! (in request order when frames carry no id).

use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec::Vec;

use bytes::Bytes;

use crate::{RespondError, RpcId};

use super::expect::Exp;
use super::model::Model;
use super::streams::{Decoded, Tag, TagKind};

/// A request the test may answer.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub(super) id: u64,
    pub(super) payload: Bytes,
    /// The call that sent it whole.
    pub(super) origin: Option<u64>,
}

/// The server's requests.
#[derive(Debug)]
pub(super) struct Requests {
    has_ids: bool,
    /// Received and not answered. With ids the core keeps no table, so
    /// any answer counts (the contract's "every request answered" is the
    /// application's to keep).
    outstanding: usize,
    /// Without ids: answers held until every earlier one is given, from
    /// request number `base` on.
    replies: VecDeque<Option<(Bytes, Option<u64>)>>,
    base: u64,
    /// Requests for the test to pick from, oldest first.
    pub(super) open: Vec<Received>,
    /// Ids answered since they were last received.
    answered: BTreeSet<u64>,
}

impl Requests {
    pub(super) fn new(has_ids: bool) -> Self {
        Requests {
            has_ids,
            outstanding: 0,
            replies: VecDeque::new(),
            base: 0,
            open: Vec::new(),
            answered: BTreeSet::new(),
        }
    }

    pub(super) fn outstanding(&self) -> usize {
        self.outstanding
    }

    pub(super) fn clear(&mut self) {
        self.base += self.replies.len() as u64;
        self.replies.clear();
        self.outstanding = 0;
        self.open.clear();
        self.answered.clear();
    }
}

impl Model {
    /// A request frame arrived: handed out with its id (its number in
    /// order without ids).
    pub(super) fn on_request(&mut self, frame: Decoded) {
        self.stats.requests += 1;
        let r = &mut self.requests;
        r.outstanding += 1;
        let id = if r.has_ids {
            frame.id
        } else {
            r.replies.push_back(None);
            r.base + r.replies.len() as u64 - 1
        };
        let origin = match frame.tag.map(|t| t.kind) {
            Some(TagKind::Request { ctx }) => Some(ctx),
            _ => None,
        };
        r.open.retain(|q| q.id != id);
        r.answered.remove(&id);
        r.open.push(Received {
            id,
            payload: frame.payload.clone(),
            origin,
        });
        self.expect.push(Exp::Request {
            id,
            payload: frame.payload,
        });
    }

    /// Every error `respond` may give now; empty when it must succeed.
    pub(super) fn respond_refusals(&self, id: u64, len: usize) -> Vec<RespondError> {
        if !self.server {
            return alloc::vec![RespondError::WrongRole];
        }
        if self.is_closed() {
            return alloc::vec![RespondError::Closed];
        }
        let mut all = Vec::new();
        if let Some((length, max)) = self.wire.too_large(len) {
            all.push(RespondError::FrameTooLarge { length, max });
        }
        match self.wire.max_id() {
            Some(max) if id > max => all.push(RespondError::IdOutOfRange { id: RpcId(id), max }),
            Some(_) => {}
            None => {
                let r = &self.requests;
                let waiting = id
                    .checked_sub(r.base)
                    .and_then(|i| r.replies.get(usize::try_from(i).ok()?))
                    .is_some_and(Option::is_none);
                if !waiting {
                    all.push(RespondError::UnknownRequest(RpcId(id)));
                }
            }
        }
        all
    }

    /// The core took the answer `payload` to request `id`, which was sent
    /// by call `origin`: queued at once with ids, in request order without.
    pub(super) fn respond(&mut self, id: u64, payload: Bytes, origin: Option<u64>) {
        let in_step = self.garbled == 0;
        let r = &mut self.requests;
        r.outstanding = r.outstanding.saturating_sub(1);
        if r.has_ids {
            let again = !r.answered.insert(id);
            let tag = self.tag(TagKind::Response {
                answers: origin,
                again,
                in_step,
            });
            self.enqueue(self.wire.frame(id, &payload), tag);
            return;
        }
        let i = usize::try_from(id - r.base).expect("a waiting request");
        r.replies[i] = Some((payload, origin));
        while let Some(Some(_)) = self.requests.replies.front() {
            let r = &mut self.requests;
            let (payload, origin) = r.replies.pop_front().flatten().expect("just seen");
            r.base += 1;
            let tag: Tag = self.tag(TagKind::Response {
                answers: origin,
                again: false,
                in_step,
            });
            self.enqueue(self.wire.frame(0, &payload), tag);
        }
    }
}
