//! A bounded memory of ids whose calls were cancelled or timed out.
//!
//! Every abandonment is a record in a queue of at most `cap`; an id is
//! remembered while its latest record is in the queue (and the caller has
//! not reused it since). An id abandoned again, or reused on purpose,
//! leaves older records in the queue; they are counted in `extra`, so that
//! when one of them leaves the queue it does not make the memory forget
//! the id while a later record keeps it.

use alloc::collections::VecDeque;
use hashbrown::{HashMap, HashSet};

#[derive(Debug)]
pub(crate) struct RecentIds {
    /// The last `cap` abandonments, oldest first.
    order: VecDeque<u64>,
    /// The remembered ids.
    set: HashSet<u64>,
    /// For ids with records in `order` that do not make them remembered
    /// (all of an id's records but its latest, and all of them once the
    /// caller reused it): how many. Empty unless ids are abandoned twice
    /// within `cap` abandonments or reused.
    extra: HashMap<u64, u32>,
    cap: usize,
}

impl RecentIds {
    pub(crate) fn new(cap: usize) -> Self {
        RecentIds {
            order: VecDeque::new(),
            set: HashSet::default(),
            extra: HashMap::default(),
            cap,
        }
    }

    #[inline]
    pub(crate) fn contains(&self, id: u64) -> bool {
        !self.set.is_empty() && self.set.contains(&id)
    }

    /// Remembers an abandonment of `id`, forgetting ids whose latest
    /// abandonment falls out of the last `cap`.
    pub(crate) fn insert(&mut self, id: u64) {
        if self.cap == 0 {
            return;
        }
        // Make room first, so the queue never holds more than `cap`.
        if self.order.len() == self.cap {
            if let Some(old) = self.order.pop_front() {
                self.forget_record(old);
            }
        }
        if !self.set.insert(id) {
            // Its previous record no longer decides when it is forgotten.
            *self.extra.entry(id).or_insert(0) += 1;
        }
        self.order.push_back(id);
    }

    /// The oldest record, of `id`, left the queue.
    fn forget_record(&mut self, id: u64) {
        if let Some(n) = self.extra.get_mut(&id) {
            // Records leave oldest first: an extra one goes before the
            // latest.
            *n -= 1;
            if *n == 0 {
                self.extra.remove(&id);
            }
        } else {
            self.set.remove(&id);
        }
    }

    /// Forgets an id (the caller reuses it on purpose).
    pub(crate) fn remove(&mut self, id: u64) {
        if self.set.remove(&id) {
            // Its latest record stays queued, now without effect.
            *self.extra.entry(id).or_insert(0) += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_oldest_beyond_capacity() {
        let mut r = RecentIds::new(2);
        r.insert(1);
        r.insert(2);
        r.insert(3);
        assert!(!r.contains(1));
        assert!(r.contains(2) && r.contains(3));
        assert_eq!(r.set.len(), 2);
    }
}
