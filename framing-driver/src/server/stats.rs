//! A server's counters, over all its connections.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one server since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections open now.
    pub active: u64,
    /// Times the server stopped accepting because `max_connections` were
    /// open (new connections then wait in the listen backlog).
    pub at_connection_limit: u64,
    /// `accept` errors (out of file descriptors, ...); the server backed
    /// off and went on.
    pub accept_errors: u64,
    /// Requests whose handler returned an error, panicked or overran the
    /// request timeout (each also counted below when it timed out).
    pub handler_failures: u64,
    /// Of `handler_failures`, those that overran the request timeout.
    pub request_timeouts: u64,
    /// Connections closed because they were silent for the idle timeout.
    pub idle_closed: u64,
}

/// The live counters behind [`ServerStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) active: AtomicU64,
    pub(crate) at_connection_limit: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
    pub(crate) handler_failures: AtomicU64,
    pub(crate) request_timeouts: AtomicU64,
    pub(crate) idle_closed: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ServerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ServerStats {
            accepted: get(&self.accepted),
            active: get(&self.active),
            at_connection_limit: get(&self.at_connection_limit),
            accept_errors: get(&self.accept_errors),
            handler_failures: get(&self.handler_failures),
            request_timeouts: get(&self.request_timeouts),
            idle_closed: get(&self.idle_closed),
        }
    }
}
