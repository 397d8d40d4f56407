//! Time: call deadlines, the idle timeout and the shutdown deadline.

use alloc::vec::Vec;

use super::{Connection, State};
use crate::{CallError, Event, RpcId, Timestamp};

impl<T: Timestamp, C> Connection<T, C> {
    /// Fires what is due at `now`: call deadlines, the idle timeout and a
    /// shutdown deadline. Early or repeated calls are harmless.
    pub fn handle_timeout(&mut self, now: T) {
        if self.is_closed() {
            return;
        }
        let mut expired = Vec::new();
        while let Some((key, ctx)) = self.pending.pop_due(now) {
            self.stats.timeouts += 1;
            self.recent.insert(key);
            expired.push(key);
            self.events.push_back(Event::Completed {
                id: RpcId(key),
                ctx,
                result: Err(CallError::DeadlineExceeded),
            });
        }
        if !expired.is_empty() {
            expired.sort_unstable();
            self.forget_unsent(&expired);
        }
        if self.idle_deadline().is_some_and(|at| now >= at) {
            self.idle_fired = true;
            // An idle connection keeps no read buffer a burst left behind.
            self.decoder.trim();
            self.events.push_back(Event::IdleTimeout);
        }
        if let State::ShuttingDown { deadline } = self.state {
            if now >= deadline && !self.is_closed() {
                self.fail(CallError::Closed);
            }
        }
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout)
    /// has something to do, or `None`.
    #[must_use = "sleep until this instant, then call handle_timeout"]
    pub fn poll_timeout(&mut self) -> Option<T> {
        if self.is_closed() {
            return None;
        }
        let shutdown = match self.state {
            State::ShuttingDown { deadline } => Some(deadline),
            _ => None,
        };
        [self.pending.next_deadline(), self.idle_deadline(), shutdown]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the connection counts as idle; never without a connection.
    fn idle_deadline(&self) -> Option<T> {
        match self.config.idle_timeout {
            Some(_) if matches!(self.state, State::Disconnected { .. }) => None,
            Some(idle) if !self.idle_fired => Some(self.last_activity.add_duration(idle)),
            _ => None,
        }
    }

    /// Something was read or written: the idle clock restarts.
    pub(super) fn touch(&mut self, now: T) {
        self.last_activity = now;
        self.idle_fired = false;
    }
}
