//! The operations `run_ops` applies: calls, cancels, responses, deliveries
//! and time jumps, each checking the core's answer against the model.

use core::time::Duration;

use bytes::{Buf, Bytes};

use crate::{CallError, CallOptions, RespondError, RpcId, State};

use super::model::{Expected, Side, World};
use super::reader::Reader;

impl World {
    fn payload(r: &mut Reader<'_>, tag: u64) -> Bytes {
        let b = r.u8();
        let len = if b & 0x80 != 0 {
            usize::from(b & 0x7f) * 64
        } else {
            usize::from(b)
        };
        Bytes::from(alloc::vec![tag as u8; len])
    }

    pub(super) fn call(&mut self, r: &mut Reader<'_>, caller_id: bool) {
        let ctx = self.next_ctx;
        self.next_ctx += 1;
        let payload = Self::payload(r, ctx);
        let len = payload.len();
        debug_assert!(payload.iter().all(|&b| b == ctx as u8));
        let mut opts = CallOptions::new();
        let id_pick = r.u8();
        let wanted = if caller_id {
            // Often an id already pending, to provoke DuplicateRpcId.
            let id = match self.calls.keys().nth(usize::from(id_pick)) {
                Some(&id) if id_pick & 1 == 0 => id,
                _ => u64::from(id_pick >> 1),
            };
            opts = opts.id(RpcId(id));
            Some(id)
        } else {
            None
        };
        let t = r.u8();
        let timeout = match t & 3 {
            0 => self.client.conn.config().call_timeout(),
            1 => {
                opts = opts.no_timeout();
                None
            }
            _ => {
                let d = Duration::from_millis(u64::from(t >> 2) * 4);
                opts = opts.timeout(d);
                Some(d)
            }
        };
        let conn = &mut self.client.conn;
        let state = conn.state();
        let queued = conn.queued_bytes();
        let max_buffer = conn.config().max_buffer_bytes();
        match conn.call_with(self.now, payload, opts, ctx) {
            Ok(id) => {
                assert_eq!(state, State::Open, "call accepted while {state:?}");
                assert!(queued <= max_buffer, "call accepted over max_buffer_bytes");
                if let Some(want) = wanted {
                    assert_eq!(id.0, want, "caller id not used");
                }
                if let Some(max) = conn.config().codec().max_id() {
                    assert!(id.0 <= max, "id {id:?} does not fit the field");
                }
                let deadline = timeout.map(|d| self.now.saturating_add(d));
                let tag = ctx as u8;
                let prev = self.calls.insert(
                    id.0,
                    Expected {
                        ctx,
                        deadline,
                        len,
                        tag,
                    },
                );
                assert!(prev.is_none(), "id {id:?} given to two pending calls");
                self.accepted += 1;
                self.largest_frame = self.largest_frame.max(self.header_len + len);
            }
            Err(rej) => {
                assert_eq!(rej.ctx, ctx, "rejection lost the context");
                assert_eq!(rej.payload.len(), len, "rejection lost the payload");
                match rej.error {
                    CallError::ShuttingDown => {
                        assert!(matches!(state, State::ShuttingDown { .. }))
                    }
                    CallError::Closed | CallError::Disconnected(_) | CallError::Protocol(_) => {
                        assert_eq!(state, State::Closed(rej.error.clone()))
                    }
                    CallError::BufferFull { queued: q, max } => {
                        assert!(q > max && max == max_buffer && q == queued);
                    }
                    CallError::DuplicateRpcId(id) => {
                        assert!(self.calls.contains_key(&id.0), "{id:?} was not pending");
                    }
                    CallError::IdsNotSupported => assert!(!conn.config().codec().has_ids()),
                    CallError::IdOutOfRange { id, max } => assert!(id.0 > max),
                    CallError::NoFreeId => {
                        let max = conn.config().codec().max_id().unwrap_or(u64::MAX);
                        assert!(self.calls.len() as u128 > u128::from(max));
                    }
                    CallError::FrameTooLarge { .. } => {
                        assert!(len > conn.config().codec().max_payload_len());
                    }
                    other => panic!("a call refused with {other:?}"),
                }
            }
        }
    }

