//! The queue of unwritten bytes, handed to the driver as slices for
//! vectored writes.
//!
//! Headers are written into one growing buffer; a payload is referenced as
//! its own `Bytes` (no copy) unless it is at most `coalesce_max` bytes, in
//! which case it is copied next to its header so that many small frames go
//! out as one contiguous slice.

use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};

/// Default for payloads copied next to their header instead of being
/// referenced: below this size an `iovec` entry costs more than the copy.
pub(crate) const DEFAULT_COALESCE_MAX: usize = 256;

const TAIL_CHUNK: usize = 16 * 1024;

#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    /// Ready segments, oldest first.
    segs: VecDeque<Bytes>,
    /// Bytes after the last segment (headers and small payloads).
    tail: BytesMut,
    /// Unwritten bytes in total.
    queued: usize,
    coalesce_max: usize,
}

impl WriteQueue {
    pub(crate) fn new(coalesce_max: usize) -> Self {
        WriteQueue {
            coalesce_max,
            ..Default::default()
        }
    }

    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Appends a frame.
    pub(crate) fn push(&mut self, header: &[u8], payload: Bytes) {
        let total = header.len() + payload.len();
        if self.tail.capacity() - self.tail.len() < total.min(self.coalesce_max) + header.len() {
            self.tail.reserve(TAIL_CHUNK);
        }
        self.tail.extend_from_slice(header);
        if payload.len() <= self.coalesce_max {
            self.tail.extend_from_slice(&payload);
        } else {
            self.segs.push_back(self.tail.split().freeze());
            self.segs.push_back(payload);
        }
        self.queued += total;
    }

    /// The unwritten bytes, in order, as slices.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.segs
            .iter()
            .map(|b| &b[..])
            .chain(core::iter::once(&self.tail[..]))
            .filter(|s| !s.is_empty())
    }

    /// Fills `out` with as many slices as fit, returning how many.
    #[cfg(feature = "std")]
    pub(crate) fn io_slices<'a>(&'a self, out: &mut [std::io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, chunk) in out.iter_mut().zip(self.chunks()) {
            *slot = std::io::IoSlice::new(chunk);
            n += 1;
        }
        n
    }

    /// Drops `n` written bytes from the front.
    pub(crate) fn advance(&mut self, mut n: usize) {
        n = n.min(self.queued);
        self.queued -= n;
        while n > 0 {
            match self.segs.front_mut() {
                Some(front) => {
                    if n >= front.len() {
                        n -= front.len();
                        self.segs.pop_front();
                    } else {
                        front.advance(n);
                        n = 0;
                    }
                }
                None => {
                    self.tail.advance(n);
                    n = 0;
                }
            }
        }
        if self.queued == 0 {
            self.tail.clear();
        }
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.segs.clear();
        self.tail = BytesMut::new();
        self.queued = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn collect(q: &WriteQueue) -> Vec<u8> {
        q.chunks().flat_map(|c| c.iter().copied()).collect()
    }

    #[test]
    fn small_frames_coalesce_into_one_slice() {
        let mut q = WriteQueue::new(256);
        q.push(&[1, 2], Bytes::from_static(b"ab"));
        q.push(&[3, 4], Bytes::from_static(b"cd"));
        assert_eq!(q.chunks().count(), 1);
        assert_eq!(collect(&q), [1, 2, b'a', b'b', 3, 4, b'c', b'd']);
        assert_eq!(q.queued(), 8);
    }

    #[test]
    fn large_payloads_are_referenced_not_copied() {
        let mut q = WriteQueue::new(4);
        let big = Bytes::from(alloc::vec![7u8; 100]);
        let ptr = big.as_ptr();
        q.push(&[1], big);
        q.push(&[2], Bytes::from_static(b"x"));
        let chunks: Vec<&[u8]> = q.chunks().collect();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[1].as_ptr(), ptr);
    }

    #[test]
    fn partial_writes_advance_across_segments() {
        let mut q = WriteQueue::new(4);
        q.push(&[1, 2], Bytes::from(alloc::vec![9u8; 10]));
        q.push(&[3], Bytes::from_static(b"z"));
        let all = collect(&q);
        for step in [1, 3, 5, 2, 1] {
            let before = collect(&q);
            q.advance(step);
            assert_eq!(collect(&q), before[step.min(before.len())..]);
        }
        assert_eq!(q.queued(), all.len() - 12);
        q.advance(100);
        assert!(q.is_empty());
        assert_eq!(q.chunks().count(), 0);
    }
}
