//! The queue of unwritten bytes, handed to the driver as slices for
//! vectored writes.
//!
//! Headers are written into one growing buffer, the tail; a payload is
//! referenced as its own `Bytes` (no copy) unless it is at most
//! `coalesce_max` bytes, in which case it is copied next to its header so
//! that many small frames go out as one contiguous slice.
//!
//! # Memory: nothing kept for an idle connection
//!
//! The tail is allocated when a frame is pushed, sized by what the last
//! busy period needed (at least [`TAIL_MIN`], at most [`TAIL_MAX`]), so
//! that a busy connection's small frames still go out as one slice. When it
//! runs out, it becomes a segment of its own and a new tail twice its size
//! starts: coalesced bytes are never copied twice. Once everything is
//! written, a tail larger than [`TAIL_KEEP`] and a segment list of more
//! than [`SEGS_KEEP`] slots are released, so an idle connection keeps at
//! most 1 KiB here; the next busy period allocates once, at the size the
//! last one used (one `malloc` per write that empties the queue, against
//! a system call).

use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};

/// Default for payloads copied next to their header instead of being
/// referenced: below this size an `iovec` entry costs more than the copy.
pub(crate) const DEFAULT_COALESCE_MAX: usize = 256;

/// Smallest tail allocated: a few coalesced frames of the default
/// `coalesce_max`.
const TAIL_MIN: usize = 1024;

/// Largest tail allocated at once (the former fixed chunk): past it, one
/// more slice per 16 KiB costs nothing measurable.
const TAIL_MAX: usize = 16 * 1024;

/// A drained tail allocation up to this size is kept for the next frames
/// (a request-response connection with small answers reuses it); a larger
/// one is released.
const TAIL_KEEP: usize = TAIL_MIN;

/// Segment slots a drained queue keeps.
const SEGS_KEEP: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    /// Ready segments, oldest first.
    segs: VecDeque<Bytes>,
    /// Bytes after the last segment (headers and small payloads).
    tail: BytesMut,
    /// Bytes of the allocation behind `tail` (0 for none).
    tail_alloc: usize,
    /// Unwritten bytes in total.
    queued: usize,
    coalesce_max: usize,
    /// Bytes put in tails and segments pushed since the queue was last
    /// empty.
    busy_tail: usize,
    busy_segs: usize,
    /// What recent busy periods needed (the last one, or half the one
    /// before if larger): the first allocations of the next one.
    tail_hint: usize,
    segs_hint: usize,
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

    /// Bytes of memory the queue holds beyond the payloads it references.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.tail_alloc + self.segs.capacity() * core::mem::size_of::<Bytes>()
    }

    /// Appends a frame.
    pub(crate) fn push(&mut self, header: &[u8], payload: Bytes) {
        let total = header.len() + payload.len();
        let copy = payload.len() <= self.coalesce_max;
        let into_tail = if copy { total } else { header.len() };
        if self.tail.capacity() - self.tail.len() < into_tail {
            self.new_tail(into_tail);
        }
        self.tail.extend_from_slice(header);
        if copy {
            self.tail.extend_from_slice(&payload);
        } else {
            let head = self.tail.split().freeze();
            self.push_seg(head);
            self.push_seg(payload);
        }
        self.busy_tail += into_tail;
        self.queued += total;
    }

    /// Starts a tail with room for at least `need` bytes, the current one
    /// (if not empty) becoming a segment.
    fn new_tail(&mut self, need: usize) {
        if !self.tail.is_empty() {
            let full = self.tail.split().freeze();
            self.push_seg(full);
        }
        let size = (2 * self.tail_alloc)
            .max(self.tail_hint)
            .clamp(TAIL_MIN, TAIL_MAX)
            .max(need);
        self.tail = BytesMut::with_capacity(size);
        self.tail_alloc = self.tail.capacity();
    }

    fn push_seg(&mut self, seg: Bytes) {
        if self.segs.capacity() == 0 {
            self.segs.reserve(self.segs_hint);
        }
        self.segs.push_back(seg);
        self.busy_segs += 1;
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
            self.drained();
        }
    }

    /// Everything is written: remember what this busy period needed and
    /// give back what an idle connection should not keep.
    fn drained(&mut self) {
        self.tail_hint = self.busy_tail.max(self.tail_hint / 2);
        self.segs_hint = self.busy_segs.max(self.segs_hint / 2);
        self.busy_tail = 0;
        self.busy_segs = 0;
        if self.tail_alloc > TAIL_KEEP {
            self.tail = BytesMut::new();
            self.tail_alloc = 0;
        } else {
            self.tail.clear();
            // Nothing else refers to the allocation now: start it over.
            let _ = self.tail.try_reclaim(self.tail_alloc);
        }
        if self.segs.capacity() > SEGS_KEEP {
            self.segs = VecDeque::new();
        }
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.segs = VecDeque::new();
        self.tail = BytesMut::new();
        self.tail_alloc = 0;
        self.queued = 0;
        self.busy_tail = 0;
        self.busy_segs = 0;
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

    #[test]
    fn a_drained_queue_holds_at_most_2_kib() {
        let mut q = WriteQueue::new(256);
        // One answer, written: what an idle server connection keeps.
        q.push(&[0; 8], Bytes::from_static(&[1; 10]));
        q.advance(18);
        assert!(q.capacity() <= 2048, "capacity {}", q.capacity());
        // A busy period: 2,000 small frames and 500 large ones queued.
        for i in 0..2000 {
            q.push(&[0; 8], Bytes::from(alloc::vec![1u8; 50]));
            if i % 4 == 0 {
                q.push(&[0; 8], Bytes::from(alloc::vec![2u8; 4096]));
            }
        }
        assert!(q.capacity() > 16 * 1024, "capacity {}", q.capacity());
        q.advance(q.queued());
        assert!(q.is_empty());
        assert!(q.capacity() <= 2048, "capacity {}", q.capacity());
    }

    #[test]
    fn a_busy_connection_coalesces_its_frames_into_one_slice() {
        let mut q = WriteQueue::new(256);
        let burst = |q: &mut WriteQueue| {
            for _ in 0..150 {
                q.push(&[0; 8], Bytes::from(alloc::vec![1u8; 50]));
            }
        };
        // The first burst grows the tail (new slices, no copies); the next
        // ones start with a tail of the size the last one needed.
        burst(&mut q);
        assert!(q.chunks().count() > 1);
        assert_eq!(
            collect(&q),
            [[0; 8].as_slice(), &[1; 50]].concat().repeat(150)
        );
        for _ in 0..3 {
            q.advance(q.queued());
            burst(&mut q);
            assert_eq!(q.chunks().count(), 1);
        }
    }
}
