//! The table of calls awaiting a response, with their deadlines.
//!
//! With an id field, calls are keyed by their wire id in a hash table
//! (4-byte keys when the id field allows, so a slot is the key, a timer
//! stamp and the caller's context). Without one, calls are answered in
//! order, so they live in a queue whose front is the next response; a
//! cancelled or timed-out call stays there as an empty slot, so its
//! response, when it comes, is recognised as late instead of completing the
//! next call. Each table owns the [`Deadlines`] of its calls.

use alloc::collections::VecDeque;
use core::hash::BuildHasher;
use hashbrown::{DefaultHashBuilder, HashTable};

use crate::recent::RecentIds;
use crate::timer::{Deadlines, Key, NO_TIMER};
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

/// One pending call of a keyed table.
#[derive(Debug)]
struct Slot<K, C> {
    key: K,
    /// Its deadline entry's stamp, or [`NO_TIMER`].
    stamp: u32,
    ctx: C,
}

/// Calls keyed by wire id.
#[derive(Debug)]
pub(crate) struct IdTable<K, C, T> {
    map: HashTable<Slot<K, C>>,
    hasher: DefaultHashBuilder,
    next_id: u64,
    max_id: u64,
    deadlines: Deadlines<T, K>,
}

/// One pending call of the FIFO table.
#[derive(Debug)]
struct FifoSlot<C> {
    stamp: u32,
    ctx: C,
}

/// Calls answered in order (no id field).
#[derive(Debug)]
pub(crate) struct FifoTable<C, T> {
    slots: VecDeque<Option<FifoSlot<C>>>,
    /// Sequence number of `slots[0]`.
    base: u64,
    live: usize,
    deadlines: Deadlines<T, u64>,
}

#[derive(Debug)]
pub(crate) enum Pending<C, T> {
    /// Ids of at most 32 bits.
    Id32(IdTable<u32, C, T>),
    /// Wider ids.
    Id64(IdTable<u64, C, T>),
    /// No ids: FIFO matching.
    Fifo(FifoTable<C, T>),
}

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
                Pending::Id32(IdTable::new(max_id, epoch))
            }
            Some(max_id) => Pending::Id64(IdTable::new(max_id, epoch)),
            None => Pending::Fifo(FifoTable {
                slots: VecDeque::new(),
                base: 0,
                live: 0,
                deadlines: Deadlines::new(epoch),
            }),
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

    /// Picks a free id (or the next sequence number without ids).
    pub(crate) fn next_key(&mut self, recent: &RecentIds) -> Option<u64> {
        match self {
            Pending::Id32(t) => t.next_key(recent),
            Pending::Id64(t) => t.next_key(recent),
            Pending::Fifo(t) => Some(t.base + t.slots.len() as u64),
        }
    }

    /// Adds a call (its key free, and fitting the table).
    pub(crate) fn insert(&mut self, key: u64, ctx: C, deadline: Option<T>) {
        each!(self, t => t.insert(key, ctx, deadline))
    }

    /// Matches a response.
    #[inline]
    pub(crate) fn take_response(&mut self, wire_id: u64, recent: &RecentIds) -> Lookup<C> {
        each!(self, t => t.take_response(wire_id, recent))
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

    /// Forgets every deadline (nothing is pending any more).
    pub(crate) fn clear_deadlines(&mut self) {
        each!(self, t => t.deadlines.clear())
    }

    /// Removes every pending call, oldest first where the order is known.
    /// Without ids, the slots stay (empty) so that responses still on the
    /// way are recognised as late, unless `forget` is set.
    pub(crate) fn drain(&mut self, forget: bool, f: impl FnMut(u64, C)) {
        each!(self, t => t.drain(forget, f))
    }
}

/// Whether `(key, stamp)` is the deadline entry of a pending call.
#[inline]
fn slot_is<K: Key, C>(
    map: &HashTable<Slot<K, C>>,
    hasher: &DefaultHashBuilder,
    key: K,
    stamp: u32,
) -> bool {
    map.find(hasher.hash_one(key), |s| s.key == key)
        .is_some_and(|s| s.stamp == stamp)
}

