//! The table of calls awaiting a response, with their deadlines.
//!
//! With an id field, calls are keyed by their wire id ([`keyed`]); without
//! one they are answered in order ([`fifo`]). Each table owns the
//! [`deadlines`] of its calls, and [`recent`] remembers the ids of calls
//! that were cancelled or timed out, so that their late responses are told
//! apart from unknown ones.

pub(crate) mod deadlines;
mod fifo;
mod keyed;
pub(crate) mod recent;

use fifo::FifoTable;
use keyed::KeyedTable;
use recent::RecentIds;

use crate::Timestamp;

/// What a response's id found.
pub(crate) enum Lookup<C> {
    /// A pending call; it is removed.
    Found(u64, C),
    /// A call that was cancelled or timed out.
    Late(u64),
    /// Nothing.
    Unknown(u64),
}

/// The pending calls of one connection.
#[derive(Debug)]
pub(crate) enum Pending<C, T> {
    /// Ids of at most 32 bits.
    Id32(KeyedTable<u32, C, T>),
    /// Wider ids.
    Id64(KeyedTable<u64, C, T>),
    /// No ids: FIFO matching.
    Fifo(FifoTable<C, T>),
}

/// The same call on every table, where each has the same signature.
macro_rules! each {
    ($self:expr, $t:ident => $e:expr) => {
        match $self {
            Pending::Id32($t) => $e,
            Pending::Id64($t) => $e,
            Pending::Fifo($t) => $e,
        }
    };
}

impl<C, T: Timestamp> Pending<C, T> {
    /// An empty table; `epoch` is the connection's creation time.
    pub(crate) fn new(max_id: Option<u64>, epoch: T) -> Self {
        match max_id {
            Some(max_id) if max_id <= u64::from(u32::MAX) => {
                Pending::Id32(KeyedTable::new(max_id, epoch))
            }
            Some(max_id) => Pending::Id64(KeyedTable::new(max_id, epoch)),
            None => Pending::Fifo(FifoTable::new(epoch)),
        }
    }

    /// Calls awaiting a response.
    pub(crate) fn live(&self) -> usize {
        each!(self, t => t.live())
    }

    pub(crate) fn contains(&self, key: u64) -> bool {
        self.get(key).is_some()
    }

    /// The context of a pending call.
    pub(crate) fn get(&self, key: u64) -> Option<&C> {
        each!(self, t => t.get(key))
    }

    /// Picks a free id (the next sequence number without ids).
    pub(crate) fn next_key(&mut self, recent: &RecentIds) -> Option<u64> {
        match self {
            Pending::Id32(t) => t.next_key(recent),
            Pending::Id64(t) => t.next_key(recent),
            Pending::Fifo(t) => Some(t.next_seq()),
        }
    }

    /// Adds a call under `key`, from [`Self::next_key`] or a caller's free
    /// id that fits the table (FIFO: always the next sequence number).
    pub(crate) fn insert(&mut self, key: u64, ctx: C, deadline: Option<T>) {
        match self {
            Pending::Id32(t) => t.insert(key, ctx, deadline),
            Pending::Id64(t) => t.insert(key, ctx, deadline),
            Pending::Fifo(t) => {
                debug_assert_eq!(key, t.next_seq());
                t.push(ctx, deadline)
            }
        }
    }

    /// Matches a response: by its wire id, or in order without ids.
    #[inline]
    pub(crate) fn take_response(&mut self, wire_id: u64, recent: &RecentIds) -> Lookup<C> {
        match self {
            Pending::Id32(t) => t.take_response(wire_id, recent),
            Pending::Id64(t) => t.take_response(wire_id, recent),
            Pending::Fifo(t) => t.pop_front(),
        }
    }

    /// Removes a call for cancellation.
    pub(crate) fn remove(&mut self, key: u64) -> Option<C> {
        each!(self, t => t.remove(key))
    }

    /// Removes and returns the call whose deadline comes first, if it is
    /// due at `now`; calls with equal deadlines go in key order.
    pub(crate) fn pop_due(&mut self, now: T) -> Option<(u64, C)> {
        each!(self, t => t.pop_due(now))
    }

    /// The earliest deadline of a pending call.
    pub(crate) fn next_deadline(&mut self) -> Option<T> {
        each!(self, t => t.next_deadline())
    }

    /// Removes every pending call, oldest first where the order is known.
    /// Without ids the slots stay (empty), so that responses still on the
    /// way are recognised as late.
    pub(crate) fn drain(&mut self, f: impl FnMut(u64, C)) {
        each!(self, t => t.drain(f))
    }

    /// The connection that carried the requests of every call but the
    /// `unsent` ones is gone: removes those calls (oldest first where the
    /// order is known). `unsent` is sorted; without ids (where keys are
    /// sequence numbers) its first key is where the next connection's
    /// responses begin.
    pub(crate) fn drain_sent(&mut self, unsent: &[u64], f: impl FnMut(u64, C)) {
        debug_assert!(unsent.windows(2).all(|w| w[0] <= w[1]));
        let kept = |k: u64| unsent.binary_search(&k).is_ok();
        match self {
            Pending::Id32(t) => t.drain_unless(kept, f),
            Pending::Id64(t) => t.drain_unless(kept, f),
            Pending::Fifo(t) => t.drain_before(unsent.first().copied(), f),
        }
    }

