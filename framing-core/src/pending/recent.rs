//! A bounded memory of ids whose calls were cancelled or timed out.

use alloc::collections::VecDeque;
use hashbrown::HashSet;

#[derive(Debug)]
pub(crate) struct RecentIds {
    order: VecDeque<u64>,
    set: HashSet<u64>,
    cap: usize,
}

impl RecentIds {
    pub(crate) fn new(cap: usize) -> Self {
        RecentIds {
            order: VecDeque::new(),
            set: HashSet::default(),
            cap,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }

    #[inline]
    pub(crate) fn contains(&self, id: u64) -> bool {
        !self.set.is_empty() && self.set.contains(&id)
    }

    /// Remembers an id, forgetting the oldest beyond the capacity.
    pub(crate) fn insert(&mut self, id: u64) {
        if self.cap == 0 || !self.set.insert(id) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
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
        assert_eq!(r.len(), 2);
    }
}