impl<K: Key, C, T: Timestamp> IdTable<K, C, T> {
    fn new(max_id: u64, epoch: T) -> Self {
        IdTable {
            map: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            next_id: 0,
            max_id,
            deadlines: Deadlines::new(epoch),
        }
    }

    fn live(&self) -> usize {
        self.map.len()
    }

    #[inline]
    fn find(&self, key: u64) -> Option<&Slot<K, C>> {
        let k = K::try_from_u64(key)?;
        self.map.find(self.hasher.hash_one(k), |s| s.key == k)
    }

    fn get(&self, key: u64) -> Option<&C> {
        self.find(key).map(|s| &s.ctx)
    }

    fn next_key(&mut self, recent: &RecentIds) -> Option<u64> {
        if self.map.len() as u128 > u128::from(self.max_id) {
            return None;
        }
        // Skip pending ids, and for as long as another id is free,
        // recently abandoned ones whose late response may still come.
        let mut tries = 0usize;
        loop {
            let id = self.next_id;
            self.next_id = if id == self.max_id { 0 } else { id + 1 };
            if self.find(id).is_none() && (tries > recent.len() || !recent.contains(id)) {
                return Some(id);
            }
            tries += 1;
        }
    }

    fn insert(&mut self, key: u64, ctx: C, deadline: Option<T>) {
        let Some(k) = K::try_from_u64(key) else {
            debug_assert!(false, "key {key} does not fit the table");
            return;
        };
        let Self {
            map,
            hasher,
            deadlines,
            ..
        } = self;
        let stamp = match deadline {
            Some(at) => {
                deadlines.maybe_compact(|k, s| slot_is(map, hasher, k, s));
                if deadlines.needs_restamp() {
                    deadlines.retain_live(|k, s| slot_is(map, hasher, k, s));
                    deadlines.restamp(|k, s| {
                        if let Some(slot) = map.find_mut(hasher.hash_one(k), |x| x.key == k) {
                            slot.stamp = s;
                        }
                    });
                }
                deadlines.push(at, k)
            }
            None => NO_TIMER,
        };
        map.insert_unique(hasher.hash_one(k), Slot { key: k, stamp, ctx }, |s| {
            hasher.hash_one(s.key)
        });
    }

    /// Removes the slot under `key`, without touching the deadlines.
    #[inline]
    fn take(&mut self, key: u64) -> Option<Slot<K, C>> {
        let k = K::try_from_u64(key)?;
        let hash = self.hasher.hash_one(k);
        let entry = self.map.find_entry(hash, |s| s.key == k).ok()?;
        Some(entry.remove().0)
    }

    #[inline]
    fn take_response(&mut self, wire_id: u64, recent: &RecentIds) -> Lookup<C> {
        match self.take(wire_id) {
            Some(slot) => {
                if slot.stamp != NO_TIMER {
                    self.deadlines.forget_one();
                }
                Lookup::Found(wire_id, slot.ctx)
            }
            None if recent.contains(wire_id) => Lookup::Late(wire_id),
            None => Lookup::Unknown(wire_id),
        }
    }

    fn remove(&mut self, key: u64) -> Option<C> {
        let slot = self.take(key)?;
        if slot.stamp != NO_TIMER {
            self.deadlines.forget_one();
        }
        Some(slot.ctx)
    }

    fn pop_due(&mut self, now: T) -> Option<(u64, C)> {
        let Self {
            map,
            hasher,
            deadlines,
            ..
        } = self;
        let k = deadlines.pop_due(now, |k, s| slot_is(map, hasher, k, s))?;
        let slot = self.take(k.get())?;
        Some((k.get(), slot.ctx))
    }

    fn next_deadline(&mut self) -> Option<T> {
        let Self {
            map,
            hasher,
            deadlines,
            ..
        } = self;
        deadlines
            .peek(|k, s| slot_is(map, hasher, k, s))
            .map(|(at, _)| at)
    }

