//! Outputs: events, and bytes to write with their write-buffer watermarks.

use bytes::Bytes;

use super::Connection;
use crate::{Event, Timestamp};

impl<T: Timestamp, C> Connection<T, C> {
    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event<C>> {
        self.events.pop_front()
    }

    /// The unwritten bytes, as slices in order. Write some of them and
    /// report how many with [`advance_transmit`](Self::advance_transmit).
    pub fn poll_transmit(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.queue.chunks()
    }

    /// Fills `out` with the unwritten bytes as `IoSlice`s for one vectored
    /// write, returning how many slots were filled (0: nothing to write).
    #[cfg(feature = "std")]
    pub fn transmit_io_slices<'a>(&'a self, out: &mut [std::io::IoSlice<'a>]) -> usize {
        self.queue.io_slices(out)
    }

    /// Whether anything is waiting to be written.
    pub fn has_transmit(&self) -> bool {
        !self.queue.is_empty()
    }

    /// `n` bytes of [`poll_transmit`](Self::poll_transmit) were written.
    pub fn advance_transmit(&mut self, now: T, n: usize) {
        if n == 0 {
            return;
        }
        self.queue.advance(n);
        self.stats.bytes_out += n as u64;
        self.touch(now);
        if self.paused && self.queue.queued() <= self.config.low_buffer_bytes {
            self.paused = false;
            self.events.push_back(Event::Resume {
                queued: self.queue.queued(),
            });
        }
        self.check_shutdown_done();
    }

    pub(super) fn enqueue(&mut self, header: &[u8], payload: Bytes) {
        self.queue.push(header, payload);
        self.stats.frames_out += 1;
        if !self.paused && self.queue.queued() > self.config.warn_buffer_bytes {
            self.paused = true;
            self.events.push_back(Event::Pause {
                queued: self.queue.queued(),
            });
        }
    }
}
