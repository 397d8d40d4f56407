//! Surviving a lost connection (a reconnecting client): which calls are
//! safe to send again, and what waits for the next connection.
//!
//! In reconnect mode a lost connection does not close the core. Every call
//! whose request may have reached the peer (any byte of its frame was
//! handed to the socket) completes with `Disconnected`, exactly once, and
//! is never sent again: requests are not assumed idempotent. Calls whose
//! frames were not written at all stay pending with their deadlines; their
//! frames are held, whole, and go out first on the next connection. Calls
//! made in between are held too (counted against `max_buffer_bytes`), or
//! refused at once in fail-fast mode. A held call that times out or is
//! cancelled before the next connection is not sent at all (with an id
//! field; without one every frame must go out, in order, for the answers to
//! match, so its answer is dropped as late).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

use super::{Connection, Role, State};
use crate::{CallError, DisconnectReason, Event, RpcId, Timestamp};

/// What a reconnecting client does with calls while it has no connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhileDisconnected {
    /// Calls not yet written stay pending, and new calls are queued, until
    /// the next connection or their deadline.
    Hold,
    /// Calls not yet written complete with `Disconnected` when the
    /// connection is lost, and new calls are refused with it until the
    /// next connection.
    FailFast,
}

/// Reconnect mode's bookkeeping of requests not written yet.
#[derive(Debug, Default)]
pub(super) struct Unsent {
    mode: Option<WhileDisconnected>,
    /// Connected: the calls whose frames are in the write queue and not
    /// written in full, in queue order: `(offset of the frame's first
    /// byte in everything ever queued, key)`.
    frames: VecDeque<(u64, u64)>,
    /// Disconnected: whole frames waiting for the next connection, in
    /// order, with their calls' keys.
    held: VecDeque<(u64, Bytes)>,
    /// Bytes in `held`: unwritten bytes, as the queue's are.
    held_bytes: usize,
}

impl Unsent {
    /// Whether calls are refused while there is no connection.
    pub(super) fn fail_fast(&self) -> bool {
        self.mode == Some(WhileDisconnected::FailFast)
    }

    /// Forgets every frame (the connection is closed).
    pub(super) fn clear(&mut self) {
        self.frames.clear();
        self.held = VecDeque::new();
        self.held_bytes = 0;
    }

    /// Bytes held for the next connection.
    pub(super) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    fn hold(&mut self, key: u64, frame: Bytes) {
        self.held_bytes += frame.len();
        self.held.push_back((key, frame));
    }

    /// The calls under `dead` (sorted) ended before their frames were
    /// sent: their held frames are dropped. Returns whether any was.
    pub(super) fn drop_held(&mut self, dead: &[u64]) -> bool {
        if self.held.is_empty() || dead.is_empty() {
            return false;
        }
        let mut freed = 0;
        self.held.retain(|(key, frame)| {
            let keep = dead.binary_search(key).is_err();
            if !keep {
                freed += frame.len();
            }
            keep
        });
        self.held_bytes -= freed;
        freed > 0
    }

    /// A call's frame was queued from `start` on.
    pub(super) fn queued(&mut self, start: u64, key: u64) {
        if self.mode.is_some() {
            self.frames.push_back((start, key));
        }
    }

    /// Bytes up to `front` (an offset in everything ever queued) were
    /// written: frames that start before it may have reached the peer.
    pub(super) fn written_to(&mut self, front: u64) {
        while self.frames.front().is_some_and(|&(start, _)| start < front) {
            self.frames.pop_front();
        }
    }
}

impl<T: Timestamp, C> Connection<T, C> {
    /// Reconnect mode (client role): with `Some`, a lost connection
    /// ([`handle_eof`](Self::handle_eof),
    /// [`handle_io_error`](Self::handle_io_error)) leaves the core in
    /// [`State::Disconnected`] instead of closing it, until
    /// [`handle_connected`](Self::handle_connected). Set it before the first
    /// call. `None` (the default) closes on a lost connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use bytes::Buf;
    /// use framing_core::{
    ///     CallError, Config, Connection, DisconnectReason, Event, State, WhileDisconnected,
    /// };
    ///
    /// let t0 = Duration::ZERO;
    /// let mut c: Connection<Duration> = Connection::client(Config::default(), t0);
    /// c.set_reconnect(Some(WhileDisconnected::Hold));
    /// let sent = c.call(t0, "sent", ()).unwrap();
    /// c.poll_transmit(t0).unwrap().advance(12); // the socket took it
    /// let unsent = c.call(t0, "not yet", ()).unwrap();
    ///
    /// c.handle_eof(t0); // the peer went away
    /// assert!(matches!(c.state(), State::Disconnected { .. }));
    /// // The written call may have reached the peer: it fails, once.
    /// match c.poll_event() {
    ///     Some(Event::Completed { id, result: Err(CallError::Disconnected(_)), .. }) => {
    ///         assert_eq!(id, sent)
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// assert!(matches!(c.poll_event(), Some(Event::Disconnected(DisconnectReason::PeerClosed))));
    ///
    /// // The other waits for the next connection, and goes out first there.
    /// c.handle_connected(t0);
    /// assert_eq!(c.pending_calls(), 1);
    /// let mut out = c.poll_transmit(t0).unwrap();
    /// assert_eq!(&out.copy_to_bytes(15)[8..], b"not yet");
    /// # let _ = unsent;
    /// ```
    pub fn set_reconnect(&mut self, mode: Option<WhileDisconnected>) {
        debug_assert!(self.role == Role::Client || mode.is_none());
        if self.role == Role::Client {
            self.unsent.mode = mode;
            if mode.is_none() {
                self.unsent.frames.clear();
            }
        }
    }