    /// Drops every call and what is kept for late responses (the
    /// connection has ended: no response can come).
    pub(crate) fn clear(&mut self) {
        self.drain(|_, _| {});
        if let Pending::Fifo(t) = self {
            t.forget_slots();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    type P = Pending<u32, Duration>;

    #[test]
    fn automatic_ids_skip_pending_and_recently_abandoned_ids() {
        let mut recent = RecentIds::new(8);
        let mut p = P::new(Some(3), Duration::ZERO);
        let a = p.next_key(&recent).unwrap();
        p.insert(a, 0, None);
        recent.insert(1);
        let b = p.next_key(&recent).unwrap();
        assert_eq!((a, b), (0, 2));
    }

    #[test]
    fn automatic_ids_reuse_abandoned_ids_when_nothing_else_is_free() {
        let mut recent = RecentIds::new(8);
        let mut p = P::new(Some(1), Duration::ZERO);
        let a = p.next_key(&recent).unwrap();
        p.insert(a, 0, None);
        recent.insert(1);
        assert_eq!(p.next_key(&recent), Some(1));
        p.insert(1, 1, None);
        assert_eq!(p.next_key(&recent), None);
    }

    #[test]
    fn fifo_keeps_cancelled_slots_so_their_responses_are_late() {
        let recent = RecentIds::new(0);
        let mut p = P::new(None, Duration::ZERO);
        for i in 0..3 {
            let k = p.next_key(&recent).unwrap();
            assert_eq!(k, i);
            p.insert(k, i as u32, None);
        }
        assert_eq!(p.remove(1), Some(1));
        assert!(matches!(p.take_response(99, &recent), Lookup::Found(0, _)));
        assert!(matches!(p.take_response(99, &recent), Lookup::Late(1)));
        assert!(matches!(p.take_response(99, &recent), Lookup::Found(2, _)));
        assert!(matches!(p.take_response(99, &recent), Lookup::Unknown(3)));
        assert_eq!(p.live(), 0);
    }

    #[test]
    fn ids_beyond_32_bits_are_not_found_in_a_32_bit_table() {
        let mut p = P::new(Some(u64::from(u32::MAX)), Duration::ZERO);
        p.insert(7, 7, None);
        assert!(p.contains(7));
        assert!(!p.contains(7 + (1 << 32)));
        assert_eq!(p.remove(7 + (1 << 32)), None);
    }

    #[test]
    fn a_reused_key_fires_only_its_own_deadline() {
        let ms = Duration::from_millis;
        let mut p = P::new(Some(100), Duration::ZERO);
        p.insert(5, 1, Some(ms(10)));
        assert_eq!(p.remove(5), Some(1));
        p.insert(5, 2, Some(ms(20)));
        assert_eq!(p.next_deadline(), Some(ms(20)));
        assert!(p.pop_due(ms(15)).is_none());
        assert_eq!(p.pop_due(ms(20)), Some((5, 2)));
        assert_eq!(p.next_deadline(), None);
    }

    #[test]
    fn deadlines_that_do_not_fit_in_nanoseconds_stay_exact() {
        let mut p = P::new(Some(100), Duration::from_secs(1));
        p.insert(1, 1, Some(Duration::MAX));
        p.insert(2, 2, Some(Duration::ZERO));
        p.insert(3, 3, Some(Duration::from_secs(2)));
        assert_eq!(p.next_deadline(), Some(Duration::ZERO));
        assert_eq!(p.pop_due(Duration::from_secs(2)), Some((2, 2)));
        assert_eq!(p.pop_due(Duration::from_secs(2)), Some((3, 3)));
        assert_eq!(p.next_deadline(), Some(Duration::MAX));
        assert_eq!(p.pop_due(Duration::MAX), Some((1, 1)));
    }

    #[test]
    fn running_out_of_stamps_renumbers_live_calls_and_drops_stale_ones() {
        let ms = Duration::from_millis;
        let mut p = P::new(Some(100), Duration::ZERO);
        let Pending::Id32(t) = &mut p else {
            unreachable!()
        };
        t.deadlines.skip_stamps_to(u32::MAX - 2);
        p.insert(1, 1, Some(ms(10)));
        p.insert(2, 2, Some(ms(20)));
        assert_eq!(p.remove(1), Some(1));
        // Stamps are used up: the next timed call renumbers.
        p.insert(1, 3, Some(ms(30)));
        p.insert(4, 4, Some(ms(5)));
        assert_eq!(p.pop_due(ms(100)), Some((4, 4)));
        assert_eq!(p.pop_due(ms(100)), Some((2, 2)));
        assert_eq!(p.pop_due(ms(100)), Some((1, 3)));
        assert_eq!(p.pop_due(ms(100)), None);
    }
}
