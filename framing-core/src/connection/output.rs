//! Outputs: events, and the bytes to write with their watermarks.

use bytes::{Buf, Bytes};

use super::{Connection, State};
use crate::{Event, Timestamp};

impl<T: Timestamp, C> Connection<T, C> {
    /// The next event, oldest first.
    #[must_use = "events carry call completions: drain them until None"]
    pub fn poll_event(&mut self) -> Option<Event<C>> {
        self.events.pop_front()
    }

    /// The unwritten bytes, or `None` when there are none: a
    /// [`bytes::Buf`] whose chunks are the queued frames in order (many
    /// frames per chunk when they are small). Write them, vectored with
    /// `Buf::chunks_vectored` (with `std`) or one [`Buf::chunk`] at a time, then
    /// [`Buf::advance`] by the count written; `now` is when the write
    /// happened (it restarts the idle clock).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Buf;
    /// use framing_core::{Config, Connection};
    ///
    /// let mut conn: Connection<core::time::Duration> =
    ///     Connection::client(Config::default(), Default::default());
    /// conn.call(Default::default(), "ping", ()).unwrap();
    /// let mut out = conn.poll_transmit(Default::default()).unwrap();
    /// assert_eq!(out.remaining(), 12);
    /// let wire = out.copy_to_bytes(12); // as if a socket took all of it
    /// assert_eq!(&wire[..], b"\0\0\0\x08\0\0\0\0ping");
    /// assert!(conn.poll_transmit(Default::default()).is_none());
    /// ```
    #[must_use = "write the bytes and advance by the count written"]
    pub fn poll_transmit(&mut self, now: T) -> Option<Transmit<'_, T, C>> {
        if self.queue.is_empty() || matches!(self.state, State::Disconnected { .. }) {
            None
        } else {
            Some(Transmit { conn: self, now })
        }
    }

    /// `n` bytes of the queue were written.
    fn written(&mut self, now: T, n: usize) {
        if n == 0 {
            return;
        }
        self.queue.advance(n);
        self.stats.bytes_out += n as u64;
        self.touch(now);
        self.unsent
            .written_to(self.queued_total - self.queue.queued() as u64);
        self.after_dequeue();
    }

    /// Bytes left the queue: `Resume` once it falls to the low watermark.
    pub(super) fn after_dequeue(&mut self) {
        let queued = self.queued_bytes();
        if self.paused && queued <= self.config.low_buffer_bytes {
            self.paused = false;
            self.events.push_back(Event::Resume { queued });
        }
    }

    /// Queues a frame, raising `Pause` when the queue crosses the warning
    /// watermark.
    pub(super) fn enqueue(&mut self, header: &[u8], payload: Bytes) {
        self.queued_total += (header.len() + payload.len()) as u64;
        self.queue.push(header, payload);
        self.stats.frames_out += 1;
        self.after_enqueue();
    }

    /// Bytes joined the queue: `Pause` once it rises above the warning
    /// watermark.
    pub(super) fn after_enqueue(&mut self) {
        let queued = self.queued_bytes();
        if !self.paused && queued > self.config.warn_buffer_bytes {
            self.paused = true;
            self.events.push_back(Event::Pause { queued });
        }
    }
}

/// The bytes a connection wants written, from
/// [`Connection::poll_transmit`]: a [`bytes::Buf`] over its write queue.
/// [`advance`](Buf::advance) reports bytes written to the connection.
#[derive(Debug)]
#[must_use = "write the bytes and advance by the count written"]
pub struct Transmit<'a, T: Timestamp, C> {
    conn: &'a mut Connection<T, C>,
    now: T,
}

impl<T: Timestamp, C> Transmit<'_, T, C> {
    /// Every chunk, in order: what `Buf::chunks_vectored` (with `std`) fills
    /// `IoSlice`s with, for callers without `std`.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.conn.queue.chunks()
    }
}

impl<T: Timestamp, C> Buf for Transmit<'_, T, C> {
    fn remaining(&self) -> usize {
        self.conn.queue.queued()
    }

    fn chunk(&self) -> &[u8] {
        self.conn.queue.chunks().next().unwrap_or(&[])
    }

    #[cfg(feature = "std")]
    fn chunks_vectored<'b>(&'b self, dst: &mut [std::io::IoSlice<'b>]) -> usize {
        self.conn.queue.io_slices(dst)
    }

    fn advance(&mut self, cnt: usize) {
        self.conn.written(self.now, cnt);
    }
}