    /// A new connection is up after [`State::Disconnected`]: reading and
    /// writing resume, the calls that were not written go first, and the
    /// idle clock restarts. Does nothing in any other state.
    pub fn handle_connected(&mut self, now: T) {
        if let State::Disconnected { .. } = self.state {
            self.state = State::Open;
            self.touch(now);
            let held = core::mem::take(&mut self.unsent.held);
            self.unsent.held_bytes = 0;
            for (key, frame) in held {
                self.unsent.queued(self.queued_total, key);
                self.queued_total += frame.len() as u64;
                self.queue.push(&[], frame);
            }
        }
    }

    /// Queues a call's frame: in the write queue while connected, held for
    /// the next connection while not.
    pub(super) fn enqueue_call(&mut self, key: u64, header: &[u8], payload: Bytes) {
        if let State::Disconnected { .. } = self.state {
            let mut frame = BytesMut::with_capacity(header.len() + payload.len());
            frame.extend_from_slice(header);
            frame.extend_from_slice(&payload);
            self.unsent.hold(key, frame.freeze());
            self.stats.frames_out += 1;
            self.after_enqueue();
        } else {
            self.unsent.queued(self.queued_total, key);
            self.enqueue(header, payload);
        }
    }

    /// Calls ended before their frames were written (`keys` sorted): with
    /// an id field their held frames are never sent.
    pub(super) fn forget_unsent(&mut self, keys: &[u64]) {
        if self.has_ids && self.unsent.drop_held(keys) {
            self.after_dequeue();
        }
    }

    /// The connection was lost with `reason`: close, or in reconnect mode
    /// wait for the next one.
    pub(super) fn lost(&mut self, reason: DisconnectReason) {
        let Some(mode) = self.unsent.mode else {
            return self.fail(CallError::Disconnected(reason));
        };
        match self.state {
            State::Open => {}
            State::Disconnected { .. } => return,
            // A shutdown waits for nothing more: it ends here.
            State::ShuttingDown { .. } => return self.fail(CallError::Disconnected(reason)),
            State::Closed(_) => return,
        }
        let front = self.queued_total - self.queue.queued() as u64;
        self.unsent.written_to(front);
        if mode == WhileDisconnected::FailFast {
            self.unsent.frames.clear();
        }
        let mut unsent: Vec<u64> = self.unsent.frames.iter().map(|&(_, key)| key).collect();
        unsent.sort_unstable();
        let error = CallError::Disconnected(reason.clone());
        let (events, stats) = (&mut self.events, &mut self.stats);
        self.pending.drain_sent(&unsent, |key, ctx| {
            stats.failed += 1;
            events.push_back(Event::Completed {
                id: RpcId(key),
                ctx,
                result: Err(error.clone()),
            });
        });
        // Drop what is left of frames that were partly written, then hold
        // the frames not written at all, whole, for the next connection:
        // those of calls still pending (a call that ended before its frame
        // went out is not sent; without ids every frame must go, in order).
        let keep_from = self
            .unsent
            .frames
            .front()
            .map_or(self.queued_total, |&(start, _)| start);
        self.queue.advance((keep_from - front) as usize);
        let mut rest = BytesMut::with_capacity(self.queue.queued());
        for chunk in self.queue.chunks() {
            rest.extend_from_slice(chunk);
        }
        self.queue.clear();
        let mut rest = rest.freeze();
        let frames: Vec<(u64, u64)> = self.unsent.frames.drain(..).collect();
        for (i, &(start, key)) in frames.iter().enumerate() {
            let end = frames.get(i + 1).map_or(self.queued_total, |&(s, _)| s);
            let frame = rest.split_to((end - start) as usize);
            if !self.has_ids || self.pending.contains(key) {
                self.unsent.hold(key, frame);
            }
        }
        self.after_dequeue();
        self.decoder.clear();
        if reason != DisconnectReason::NotConnected {
            self.events.push_back(Event::Disconnected(reason.clone()));
        }
        self.state = State::Disconnected { reason };
    }
}
