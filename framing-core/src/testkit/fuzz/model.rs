//! What `run_ops` knows about both cores (the model), and the checks made
//! against it after every step.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::{CallError, Connection, Event, RpcId};

use super::decode::frame_limit;

/// One core and what the model knows about it.
pub(super) struct Side {
    pub(super) conn: Connection<Duration, u64>,
    pub(super) paused: bool,
    pub(super) closed_by_user: bool,
}

impl Side {
    fn check_watermark(&mut self, ev: &Event<u64>) {
        let cfg = self.conn.config();
        match *ev {
            Event::Pause { queued } => {
                assert!(!self.paused, "Pause twice");
                assert!(queued > cfg.warn_buffer_bytes(), "Pause below warn");
                self.paused = true;
            }
            Event::Resume { queued } => {
                assert!(self.paused, "Resume without Pause");
                assert!(queued <= cfg.low_buffer_bytes(), "Resume above low");
                self.paused = false;
            }
            _ => {}
        }
    }

    fn check_common(&mut self) {
        let c = &mut self.conn;
        if c.is_closed() {
            assert_eq!(c.pending_calls(), 0, "pending calls on a closed core");
            assert_eq!(c.queued_bytes(), 0, "bytes to write on a closed core");
            assert_eq!(c.buffered_bytes(), 0, "read buffer kept after close");
            assert!(!c.wants_read());
        }
        let total: usize = c
            .poll_transmit(Duration::ZERO)
            .map_or(0, |out| out.chunks().map(<[u8]>::len).sum());
        assert_eq!(total, c.queued_bytes(), "slices disagree with the count");
        assert!(c.buffered_bytes() <= frame_limit(c.config().codec()));
    }
}

/// A call the model expects to complete: its context and deadline.
#[derive(Debug, Clone, Copy)]
pub(super) struct Expected {
    pub(super) ctx: u64,
    pub(super) deadline: Option<Duration>,
    /// The request payload: `len` bytes of `tag`, which the server echoes.
    pub(super) len: usize,
    pub(super) tag: u8,
}

/// The client, the server and the model of pending calls.
pub(super) struct World {
    pub(super) now: Duration,
    pub(super) client: Side,
    pub(super) server: Side,
    /// Accepted, not yet completed or cancelled calls, by id.
    pub(super) calls: BTreeMap<u64, Expected>,
    pub(super) next_ctx: u64,
    pub(super) accepted: u64,
    /// Requests the server received (with their payloads, which it
    /// echoes), not yet answered or answered but kept to answer again.
    pub(super) requests: Vec<(RpcId, Bytes)>,
    /// Ids the server answered since it last received them.
    pub(super) answered: BTreeSet<u64>,
    /// Raw bytes were injected: frames may pair with the wrong calls.
    pub(super) injected: bool,
    /// With ids: a wrong or duplicate response was sent, or a call was
    /// abandoned (its id may be reused), so a response may legitimately
    /// complete another call than the one it was meant for.
    pub(super) ambiguous: bool,
    pub(super) largest_frame: usize,
    pub(super) header_len: usize,
}

impl World {
    /// Whether a response may legitimately complete another call than the
    /// one it answers.
    fn muddled(&self) -> bool {
        self.injected || (self.ambiguous && self.has_ids())
    }

    pub(super) fn has_ids(&self) -> bool {
        self.client.conn.config().codec().has_ids()
    }

    pub(super) fn drain(&mut self) {
        while let Some(ev) = self.client.conn.poll_event() {
            self.client.check_watermark(&ev);
            match ev {
                Event::Completed { id, ctx, result } => {
                    let e = self
                        .calls
                        .remove(&id.0)
                        .unwrap_or_else(|| panic!("{id:?} completed but was not pending"));
                    assert_eq!(e.ctx, ctx, "completion carries another call's context");
                    match result {
                        Ok(p) => {
                            // Unless the pairing was muddled on purpose, the
                            // response is the echo of this call's request.
                            if !self.muddled() {
                                assert!(
                                    p.len() == e.len && p.iter().all(|&b| b == e.tag),
                                    "{id:?} completed with another call's response"
                                );
                            }
                        }
                        Err(
                            CallError::Closed
                            | CallError::Disconnected(_)
                            | CallError::FailedByUser
                            | CallError::Protocol(_),
                        ) => {}
                        Err(CallError::DeadlineExceeded) => {
                            self.ambiguous = true;
                            let at = e.deadline.expect("timed out without a deadline");
                            assert!(at <= self.now, "timed out at {:?}, due {at:?}", self.now);
                        }
                        Err(other) => panic!("a call completed with {other:?}"),
                    }
                }
                Event::UnknownResponse { id, .. } if self.has_ids() => {
                    assert!(!self.calls.contains_key(&id.0), "pending {id:?} unmatched");
                }
                Event::ProtocolError(_) => assert!(self.client.conn.is_closed()),
                Event::Disconnected(_) => assert!(!self.client.closed_by_user),
                Event::Request { .. } => panic!("a client received a request"),
                Event::IdleTimeout => assert!(self.client.conn.config().idle_timeout().is_some()),
                _ => {}
            }
        }
        while let Some(ev) = self.server.conn.poll_event() {
            self.server.check_watermark(&ev);
            match ev {
                Event::Request { id, payload } => {
                    // A new request under an old id supersedes the old one.
                    self.requests.retain(|(rid, _)| *rid != id);
                    self.answered.remove(&id.0);
                    self.requests.push((id, payload));
                }
                Event::ProtocolError(_) => assert!(self.server.conn.is_closed()),
                Event::Disconnected(_) => assert!(!self.server.closed_by_user),
                Event::Completed { .. } | Event::UnknownResponse { .. } => {
                    panic!("a server got a response: {ev:?}")
                }
                Event::IdleTimeout => assert!(self.server.conn.config().idle_timeout().is_some()),
                _ => {}
            }
        }
    }

    pub(super) fn check(&mut self) {
        self.client.check_common();
        self.server.check_common();
        let c = &self.client.conn;
        assert_eq!(c.pending_calls(), self.calls.len(), "pending count drifted");
        for side in [&self.client, &self.server] {
            assert_eq!(side.conn.is_paused(), side.paused, "is_paused drifted");
        }
        let limit = c.config().max_buffer_bytes() + self.largest_frame;
        assert!(
            c.queued_bytes() <= limit,
            "{} unwritten bytes, limit {limit}",
            c.queued_bytes()
        );
    }
}
