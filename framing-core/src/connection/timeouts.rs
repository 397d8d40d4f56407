//! Time: call deadlines, the idle timeout and the shutdown deadline.

use super::lifecycle::Failure;
use super::{Connection, Phase};
use crate::{CallError, Event, RpcId, Timestamp};

impl<T: Timestamp, C> Connection<T, C> {
    /// Fires what is due at `now`: call deadlines, the idle timeout and a
    /// shutdown deadline. Early or repeated calls are harmless.
    pub fn handle_timeout(&mut self, now: T) {
        if self.is_closed() {
            return;
        }
        while let Some((key, ctx)) = self.pending.pop_due(now) {
            self.stats.timeouts += 1;
            self.recent.insert(key);
            self.events.push_back(Event::Completed {
                id: RpcId(key),
                ctx,
                result: Err(CallError::DeadlineExceeded),
            });
        }
        if let Some(idle_at) = self.idle_deadline() {
            if now >= idle_at {
                self.idle_fired = true;
                self.events.push_back(Event::IdleTimeout);
            }
        }
        if let Phase::ShuttingDown { deadline } = self.phase {
            if now >= deadline {
                self.fail(Failure::Closed);
                return;
            }
        }
        self.check_shutdown_done();
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout)
    /// has something to do, or `None`.
    pub fn poll_timeout(&mut self) -> Option<T> {
        if self.is_closed() {
            return None;
        }
        let mut next = self.pending.next_deadline();
        for t in [
            self.idle_deadline(),
            match self.phase {
                Phase::ShuttingDown { deadline } => Some(deadline),
                _ => None,
            },
        ]
        .into_iter()
        .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        next
    }

    fn idle_deadline(&self) -> Option<T> {
        match self.config.idle_timeout {
            Some(idle) if !self.idle_fired => Some(self.last_activity.add_duration(idle)),
            _ => None,
        }
    }

    pub(super) fn touch(&mut self, now: T) {
        self.last_activity = now;
        self.idle_fired = false;
    }
}
