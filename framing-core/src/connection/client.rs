//! The client's side: starting calls, matching responses, cancelling and
//! failing calls.

use alloc::vec::Vec;
use bytes::Bytes;

use super::{Connection, Role, State};
use crate::codec::{EncodeError, MAX_HEADER_LEN};
use crate::pending::Lookup;
use crate::{CallError, CallOptions, Event, ProtocolError, Rejected, RpcId, Timestamp};

impl<T: Timestamp, C> Connection<T, C> {
    /// Sends a request with an id chosen by the core and the connection's
    /// default deadline. See [`call_with`](Self::call_with).
    ///
    /// # Errors
    /// As [`call_with`](Self::call_with).
    pub fn call(
        &mut self,
        now: T,
        payload: impl Into<Bytes>,
        ctx: C,
    ) -> Result<RpcId, Rejected<C>> {
        self.call_with(now, payload, CallOptions::default(), ctx)
    }

    /// Sends a request. On success the call is pending and will complete
    /// exactly once, as an [`Event::Completed`] carrying `ctx`, unless it
    /// is [`cancel`](Self::cancel)led.
    ///
    /// # Errors
    /// The call is refused at once, with payload and context handed back
    /// in [`Rejected`], when: the connection is not a client
    /// (`WrongRole`), shutting down (`ShuttingDown`) or closed (the error
    /// it closed with: `Closed`, `Disconnected` or `Protocol`); more than
    /// `max_buffer_bytes` are unwritten (`BufferFull`); the requested id is
    /// pending (`DuplicateRpcId`) or does not fit (`IdOutOfRange`); no id
    /// is free (`NoFreeId`); or the payload is too large for a frame
    /// (`FrameTooLarge`).
    pub fn call_with(
        &mut self,
        now: T,
        payload: impl Into<Bytes>,
        opts: CallOptions,
        ctx: C,
    ) -> Result<RpcId, Rejected<C>> {
        let payload = payload.into();
        match self.prepare_call(&payload, opts) {
            Ok((key, header, hl)) => {
                let deadline = opts
                    .effective_timeout(self.config.call_timeout)
                    .map(|d| now.add_duration(d));
                self.pending.insert(key, ctx, deadline);
                self.stats.calls += 1;
                self.enqueue_call(key, &header[..hl], payload);
                Ok(RpcId(key))
            }
            Err(error) => {
                self.stats.rejected += 1;
                if matches!(error, CallError::BufferFull { .. }) {
                    self.stats.rejected_buffer_full += 1;
                }
                Err(Rejected {
                    error,
                    payload,
                    ctx,
                })
            }
        }
    }

    fn prepare_call(
        &mut self,
        payload: &Bytes,
        opts: CallOptions,
    ) -> Result<(u64, [u8; MAX_HEADER_LEN], usize), CallError> {
        if self.role != Role::Client {
            return Err(CallError::WrongRole);
        }
        // As `state()` reads, without cloning the state on every call.
        match &self.state {
            State::Open => {}
            State::ShuttingDown { .. } if self.shutdown_done() => return Err(CallError::Closed),
            State::ShuttingDown { .. } => return Err(CallError::ShuttingDown),
            State::Closed(reason) => return Err(reason.clone()),
            State::Disconnected { reason } => {
                if self.unsent.fail_fast() {
                    return Err(CallError::Disconnected(reason.clone()));
                }
            }
        }
        self.config.check_room(self.queued_bytes())?;
        let key = match opts.id {
            Some(id) => {
                let Some(max) = self.config.codec.max_id() else {
                    return Err(CallError::IdsNotSupported);
                };
                if id.0 > max {
                    return Err(CallError::IdOutOfRange { id, max });
                }
                if self.pending.contains(id.0) {
                    return Err(CallError::DuplicateRpcId(id));
                }
                id.0
            }
            None => self
                .pending
                .next_key(&self.recent)
                .ok_or(CallError::NoFreeId)?,
        };
        let wire_id = if self.has_ids { key } else { 0 };
        let mut header = [0u8; MAX_HEADER_LEN];
        let hl = self
            .config
            .codec
            .encode_header(RpcId(wire_id), payload.len(), &mut header)
            .map_err(|e| match e {
                EncodeError::FrameTooLarge { length, max } => {
                    CallError::FrameTooLarge { length, max }
                }
                EncodeError::IdOutOfRange { id, max } => CallError::IdOutOfRange { id, max },
            })?;
        if opts.id.is_some() {
            self.recent.remove(key);
        }
        Ok((key, header, hl))
    }

    /// A response arrived: complete its call, or report it late or unknown
    /// (in strict mode an unknown id fails the connection).
    pub(super) fn on_response(&mut self, id: RpcId, payload: Bytes) {
        match self.pending.take_response(id.0, &self.recent) {
            Lookup::Found(key, ctx) => {
                self.stats.responses += 1;
                self.events.push_back(Event::Completed {
                    id: RpcId(key),
                    ctx,
                    result: Ok(payload),
                });
            }
            Lookup::Late(key) => {
                self.stats.unknown_responses += 1;
                self.stats.late_responses += 1;
                self.events.push_back(Event::UnknownResponse {
                    id: RpcId(key),
                    late: true,
                });
            }
            Lookup::Unknown(key) if self.config.strict_unknown_ids => {
                self.fail(CallError::Protocol(ProtocolError::UnknownResponseId {
                    id: RpcId(key),
                }));
            }
            Lookup::Unknown(key) => {
                self.stats.unknown_responses += 1;
                self.events.push_back(Event::UnknownResponse {
                    id: RpcId(key),
                    late: false,
                });
            }
        }
    }

    /// Cancels a pending call, handing its context back; no completion
    /// event follows. A response that arrives later is dropped and reported
    /// as late. Returns `None` if the call is not pending.
    pub fn cancel(&mut self, id: RpcId) -> Option<C> {
        let ctx = self.pending.remove(id.0)?;
        self.recent.insert(id.0);
        self.stats.cancelled += 1;
        self.forget_unsent(&[id.0]);
        Some(ctx)
    }

    /// Completes every pending call with `FailedByUser`. The connection
    /// stays usable; responses to the failed calls are reported as late.
    pub fn fail_pending(&mut self) {
        let mut failed = Vec::new();
        let (events, recent, stats) = (&mut self.events, &mut self.recent, &mut self.stats);
        self.pending.drain(|key, ctx| {
            failed.push(key);
            recent.insert(key);
            stats.failed += 1;
            events.push_back(Event::Completed {
                id: RpcId(key),
                ctx,
                result: Err(CallError::FailedByUser),
            });
        });
        failed.sort_unstable();
        self.forget_unsent(&failed);
    }
}
