//! Per-call deadlines: a min-heap with lazy deletion.
//!
//! An entry is `(deadline, key)`. A call that completes early leaves its
//! entry behind; when the entry reaches the top it is dropped unless the
//! call now under that key has exactly that deadline, which is precisely
//! when firing it is right. The heap is rebuilt when stale entries
//! outnumber live ones, so its size stays proportional to the pending
//! calls with deadlines. Cost: O(log n) per call, O(1) amortised cleanup.

use alloc::collections::BinaryHeap;
use core::cmp::Reverse;

#[derive(Debug)]
pub(crate) struct Deadlines<T> {
    heap: BinaryHeap<Reverse<(T, u64)>>,
}

impl<T: Ord + Copy> Deadlines<T> {
    pub(crate) fn new() -> Self {
        Deadlines {
            heap: BinaryHeap::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn push(&mut self, at: T, key: u64) {
        self.heap.push(Reverse((at, key)));
    }

    pub(crate) fn peek(&self) -> Option<(T, u64)> {
        self.heap.peek().map(|r| r.0)
    }

    pub(crate) fn pop(&mut self) {
        self.heap.pop();
    }

    /// Keeps only the entries for which `live` holds.
    pub(crate) fn retain(&mut self, mut live: impl FnMut(T, u64) -> bool) {
        self.heap.retain(|r| live(r.0 .0, r.0 .1));
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }
}
