//! The server's command: answering requests, in request order when frames carry no id.

use bytes::Bytes;

use super::{Connection, Role};
use crate::codec::{EncodeError, MAX_HEADER_LEN};
use crate::{RespondError, RpcId, Timestamp};

impl<T: Timestamp, C> Connection<T, C> {
    /// Answers the request `id` (server role). Responses may be given in
    /// any order; without an id field they are still sent in request order.
    ///
    /// # Errors
    /// A [`RespondError`] when the connection is not a server or is closed,
    /// the id does not fit or (without ids) answers no waiting request, or
    /// the payload is too large for a frame.
    pub fn respond(&mut self, id: RpcId, payload: Bytes) -> Result<(), RespondError> {
        if self.role != Role::Server {
            return Err(RespondError::WrongRole);
        }
        if self.is_closed() {
            return Err(RespondError::Closed);
        }
        let mut header = [0u8; MAX_HEADER_LEN];
        let wire_id = if self.has_ids { id } else { RpcId(0) };
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
            self.enqueue(&header[..hl], payload);
            self.outstanding_requests = self.outstanding_requests.saturating_sub(1);
        } else {
            let slot =
                id.0.checked_sub(self.replies_base)
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| self.replies.get_mut(i))
                    .filter(|s| s.is_none())
                    .ok_or(RespondError::UnknownRequest(id))?;
            *slot = Some(payload);
            self.outstanding_requests = self.outstanding_requests.saturating_sub(1);
            while let Some(Some(_)) = self.replies.front() {
                if let Some(Some(p)) = self.replies.pop_front() {
                    self.replies_base += 1;
                    let hl = self
                        .config
                        .codec
                        .encode_header(RpcId(0), p.len(), &mut header)
                        .expect("checked when the reply was stored");
                    self.enqueue(&header[..hl], p);
                }
            }
        }
        Ok(())
    }
}