    pub(super) fn cancel(&mut self, r: &mut Reader<'_>) {
        let pick = r.u8();
        let id = match self.calls.keys().nth(usize::from(pick >> 1)) {
            Some(&id) if pick & 1 == 0 => id,
            _ => u64::from(pick),
        };
        match self.client.conn.cancel(RpcId(id)) {
            Some(ctx) => {
                self.ambiguous = true;
                let e = self.calls.remove(&id).expect("cancelled a call never made");
                assert_eq!(e.ctx, ctx, "cancel returned another call's context");
            }
            None => assert!(!self.calls.contains_key(&id), "pending call not cancelled"),
        }
    }

    pub(super) fn respond(&mut self, r: &mut Reader<'_>) {
        let pick = r.u8();
        let other = Self::payload(r, u64::from(pick));
        let (id, payload, known) = match pick & 3 {
            // The oldest request not yet answered (right id, in order).
            0 if !self.requests.is_empty() => {
                let (id, p) = self.requests.remove(0);
                (id, p, true)
            }
            // Any request (out of order), kept or not to be answered again.
            1 | 2 if !self.requests.is_empty() => {
                let i = usize::from(pick >> 2) % self.requests.len();
                let (id, p) = if pick & 3 == 1 {
                    self.requests.swap_remove(i)
                } else {
                    self.requests[i].clone()
                };
                (id, p, true)
            }
            // A wrong id (unless it happens to be a request's).
            _ => {
                let id = RpcId(u64::from(pick >> 2));
                match self.requests.iter().find(|(rid, _)| *rid == id) {
                    Some((_, p)) => (id, p.clone(), true),
                    None => (id, other, false),
                }
            }
        };
        let len = payload.len();
        let has_ids = self.has_ids();
        let conn = &mut self.server.conn;
        match conn.respond(id, payload) {
            Ok(()) => {
                assert!(!conn.is_closed());
                let duplicate = !self.answered.insert(id.0);
                self.ambiguous |= has_ids && (duplicate || !known);
            }
            Err(RespondError::Closed) => assert!(conn.is_closed()),
            Err(RespondError::UnknownRequest(_)) => assert!(!has_ids),
            Err(RespondError::IdOutOfRange { id, max }) => assert!(id.0 > max),
            Err(RespondError::FrameTooLarge { .. }) => {
                assert!(len > conn.config().codec().max_payload_len());
            }
            Err(e) => panic!("respond refused with {e:?}"),
        }
    }

    /// Commands given to the wrong role are refused, changing nothing.
    pub(super) fn misuse(&mut self) {
        let before = self.server.conn.stats();
        let rej = self
            .server
            .conn
            .call(self.now, Bytes::new(), u64::MAX)
            .expect_err("a server accepted a call");
        assert!(matches!(rej.error, CallError::WrongRole));
        assert_eq!(self.server.conn.stats().calls, before.calls);
        let err = self.client.conn.respond(RpcId(0), Bytes::new());
        assert_eq!(err, Err(RespondError::WrongRole));
    }

    /// Moves up to `n` unwritten bytes from one core to the other, through
    /// `handle_read` or the lent receive buffer.
    pub(super) fn deliver(now: Duration, from: &mut Side, to: &mut Side, n: usize, lend: bool) {
        let bytes = match from.conn.poll_transmit(now) {
            Some(mut out) => {
                let take = n.min(out.remaining());
                out.copy_to_bytes(take)
            }
            None => Bytes::new(),
        };
        if lend {
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let room = to.conn.recv_buffer();
                let k = room.len().min(rest.len());
                room[..k].copy_from_slice(&rest[..k]);
                to.conn.handle_received(now, k);
                rest = &rest[k..];
            }
        } else {
            to.conn.handle_read(now, &bytes);
        }
    }

    pub(super) fn advance(&mut self, to: Duration) {
        self.now = to;
        for side in [&mut self.client, &mut self.server] {
            side.conn.handle_timeout(to);
            if let Some(t) = side.conn.poll_timeout() {
                assert!(t > to, "handle_timeout({to:?}) left {t:?} due");
            }
        }
    }
}
