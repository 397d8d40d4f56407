//! What a client's driver publishes for its handles to read without a
//! round trip: one snapshot of the core, written in one place
//! ([`Published::publish`]) after every turn and before any completion
//! wakes a caller, so a woken caller sees the state that woke it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use framing_core::{CallError, Connection, State, Stats};

use crate::event::Subscribers;

/// The snapshot, shared by the handles and the driver.
#[derive(Debug)]
pub(crate) struct Published {
    /// The peer, when the stream has an address.
    pub(crate) peer: Option<SocketAddr>,
    /// The core's settings (immutable): the buffer limit handles check.
    pub(crate) config: framing_core::Config,
    pub(crate) events: Subscribers,
    /// Unwritten bytes.
    queued: AtomicUsize,
    /// Calls awaiting a response.
    pending: AtomicUsize,
    /// A `Pause` is in force.
    paused: AtomicBool,
    /// The core's counters.
    stats: Mutex<Stats>,
    /// Set once, when the core has closed: what calls are refused with.
    closed: OnceLock<CallError>,
    /// Calls the handles refused with `BufferFull` from the published
    /// queue size: the core never saw them, so only this counts them.
    refused_by_handles: AtomicU64,
}

impl Published {
    pub(crate) fn new(
        peer: Option<SocketAddr>,
        config: framing_core::Config,
        event_capacity: usize,
    ) -> Self {
        Published {
            peer,
            config,
            events: Subscribers::new(event_capacity),
            queued: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            paused: AtomicBool::new(false),
            stats: Mutex::new(Stats::default()),
            closed: OnceLock::new(),
            refused_by_handles: AtomicU64::new(0),
        }
    }

    /// Takes a snapshot of the core.
    pub(crate) fn publish<C>(&self, core: &Connection<Instant, C>) {
        self.queued.store(core.queued_bytes(), Ordering::Relaxed);
        self.pending.store(core.pending_calls(), Ordering::Relaxed);
        self.paused.store(core.is_paused(), Ordering::Relaxed);
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = core.stats();
        if let State::Closed(reason) = core.state() {
            let _ = self.closed.set(reason);
        }
    }

    /// Whether a call may be made now: `Err` with what it is refused with
    /// once the connection has closed, or `BufferFull` while the
    /// published queue is over the limit (counted).
    pub(crate) fn check_call(&self) -> Result<(), CallError> {
        if let Some(reason) = self.closed.get() {
            return Err(reason.clone());
        }
        let checked = self.config.check_room(self.queued.load(Ordering::Relaxed));
        if checked.is_err() {
            self.refused_by_handles.fetch_add(1, Ordering::Relaxed);
        }
        checked
    }

    /// What a call is refused or failed with once the driver is gone.
    pub(crate) fn closed_reason(&self) -> CallError {
        self.closed.get().cloned().unwrap_or(CallError::Closed)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.get().is_some()
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    pub(crate) fn pending_calls(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// The core's counters as of the last snapshot, with the calls the
    /// handles refused added to the refusals.
    pub(crate) fn stats(&self) -> Stats {
        let mut stats = *self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let by_handles = self.refused_by_handles.load(Ordering::Relaxed);
        stats.rejected += by_handles;
        stats.rejected_buffer_full += by_handles;
        stats
    }
}
