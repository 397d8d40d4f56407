//! The commands `run_ops` gives: calls, cancels, responses, misuse and
//! `fail_pending`, each applied to a core and its model, the core's answer
//! checked against what the model allows.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::{CallError, CallOptions, Event, RpcId};

use super::client::Ask;
use super::reader::Reader;
use super::report::{call_error_name, respond_error_name, Seen};
use super::world::World;

impl World {
    /// A payload: `len` bytes of `tag`, `len` from one byte (bit 7: in
    /// 64-byte steps).
    fn payload(r: &mut Reader<'_>, tag: u64) -> Bytes {
        let b = r.u8();
        let len = if b & 0x80 != 0 {
            usize::from(b & 0x7f) * 64
        } else {
            usize::from(b)
        };
        Bytes::from(alloc::vec![tag as u8; len])
    }

    /// A call: payload, id pick (with `caller_id`: often a pending id, to
    /// provoke `DuplicateRpcId`; `0xff`: an id too large for most fields),
    /// timeout (`& 3`: 0 the default, 1 none, else `(t >> 2) * 4` ms).
    pub(super) fn call(&mut self, r: &mut Reader<'_>, caller_id: bool) {
        let ctx = self.next_ctx;
        self.next_ctx += 1;
        let payload = Self::payload(r, ctx);
        let pick = r.u8();
        let mut opts = CallOptions::new();
        let wanted = caller_id.then(|| {
            let ids: Vec<u64> = self.client.m.table.ids().collect();
            let id = match pick {
                0xff => u64::MAX,
                p if p & 1 == 0 && !ids.is_empty() => ids[usize::from(p >> 1) % ids.len()],
                p => u64::from(p >> 1),
            };
            opts = opts.id(RpcId(id));
            id
        });
        let t = r.u8();
        let timeout = match t & 3 {
            0 => self.client.m.lim.call_timeout,
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
        let ask = Ask {
            id: wanted,
            timeout,
            len: payload.len(),
        };
        let allowed = self.client.m.refusals(&ask);
        match self
            .client
            .conn
            .call_with(self.now, payload.clone(), opts, ctx)
        {
            Ok(id) => {
                assert!(
                    allowed.is_empty(),
                    "call accepted, but it must be refused with one of {allowed:?}"
                );
                match wanted {
                    Some(want) => assert_eq!(id.0, want, "the caller's id was not used"),
                    None => self.client.m.check_auto_id(id.0),
                }
                self.client.m.accept(self.now, id.0, ctx, &payload, &ask);
                let frame = self.client.m.wire.header_len() + payload.len();
                self.largest_frame = self.largest_frame.max(frame);
            }
            Err(rej) => {
                assert_eq!(rej.ctx, ctx, "the refusal lost the context");
                assert_eq!(rej.payload, payload, "the refusal lost the payload");
                assert!(
                    allowed.contains(&rej.error),
                    "call refused with {:?}, but the model allows {allowed:?} (none: accept)",
                    rej.error
                );
                self.client.m.refused(&rej.error);
                self.report.add(Seen::Refused(call_error_name(&rej.error)));
            }
        }
    }

    /// Cancels a pending call (even pick) or any id.
    pub(super) fn cancel(&mut self, r: &mut Reader<'_>) {
        let pick = r.u8();
        let ids: Vec<u64> = self.client.m.table.ids().collect();
        let id = match ids.get(usize::from(pick >> 1)) {
            Some(&id) if pick & 1 == 0 => id,
            _ => u64::from(pick),
        };
        let want = self.client.m.cancel(id);
        let got = self.client.conn.cancel(RpcId(id));
        assert_eq!(got, want, "cancel({id}) handed back another context");
        if got.is_some() {
            self.report.add(Seen::Cancelled);
        }
    }

    /// The server answers (`pick & 3`): the oldest request, any request
    /// (removed), any request (kept, to be answered again), or an id from
    /// `pick >> 2` (a request's, or no request's).
    pub(super) fn respond(&mut self, r: &mut Reader<'_>) {
        let pick = r.u8();
        let other = Self::payload(r, u64::from(pick));
        let open = &mut self.server.m.requests.open;
        let q = match pick & 3 {
            0 if !open.is_empty() => open.remove(0),
            1 if !open.is_empty() => open.swap_remove(usize::from(pick >> 2) % open.len()),
            2 if !open.is_empty() => open[usize::from(pick >> 2) % open.len()].clone(),
            _ => {
                let id = u64::from(pick >> 2);
                match open.iter().find(|q| q.id == id) {
                    Some(q) => q.clone(),
                    None => super::server::Received {
                        id,
                        payload: other,
                        origin: None,
                    },
                }
            }
        };
        let allowed = self.server.m.respond_refusals(q.id, q.payload.len());
        match self.server.conn.respond(RpcId(q.id), q.payload.clone()) {
            Ok(()) => {
                assert!(
                    allowed.is_empty(),
                    "respond({}) taken, but it must be refused with one of {allowed:?}",
                    q.id
                );
                self.server.m.respond(q.id, q.payload, q.origin);
            }
            Err(e) => {
                assert!(
                    allowed.contains(&e),
                    "respond({}) refused with {e:?}, but the model allows {allowed:?}",
                    q.id
                );
                self.report
                    .add(Seen::RespondRefused(respond_error_name(&e)));
            }
        }
    }

    /// Commands given to the wrong role are refused, changing nothing but
    /// the count of refused calls.
    pub(super) fn misuse(&mut self) {
        let rej = self
            .server
            .conn
            .call(self.now, Bytes::new(), u64::MAX)
            .expect_err("a server accepted a call");
        assert_eq!(rej.error, CallError::WrongRole);
        self.server.m.refused(&rej.error);
        self.report.add(Seen::Refused("WrongRole"));
        let err = self.client.conn.respond(RpcId(0), Bytes::new());
        assert_eq!(err, Err(crate::RespondError::WrongRole));
        self.report.add(Seen::RespondRefused("WrongRole"));
    }

    /// `fail_pending`: the model takes the order the core completed the
    /// calls in (unspecified), after checking they are the pending ones.
    pub(super) fn fail_pending(&mut self) {
        self.client.conn.fail_pending();
        let early: Vec<Event<u64>> =
            core::iter::from_fn(|| self.client.conn.poll_event()).collect();
        let order: Vec<u64> = early
            .iter()
            .filter_map(|ev| match ev {
                Event::Completed {
                    id,
                    result: Err(CallError::FailedByUser),
                    ..
                } => Some(id.0),
                _ => None,
            })
            .collect();
        self.client.m.fail_pending(&order);
        self.client.early = early;
    }
}
