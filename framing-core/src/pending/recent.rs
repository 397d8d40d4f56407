//! A bounded memory of ids whose calls were cancelled or timed out.
//!
//! Every abandonment is a record, numbered in order; an id is remembered
//! while its latest record is among the last `cap`. Records of an id that
//! was abandoned again, or reused on purpose, stay in the queue until
//! their turn comes, and are then recognised by their number: they never
//! make the memory forget an id that a later record keeps.

use alloc::collections::VecDeque;
use hashbrown::HashMap;

#[derive(Debug)]
pub(crate) struct RecentIds {
    /// The last `cap` records, oldest first; the front is record number
    /// `popped`.
    order: VecDeque<u64>,
    /// Each remembered id and the number of its latest record.
    set: HashMap<u64, u64>,
    /// Records dropped from the front so far.
    popped: u64,
    cap: usize,
}

impl RecentIds {
    pub(crate) fn new(cap: usize) -> Self {
        RecentIds {
            order: VecDeque::new(),
            set: HashMap::default(),
            popped: 0,
            cap,
        }
    }

    #[inline]
    pub(crate) fn contains(&self, id: u64) -> bool {
        !self.set.is_empty() && self.set.contains_key(&id)
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
                if self.set.get(&old) == Some(&self.popped) {
                    self.set.remove(&old);
                }
                self.popped += 1;
            }
        }
        let number = self.popped + self.order.len() as u64;
        self.set.insert(id, number);
        self.order.push_back(id);
    }

    /// Forgets an id (the caller reuses it on purpose).
    pub(crate) fn remove(&mut self, id: u64) {
        self.set.remove(&id);
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
