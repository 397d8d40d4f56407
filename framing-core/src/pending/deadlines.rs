//! Per-call deadlines: a compact min-heap with lazy deletion.
//!
//! An entry is `(deadline, key, stamp)`. Each timed call gets a stamp that
//! no other entry in the heap carries, and its table slot keeps it; a call
//! that ends early leaves its entry behind, recognised as stale when the
//! slot under that key no longer holds that stamp. The heap is rebuilt
//! when stale entries outnumber live ones, so its size stays proportional
//! to the pending calls with deadlines. Cost: O(log n) per call, O(1)
//! amortised cleanup, no scan per poll.
//!
//! Deadlines are stored as `u64` nanoseconds since the connection's epoch
//! (16-byte entries with 4-byte keys). A deadline that this cannot express
//! exactly (before the epoch, or centuries ahead) goes to a second heap
//! that keeps the timestamp itself, so firing times and order are exact.

use alloc::collections::BinaryHeap;
use core::cmp::Reverse;
use core::time::Duration;

use crate::Timestamp;

/// Stamp of a call without a deadline; never handed out.
pub(crate) const NO_TIMER: u32 = u32::MAX;

/// The table's side of the deadlines: which `(key, stamp)` entries belong
/// to a pending call, and how to move a call to a new stamp.
pub(crate) trait Slots<K> {
    /// Whether the call under `key` is pending and keeps `stamp`.
    fn holds(&self, key: K, stamp: u32) -> bool;
    /// Gives the call under `key` a new stamp (when stamps are renumbered).
    fn restamp(&mut self, key: K, stamp: u32);
}

/// Field order gives the firing order: deadline, then key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Near<K> {
    at: u64,
    key: K,
    stamp: u32,
}

#[derive(Debug)]
pub(crate) struct Deadlines<T, K> {
    epoch: T,
    near: BinaryHeap<Reverse<Near<K>>>,
    far: BinaryHeap<Reverse<(T, K, u32)>>,
    next_stamp: u32,
    /// Entries whose call is still pending.
    live: usize,
}

impl<T: Timestamp, K: Copy + Ord> Deadlines<T, K> {
    pub(crate) fn new(epoch: T) -> Self {
        Deadlines {
            epoch,
            near: BinaryHeap::new(),
            far: BinaryHeap::new(),
            next_stamp: 0,
            live: 0,
        }
    }

    fn len(&self) -> usize {
        self.near.len() + self.far.len()
    }

    /// Adds a deadline for `key`, returning the stamp its slot must keep.
    /// Stale entries are dropped first once they outnumber live ones, and
    /// the stamps are renumbered when they run out, so the heap's size
    /// stays proportional to the pending timed calls.
    pub(crate) fn push(&mut self, at: T, key: K, slots: &mut impl Slots<K>) -> u32 {
        if self.len() > 2 * self.live + 1024 {
            self.retain_live(slots);
            self.near
                .shrink_to(self.near.len() + self.near.len() / 8 + 64);
        }
        if self.next_stamp == NO_TIMER {
            self.retain_live(slots);
            self.restamp(slots);
        }
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.live += 1;
        let off = at.saturating_duration_since(self.epoch);
        match u64::try_from(off.as_nanos()) {
            Ok(ns) if self.epoch.add_duration(Duration::from_nanos(ns)) == at => {
                if self.near.len() == self.near.capacity() {
                    // Grow by an eighth, not double: the heap is most of the
                    // memory of a timed call.
                    self.near.reserve_exact(self.near.len() / 8 + 64);
                }
                self.near.push(Reverse(Near { at: ns, key, stamp }));
            }
            _ => self.far.push(Reverse((at, key, stamp))),
        }
        stamp
    }

    /// A timed call ended without firing (its entry is now stale).
    pub(crate) fn forget_one(&mut self) {
        self.live -= 1;
    }

    fn near_at(&self, ns: u64) -> T {
        self.epoch.add_duration(Duration::from_nanos(ns))
    }

    /// The earliest live entry, dropping stale ones from the tops.
    pub(crate) fn peek(&mut self, slots: &impl Slots<K>) -> Option<(T, K)> {
        while let Some(Reverse(n)) = self.near.peek() {
            if slots.holds(n.key, n.stamp) {
                break;
            }
            self.near.pop();
        }
        while let Some(Reverse((_, key, stamp))) = self.far.peek() {
            if slots.holds(*key, *stamp) {
                break;
            }
            self.far.pop();
        }
        let near = self
            .near
            .peek()
            .map(|Reverse(n)| (self.near_at(n.at), n.key));
        let far = self.far.peek().map(|Reverse((at, key, _))| (*at, *key));
        match (near, far) {
            (Some(n), Some(f)) => Some(n.min(f)),
            (n, f) => n.or(f),
        }
    }

    /// Removes and returns the earliest live entry if it is due at `now`.
    /// The caller then removes the call from its table.
    pub(crate) fn pop_due(&mut self, now: T, slots: &impl Slots<K>) -> Option<K> {
        let (at, key) = self.peek(slots)?;
        if at > now {
            return None;
        }
        let from_near = self
            .near
            .peek()
            .is_some_and(|Reverse(n)| n.key == key && self.near_at(n.at) == at);
        if from_near {
            self.near.pop();
        } else {
            self.far.pop();
        }
        self.live -= 1;
        Some(key)
    }

    /// Drops every stale entry.
    fn retain_live(&mut self, slots: &impl Slots<K>) {
        self.near.retain(|Reverse(n)| slots.holds(n.key, n.stamp));
        self.far.retain(|Reverse((_, k, s))| slots.holds(*k, *s));
    }

    /// Gives the entries fresh stamps `0..n` and moves their calls to them.
    /// Called after [`Self::retain_live`], so that a new stamp never makes
    /// a stale entry look live.
    fn restamp(&mut self, slots: &mut impl Slots<K>) {
        let mut next = 0u32;
        let mut near = core::mem::take(&mut self.near).into_vec();
        for Reverse(n) in &mut near {
            n.stamp = next;
            slots.restamp(n.key, next);
            next += 1;
        }
        let mut far = core::mem::take(&mut self.far).into_vec();
        for Reverse((_, k, s)) in &mut far {
            *s = next;
            slots.restamp(*k, next);
            next += 1;
        }
        // Same order keys, so the heap property still holds; rebuilding is
        // cheap and keeps this obviously right.
        self.near = near.into();
        self.far = far.into();
        self.next_stamp = next;
        self.live = self.len();
    }

    /// Test hook: pretend most stamps were handed out.
    #[cfg(test)]
    pub(crate) fn skip_stamps_to(&mut self, next: u32) {
        self.next_stamp = next;
    }

    pub(crate) fn clear(&mut self) {
        self.near = BinaryHeap::new();
        self.far.clear();
        self.live = 0;
    }
}
