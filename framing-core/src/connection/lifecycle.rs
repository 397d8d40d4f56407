//! The life of a connection: open, shutting down, closed and why.

use super::Connection;
use crate::{CallError, DisconnectReason, Event, RpcId, Timestamp};

/// Where a connection is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State<T> {
    /// Working.
    Open,
    /// A graceful shutdown is under way: no new calls; calls and requests
    /// in flight may finish until `deadline`.
    ShuttingDown {
        /// When whatever is still in flight is closed.
        deadline: T,
    },
    /// Finished: the driver should close the socket. The error is what
    /// every call still pending completed with, and what later calls are
    /// refused with: [`CallError::Closed`] after `close()` or a graceful
    /// shutdown, [`CallError::Disconnected`] or [`CallError::Protocol`]
    /// when the connection failed.
    Closed(CallError),
    /// Reconnect mode only ([`Connection::set_reconnect`]): the connection
    /// was lost (or is not up yet) and the driver is connecting again.
    /// Calls not yet written wait for the next connection, or fail fast.
    Disconnected {
        /// Why there is no connection.
        reason: DisconnectReason,
    },
}

impl<T: Timestamp, C> Connection<T, C> {
    /// Where the connection is in its life. A graceful shutdown is
    /// [`State::Closed`] as soon as nothing is pending, left to write or
    /// left to answer.
    pub fn state(&self) -> State<T> {
        if self.shutdown_done() {
            State::Closed(CallError::Closed)
        } else {
            self.state.clone()
        }
    }

    /// Whether the connection has finished (see [`state`](Self::state)).
    #[inline]
    pub fn is_closed(&self) -> bool {
        match self.state {
            State::Open | State::Disconnected { .. } => false,
            State::ShuttingDown { .. } => self.shutdown_done(),
            State::Closed(_) => true,
        }
    }

    /// A graceful shutdown has nothing left to wait for. Once true it stays
    /// true: no call is accepted, no request read and no answer queued
    /// after a shutdown completes.
    pub(super) fn shutdown_done(&self) -> bool {
        matches!(self.state, State::ShuttingDown { .. })
            && self.pending.live() == 0
            && self.queue.is_empty()
            && self.requests.outstanding() == 0
    }

    /// Starts a graceful shutdown: new calls are refused with
    /// `ShuttingDown`; in-flight calls may finish until `deadline`, when
    /// the rest complete with `Closed`. The state becomes
    /// [`State::Closed`] once nothing is pending or left to write. A server
    /// stops reading requests and closes once every request it received is
    /// answered and written (or at the deadline). A second call can only
    /// bring the deadline forward. Without a connection
    /// ([`State::Disconnected`]) nothing in flight can finish: the
    /// connection closes at once, as by [`close`](Self::close).
    pub fn shutdown(&mut self, deadline: T) {
        match self.state {
            State::Disconnected { .. } => self.fail(CallError::Closed),
            State::Open => self.state = State::ShuttingDown { deadline },
            State::ShuttingDown { deadline: d } if deadline < d => {
                self.state = State::ShuttingDown { deadline }
            }
            _ => {}
        }
    }

    /// Closes at once: every pending call completes with `Closed`, unwritten
    /// bytes are dropped, and no `Disconnected` event follows.
    pub fn close(&mut self) {
        if !self.is_closed() {
            self.fail(CallError::Closed);
        }
    }

    /// Ends the connection with `reason`: every pending call completes with
    /// it, and a failure raises its event (`ProtocolError`, `Disconnected`).
    pub(super) fn fail(&mut self, reason: CallError) {
        let (events, stats) = (&mut self.events, &mut self.stats);
        self.pending.drain(|key, ctx| {
            stats.failed += 1;
            events.push_back(Event::Completed {
                id: RpcId(key),
                ctx,
                result: Err(reason.clone()),
            });
        });
        match &reason {
            CallError::Protocol(p) => self.events.push_back(Event::ProtocolError(*p)),
            CallError::Disconnected(r) => self.events.push_back(Event::Disconnected(r.clone())),
            _ => {}
        }
        self.state = State::Closed(reason);
        // Nothing more can be read, written or answered: free it all.
        self.unsent.clear();
        self.queue.clear();
        self.pending.clear();
        self.decoder.clear();
        self.requests.clear();
    }
}
