//! The server's side: requests received, and answering them (in request
//! order when frames carry no id).

use alloc::collections::VecDeque;
use bytes::Bytes;

use super::{Connection, Role};
use crate::codec::{EncodeError, MAX_HEADER_LEN};
use crate::{Event, RespondError, RpcId, Timestamp};

/// Requests awaiting an answer.
#[derive(Debug, Default)]
pub(super) struct Requests {
    /// Without ids: answers held until every earlier one is sent, indexed
    /// by sequence number from `base`.
    replies: VecDeque<Option<Bytes>>,
    base: u64,
    /// Received and not yet answered.
    outstanding: usize,
}

impl Requests {
    pub(super) fn outstanding(&self) -> usize {
        self.outstanding
    }

    pub(super) fn clear(&mut self) {
        self.base += self.replies.len() as u64;
        self.replies = VecDeque::new();
        self.outstanding = 0;
    }
}

impl<T: Timestamp, C> Connection<T, C> {
    /// A request arrived: hand it out with the id to answer it by (its
    /// sequence number when frames carry no id).
    pub(super) fn on_request(&mut self, id: RpcId, payload: Bytes) {
        self.stats.requests += 1;
        let r = &mut self.requests;
        r.outstanding += 1;
        let id = if self.has_ids {
            id
        } else {
            r.replies.push_back(None);
            RpcId(r.base + r.replies.len() as u64 - 1)
        };
        self.events.push_back(Event::Request { id, payload });
    }

    /// Gives up on answering the request `id` (server role, frames with an
    /// id field): nothing is sent, and the request no longer counts as
    /// outstanding (a graceful shutdown does not wait for it). The peer's
    /// own deadline ends its call. Without an id field responses must go
    /// out in request order, so every request must be answered.
    ///
    /// # Errors
    /// [`RespondError::WrongRole`] on a client, [`RespondError::Closed`]
    /// once closed, [`RespondError::UnknownRequest`] without an id field
    /// or when no request is outstanding.
    pub fn discard(&mut self, id: RpcId) -> Result<(), RespondError> {
        if self.role != Role::Server {
            return Err(RespondError::WrongRole);
        }
        if self.is_closed() {
            return Err(RespondError::Closed);
        }
        if !self.has_ids || self.requests.outstanding == 0 {
            return Err(RespondError::UnknownRequest(id));
        }
        self.requests.outstanding -= 1;
        Ok(())
    }

    /// Answers the request `id` (server role). Responses may be given in
    /// any order; without an id field they are still sent in request order.
    ///
    /// # Errors
    /// A [`RespondError`] when the connection is not a server or is closed,
    /// the id does not fit or (without ids) answers no waiting request, or
    /// the payload is too large for a frame.
    pub fn respond(&mut self, id: RpcId, payload: impl Into<Bytes>) -> Result<(), RespondError> {
        let payload = payload.into();
        if self.role != Role::Server {
            return Err(RespondError::WrongRole);
        }
        if self.is_closed() {
            return Err(RespondError::Closed);
        }
        let wire_id = if self.has_ids { id } else { RpcId(0) };
        let mut header = [0u8; MAX_HEADER_LEN];
        let hl = self
            .config
            .codec
            .encode_header(wire_id, payload.len(), &mut header)
            .map_err(|e| match e {
                EncodeError::FrameTooLarge { length, max } => {
                    RespondError::FrameTooLarge { length, max }
                }
                EncodeError::IdOutOfRange { id, max } => RespondError::IdOutOfRange { id, max },
            })?;
        if self.has_ids {
            self.requests.outstanding = self.requests.outstanding.saturating_sub(1);
            self.enqueue(&header[..hl], payload);
            return Ok(());
        }
        let r = &mut self.requests;
        let slot =
            id.0.checked_sub(r.base)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| r.replies.get_mut(i))
                .filter(|s| s.is_none())
                .ok_or(RespondError::UnknownRequest(id))?;
        *slot = Some(payload);
        r.outstanding = r.outstanding.saturating_sub(1);
        while let Some(Some(_)) = self.requests.replies.front() {
            let Some(Some(p)) = self.requests.replies.pop_front() else {
                unreachable!("the front was just seen answered")
            };
            self.requests.base += 1;
            let hl = self
                .config
                .codec
                .encode_header(RpcId(0), p.len(), &mut header)
                .expect("checked when the reply was stored");
            self.enqueue(&header[..hl], p);
        }
        Ok(())
    }
}