    fn drain(&mut self, _forget: bool, mut f: impl FnMut(u64, C)) {
        for slot in self.map.drain() {
            f(slot.key.get(), slot.ctx);
        }
        self.deadlines.clear();
    }
}

/// Whether `(key, stamp)` is the deadline entry of a pending FIFO call.
#[inline]
fn fifo_is<C>(slots: &VecDeque<Option<FifoSlot<C>>>, base: u64, key: u64, stamp: u32) -> bool {
    fifo_index(base, key)
        .and_then(|i| slots.get(i))
        .and_then(Option::as_ref)
        .is_some_and(|s| s.stamp == stamp)
}

fn fifo_index(base: u64, key: u64) -> Option<usize> {
    usize::try_from(key.checked_sub(base)?).ok()
}

impl<C, T: Timestamp> FifoTable<C, T> {
    fn live(&self) -> usize {
        self.live
    }

    fn get(&self, key: u64) -> Option<&C> {
        let i = fifo_index(self.base, key)?;
        self.slots.get(i)?.as_ref().map(|s| &s.ctx)
    }

    fn insert(&mut self, _key: u64, ctx: C, deadline: Option<T>) {
        let key = self.base + self.slots.len() as u64;
        let Self {
            slots,
            base,
            deadlines,
            ..
        } = self;
        let stamp = match deadline {
            Some(at) => {
                deadlines.maybe_compact(|k, s| fifo_is(slots, *base, k, s));
                if deadlines.needs_restamp() {
                    deadlines.retain_live(|k, s| fifo_is(slots, *base, k, s));
                    deadlines.restamp(|k, s| {
                        if let Some(Some(slot)) =
                            fifo_index(*base, k).and_then(|i| slots.get_mut(i))
                        {
                            slot.stamp = s;
                        }
                    });
                }
                deadlines.push(at, key)
            }
            None => NO_TIMER,
        };
        slots.push_back(Some(FifoSlot { stamp, ctx }));
        self.live += 1;
    }

    fn take_response(&mut self, _wire_id: u64, _recent: &RecentIds) -> Lookup<C> {
        match self.slots.pop_front() {
            Some(slot) => {
                let key = self.base;
                self.base += 1;
                match slot {
                    Some(s) => {
                        self.live -= 1;
                        if s.stamp != NO_TIMER {
                            self.deadlines.forget_one();
                        }
                        Lookup::Found(key, s.ctx)
                    }
                    None => Lookup::Late(key),
                }
            }
            None => Lookup::Unknown(self.base),
        }
    }

    /// Empties the slot under `key`, without touching the deadlines.
    fn take(&mut self, key: u64) -> Option<FifoSlot<C>> {
        let i = fifo_index(self.base, key)?;
        let s = self.slots.get_mut(i)?.take()?;
        self.live -= 1;
        Some(s)
    }

    fn remove(&mut self, key: u64) -> Option<C> {
        let s = self.take(key)?;
        if s.stamp != NO_TIMER {
            self.deadlines.forget_one();
        }
        Some(s.ctx)
    }

    fn pop_due(&mut self, now: T) -> Option<(u64, C)> {
        let (slots, base) = (&self.slots, self.base);
        let key = self
            .deadlines
            .pop_due(now, |k, s| fifo_is(slots, base, k, s))?;
        let s = self.take(key)?;
        Some((key, s.ctx))
    }

    fn next_deadline(&mut self) -> Option<T> {
        let (slots, base) = (&self.slots, self.base);
        self.deadlines
            .peek(|k, s| fifo_is(slots, base, k, s))
            .map(|(at, _)| at)
    }

    fn drain(&mut self, forget: bool, mut f: impl FnMut(u64, C)) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Some(s) = slot.take() {
                f(self.base + i as u64, s.ctx);
            }
        }
        self.live = 0;
        if forget {
            self.base += self.slots.len() as u64;
            self.slots.clear();
        }
        self.deadlines.clear();
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
        t.deadlines.skip_stamps_to(NO_TIMER - 2);
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
