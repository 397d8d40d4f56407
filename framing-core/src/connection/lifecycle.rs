//! The end of a connection: graceful shutdown, close, and failing with an error.

use super::{Connection, Phase};
use crate::{CallError, DisconnectReason, Event, ProtocolError, RpcId, Timestamp};

// Only named by an intra-doc link (in `shutdown`).
#[cfg(doc)]
use super::State;

impl<T: Timestamp, C> Connection<T, C> {
    /// Starts a graceful shutdown: new calls are refused with
    /// `ShuttingDown`; in-flight calls may finish until `deadline`, when
    /// the rest complete with `Closed`. The state becomes
    /// [`State::Closed`] once nothing is pending or left to write. A server
    /// stops reading requests and closes once every request it received is
    /// answered and written (or at the deadline).
    pub fn shutdown(&mut self, deadline: T) {
        match self.phase {
            Phase::Open => self.phase = Phase::ShuttingDown { deadline },
            Phase::ShuttingDown { deadline: d } if deadline < d => {
                self.phase = Phase::ShuttingDown { deadline }
            }
            _ => {}
        }
        self.check_shutdown_done();
    }

    /// Closes at once: every pending call completes with `Closed`, unwritten
    /// bytes are dropped, and no `Disconnected` event follows.
    pub fn close(&mut self) {
        if !self.is_closed() {
            self.fail(Failure::Closed);
        }
    }

    pub(super) fn check_shutdown_done(&mut self) {
        if let Phase::ShuttingDown { .. } = self.phase {
            if self.pending.live() == 0 && self.queue.is_empty() && self.outstanding_requests == 0 {
                self.phase = Phase::Closed;
                self.release();
            }
        }
    }

    /// Ends the connection: every pending call completes with the error the
    /// failure implies, and its event (if any) is raised.
    pub(super) fn fail(&mut self, failure: Failure) {
        let error = match &failure {
            Failure::Closed => CallError::Closed,
            Failure::Protocol(p) => CallError::Protocol(*p),
            Failure::Disconnected(r) => CallError::Disconnected(r.clone()),
        };
        let (events, stats) = (&mut self.events, &mut self.stats);
        self.pending.drain(true, |key, ctx| {
            stats.failed += 1;
            events.push_back(Event::Completed {
                id: RpcId(key),
                ctx,
                result: Err(error.clone()),
            });
        });
        match failure {
            Failure::Closed => {}
            Failure::Protocol(p) => self.events.push_back(Event::ProtocolError(p)),
            Failure::Disconnected(r) => self.events.push_back(Event::Disconnected(r)),
        }
        self.phase = Phase::Closed;
        self.queue.clear();
        self.release();
    }

    fn release(&mut self) {
        self.outstanding_requests = 0;
        self.pending.clear_deadlines();
        self.decoder.clear();
        self.replies.clear();
    }
}

pub(super) enum Failure {
    Closed,
    Protocol(ProtocolError),
    Disconnected(DisconnectReason),
}
