//! What a client's driver publishes for its handles to read without a
//! round trip: one snapshot of the core, written in one place
//! ([`Published::publish`]) after every turn and before any completion
//! wakes a caller, so a woken caller sees the state that woke it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use framing_core::{CallError, Connection, State, Stats};

use crate::event::Subscribers;

/// The snapshot, shared by the handles and the driver.
#[derive(Debug)]
pub(crate) struct Published {
    /// The peer of the current (or last) connection, when the stream has
    /// an address.
    peer: Mutex<Option<SocketAddr>>,
    /// The core's settings (immutable): the buffer limit handles check.
    pub(crate) config: framing_core::Config,
    pub(crate) events: Subscribers,
    /// Unwritten bytes.
    queued: AtomicUsize,
    /// Calls awaiting a response.
    pending: AtomicUsize,
    /// A `Pause` is in force.
    paused: AtomicBool,
    /// No connection (a reconnecting client between connections).
    down: AtomicBool,
    /// Tasks waiting for the client to be ready (`poll_ready`): connected,
    /// not paused, or closed.
    ready_waiters: Mutex<Vec<Waker>>,
    has_waiters: AtomicBool,
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
            peer: Mutex::new(peer),
            config,
            events: Subscribers::new(event_capacity),
            queued: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            paused: AtomicBool::new(false),
            down: AtomicBool::new(false),
            ready_waiters: Mutex::new(Vec::new()),
            has_waiters: AtomicBool::new(false),
            stats: Mutex::new(Stats::default()),
            closed: OnceLock::new(),
            refused_by_handles: AtomicU64::new(0),
        }
    }

    /// Takes a snapshot of the core; `parked` calls wait in the driver
    /// for room and count as pending.
    pub(crate) fn publish<C>(&self, core: &Connection<Instant, C>, parked: usize) {
        self.queued.store(core.queued_bytes(), Ordering::Relaxed);
        self.pending
            .store(core.pending_calls() + parked, Ordering::Relaxed);
        self.paused.store(core.is_paused(), Ordering::Relaxed);
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = core.stats();
        match core.state() {
            State::Closed(reason) => {
                let _ = self.closed.set(reason);
            }
            State::Disconnected { .. } => self.down.store(true, Ordering::Relaxed),
            _ => self.down.store(false, Ordering::Relaxed),
        }
        if self.has_waiters.load(Ordering::Acquire) && self.poll_ready_state().is_ready() {
            self.has_waiters.store(false, Ordering::Release);
            for w in self.lock_waiters().drain(..) {
                w.wake();
            }
        }
    }

    /// The peer of the current (or last) connection.
    pub(crate) fn peer(&self) -> Option<SocketAddr> {
        *self.peer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection, to `addr`.
    pub(crate) fn set_peer(&self, addr: SocketAddr) {
        *self.peer.lock().unwrap_or_else(|p| p.into_inner()) = Some(addr);
    }

    /// Ready for a call: connected and not paused; an error once closed.
    fn poll_ready_state(&self) -> Poll<Result<(), CallError>> {
        if let Some(reason) = self.closed.get() {
            return Poll::Ready(Err(reason.clone()));
        }
        if self.down.load(Ordering::Relaxed) || self.paused.load(Ordering::Relaxed) {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    /// As `poll_ready_state`, registering the task to be woken when that
    /// changes.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        if let Poll::Ready(r) = self.poll_ready_state() {
            return Poll::Ready(r);
        }
        {
            let mut waiters = self.lock_waiters();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            self.has_waiters.store(true, Ordering::Release);
        }
        // The driver may have published in between: look again.
        self.poll_ready_state()
    }

    /// Wakes every task waiting in `poll_ready` (the connection ended).
    pub(crate) fn wake_all(&self) {
        self.has_waiters.store(false, Ordering::Release);
        for w in self.lock_waiters().drain(..) {
            w.wake();
        }
    }

    fn lock_waiters(&self) -> std::sync::MutexGuard<'_, Vec<Waker>> {
        self.ready_waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may be made now: `Err` with what it is refused with
    /// once the connection has closed, or `BufferFull` while the
    /// published queue is over the limit (counted), unless the call
    /// `waits_for_room` (the driver parks it until there is room).
    pub(crate) fn check_call(&self, waits_for_room: bool) -> Result<(), CallError> {
        if let Some(reason) = self.closed.get() {
            return Err(reason.clone());
        }
        if waits_for_room {
            return Ok(());
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
