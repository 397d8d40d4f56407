//! Pending calls keyed by their wire id, in a hash table.
//!
//! With ids of at most 32 bits the key is a `u32`, so a slot is the key, a
//! timer stamp and the caller's context, and a deadline entry 16 bytes.

use alloc::vec::Vec;
use core::hash::BuildHasher;
use hashbrown::{DefaultHashBuilder, HashTable};

use super::deadlines::{Deadlines, Slots, NO_TIMER};
use super::recent::RecentIds;
use super::Lookup;
use crate::Timestamp;

/// A key type of the keyed table (4-byte ids or 8-byte ids).
pub(crate) trait Key: Copy + Ord + core::hash::Hash + core::fmt::Debug {
    /// The key of a wire id, if it fits.
    fn try_from_u64(v: u64) -> Option<Self>;
    /// The wire id.
    fn get(self) -> u64;
}

impl Key for u32 {
    #[inline]
    fn try_from_u64(v: u64) -> Option<Self> {
        u32::try_from(v).ok()
    }
    #[inline]
    fn get(self) -> u64 {
        u64::from(self)
    }
}

impl Key for u64 {
    #[inline]
    fn try_from_u64(v: u64) -> Option<Self> {
        Some(v)
    }
    #[inline]
    fn get(self) -> u64 {
        self
    }
}

/// One pending call.
#[derive(Debug)]
struct Slot<K, C> {
    key: K,
    /// Its deadline entry's stamp, or [`NO_TIMER`].
    stamp: u32,
    ctx: C,
}

/// The hash table as the deadlines see it.
struct Table<'a, K, C> {
    map: &'a mut HashTable<Slot<K, C>>,
    hasher: &'a DefaultHashBuilder,
}

impl<K: Key, C> Slots<K> for Table<'_, K, C> {
    #[inline]
    fn holds(&self, key: K, stamp: u32) -> bool {
        self.map
            .find(self.hasher.hash_one(key), |s| s.key == key)
            .is_some_and(|s| s.stamp == stamp)
    }

    fn restamp(&mut self, key: K, stamp: u32) {
        if let Some(slot) = self
            .map
            .find_mut(self.hasher.hash_one(key), |s| s.key == key)
        {
            slot.stamp = stamp;
        }
    }
}

/// Calls keyed by wire id.
#[derive(Debug)]
pub(crate) struct KeyedTable<K, C, T> {
    map: HashTable<Slot<K, C>>,
    hasher: DefaultHashBuilder,
    next_id: u64,
    max_id: u64,
    pub(super) deadlines: Deadlines<T, K>,
}

impl<K: Key, C, T: Timestamp> KeyedTable<K, C, T> {
    pub(super) fn new(max_id: u64, epoch: T) -> Self {
        KeyedTable {
            map: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            next_id: 0,
            max_id,
            deadlines: Deadlines::new(epoch),
        }
    }

    pub(super) fn live(&self) -> usize {
        self.map.len()
    }

    #[inline]
    fn find(&self, key: u64) -> Option<&Slot<K, C>> {
        let k = K::try_from_u64(key)?;
        self.map.find(self.hasher.hash_one(k), |s| s.key == k)
    }

    pub(super) fn get(&self, key: u64) -> Option<&C> {
        self.find(key).map(|s| &s.ctx)
    }

    /// A free id: not pending, and for as long as another id is free, not
    /// recently abandoned (its late response may still come).
    ///
    /// Searches from a cursor that goes round the id space; when every free
    /// id is remembered, the search comes back to the first one it skipped
    /// and takes it.
    pub(super) fn next_key(&mut self, recent: &RecentIds) -> Option<u64> {
        if self.map.len() as u128 > u128::from(self.max_id) {
            return None;
        }
        // Only remembered ids count towards giving up on a fresh one:
        // pending ids are never free, whatever their number.
        let mut first_remembered = None;
        loop {
            let id = self.next_id;
            self.next_id = if id == self.max_id { 0 } else { id + 1 };
            if self.find(id).is_some() {
                continue;
            }
            if !recent.contains(id) || first_remembered == Some(id) {
                return Some(id);
            }
            first_remembered.get_or_insert(id);
        }
    }

    /// Adds a call under a free `key` that fits the table.
    pub(super) fn insert(&mut self, key: u64, ctx: C, deadline: Option<T>) {
        let Some(k) = K::try_from_u64(key) else {
            debug_assert!(false, "key {key} does not fit the table");
            return;
        };
        let mut table = Table {
            map: &mut self.map,
            hasher: &self.hasher,
        };
        let stamp = match deadline {
            Some(at) => self.deadlines.push(at, k, &mut table),
            None => NO_TIMER,
        };
        let hasher = &self.hasher;
        self.map
            .insert_unique(hasher.hash_one(k), Slot { key: k, stamp, ctx }, |s| {
                hasher.hash_one(s.key)
            });
    }

    /// Removes the call under `key`; its deadline entry becomes stale.
    #[inline]
    pub(super) fn remove(&mut self, key: u64) -> Option<C> {
        let k = K::try_from_u64(key)?;
        let entry = self
            .map
            .find_entry(self.hasher.hash_one(k), |s| s.key == k)
            .ok()?;
        let slot = entry.remove().0;
        if slot.stamp != NO_TIMER {
            self.deadlines.forget_one();
        }
        Some(slot.ctx)
    }

    /// Matches a response by its wire id.
    #[inline]
    pub(super) fn take_response(&mut self, wire_id: u64, recent: &RecentIds) -> Lookup<C> {
        match self.remove(wire_id) {
            Some(ctx) => Lookup::Found(wire_id, ctx),
            None if recent.contains(wire_id) => Lookup::Late(wire_id),
            None => Lookup::Unknown(wire_id),
        }
    }

    pub(super) fn pop_due(&mut self, now: T) -> Option<(u64, C)> {
        let table = Table {
            map: &mut self.map,
            hasher: &self.hasher,
        };
        let k = self.deadlines.pop_due(now, &table)?;
        let entry = self
            .map
            .find_entry(self.hasher.hash_one(k), |s| s.key == k)
            .ok()?;
        Some((k.get(), entry.remove().0.ctx))
    }

    pub(super) fn next_deadline(&mut self) -> Option<T> {
        let table = Table {
            map: &mut self.map,
            hasher: &self.hasher,
        };
        self.deadlines.peek(&table).map(|(at, _)| at)
    }

    /// Removes every call whose key `keep` refuses, in key order.
    pub(super) fn drain_unless(&mut self, keep: impl Fn(u64) -> bool, f: impl FnMut(u64, C)) {
        let gone: Vec<_> = self.map.extract_if(|s| !keep(s.key.get())).collect();
        for slot in &gone {
            if slot.stamp != NO_TIMER {
                self.deadlines.forget_one();
            }
        }
        in_key_order(gone, f);
    }

    /// Removes every call, in key order.
    pub(super) fn drain(&mut self, f: impl FnMut(u64, C)) {
        let gone: Vec<_> = self.map.drain().collect();
        self.deadlines.clear();
        in_key_order(gone, f);
    }
}

/// Hands `slots` to `f` sorted by key: the table's own order follows its
/// randomly seeded hasher, and the same inputs must give the same events
/// in the same order (a simulation replays a seed by it).
fn in_key_order<K: Key, C>(mut slots: Vec<Slot<K, C>>, mut f: impl FnMut(u64, C)) {
    slots.sort_unstable_by_key(|s| s.key);
    for slot in slots {
        f(slot.key.get(), slot.ctx);
    }
}
