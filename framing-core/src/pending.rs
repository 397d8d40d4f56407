//! The table of calls awaiting a response.
//!
//! With an id field, calls are keyed by their wire id in a hash table.
//! Without one, calls are answered in order, so they live in a queue whose
//! front is the next response; a cancelled or timed-out call stays there as
//! an empty slot, so its response, when it comes, is recognised as late
//! instead of completing the next call.

use alloc::collections::VecDeque;
use hashbrown::HashMap;

use crate::recent::RecentIds;

/// One pending call: the caller's context and its deadline.
#[derive(Debug)]
pub(crate) struct Entry<C, T> {
    pub(crate) ctx: C,
    pub(crate) deadline: Option<T>,
}

/// What a response's id found.
pub(crate) enum Lookup<C, T> {
    /// A pending call; it is removed.
    Found(u64, Entry<C, T>),
    /// A call that was cancelled or timed out.
    Late(u64),
    /// Nothing.
    Unknown(u64),
}

#[derive(Debug)]
pub(crate) enum Pending<C, T> {
    ById {
        map: HashMap<u64, Entry<C, T>>,
        next_id: u64,
        max_id: u64,
    },
    Fifo {
        slots: VecDeque<Option<Entry<C, T>>>,
        /// Sequence number of `slots[0]`.
        base: u64,
        live: usize,
    },
}

impl<C, T: Copy + PartialEq> Pending<C, T> {
    pub(crate) fn new(max_id: Option<u64>) -> Self {
        match max_id {
            Some(max_id) => Pending::ById {
                map: HashMap::default(),
                next_id: 0,
                max_id,
            },
            None => Pending::Fifo {
                slots: VecDeque::new(),
                base: 0,
                live: 0,
            },
        }
    }

    /// Calls awaiting a response.
    pub(crate) fn live(&self) -> usize {
        match self {
            Pending::ById { map, .. } => map.len(),
            Pending::Fifo { live, .. } => *live,
        }
    }

    pub(crate) fn contains(&self, key: u64) -> bool {
        match self {
            Pending::ById { map, .. } => map.contains_key(&key),
            Pending::Fifo { .. } => self.fifo_slot_live(key),
        }
    }

    fn fifo_slot_live(&self, key: u64) -> bool {
        match self {
            Pending::Fifo { slots, base, .. } => key
                .checked_sub(*base)
                .and_then(|i| slots.get(usize::try_from(i).ok()?))
                .is_some_and(Option::is_some),
            Pending::ById { .. } => false,
        }
    }

    /// Picks a free id (or the next sequence number without ids).
    pub(crate) fn next_key(&mut self, recent: &RecentIds) -> Option<u64> {
        match self {
            Pending::ById {
                map,
                next_id,
                max_id,
            } => {
                if map.len() as u128 > u128::from(*max_id) {
                    return None;
                }
                // Skip pending ids, and for as long as another id is free,
                // recently abandoned ones whose late response may still come.
                let mut tries = 0usize;
                loop {
                    let id = *next_id;
                    *next_id = if id == *max_id { 0 } else { id + 1 };
                    if !map.contains_key(&id) && (tries > recent.len() || !recent.contains(id)) {
                        return Some(id);
                    }
                    tries += 1;
                }
            }
            Pending::Fifo { slots, base, .. } => Some(*base + slots.len() as u64),
        }
    }

    pub(crate) fn insert(&mut self, key: u64, entry: Entry<C, T>) {
        match self {
            Pending::ById { map, .. } => {
                map.insert(key, entry);
            }
            Pending::Fifo { slots, live, .. } => {
                slots.push_back(Some(entry));
                *live += 1;
            }
        }
    }

    /// Matches a response.
    #[inline]
    pub(crate) fn take_response(&mut self, wire_id: u64, recent: &RecentIds) -> Lookup<C, T> {
        match self {
            Pending::ById { map, .. } => match map.remove(&wire_id) {
                Some(e) => Lookup::Found(wire_id, e),
                None if recent.contains(wire_id) => Lookup::Late(wire_id),
                None => Lookup::Unknown(wire_id),
            },
            Pending::Fifo { slots, base, live } => match slots.pop_front() {
                Some(slot) => {
                    let key = *base;
                    *base += 1;
                    match slot {
                        Some(e) => {
                            *live -= 1;
                            Lookup::Found(key, e)
                        }
                        None => Lookup::Late(key),
                    }
                }
                None => Lookup::Unknown(*base),
            },
        }
    }

    /// Removes a call for cancellation.
    pub(crate) fn remove(&mut self, key: u64) -> Option<Entry<C, T>> {
        match self {
            Pending::ById { map, .. } => map.remove(&key),
            Pending::Fifo { slots, base, live } => {
                let i = usize::try_from(key.checked_sub(*base)?).ok()?;
                let e = slots.get_mut(i)?.take()?;
                *live -= 1;
                Some(e)
            }
        }
    }

    /// A pending call.
    pub(crate) fn get(&self, key: u64) -> Option<&Entry<C, T>> {
        match self {
            Pending::ById { map, .. } => map.get(&key),
            Pending::Fifo { slots, base, .. } => {
                let i = usize::try_from(key.checked_sub(*base)?).ok()?;
                slots.get(i)?.as_ref()
            }
        }
    }

    /// The deadline of a pending call.
    #[inline]
    pub(crate) fn deadline_of(&self, key: u64) -> Option<T> {
        self.get(key)?.deadline
    }

    /// Removes every pending call, oldest first where the order is known.
    /// Without ids, the slots stay (empty) so that responses still on the
    /// way are recognised as late, unless `forget` is set.
    pub(crate) fn drain(&mut self, forget: bool, mut f: impl FnMut(u64, Entry<C, T>)) {
        match self {
            Pending::ById { map, .. } => {
                for (k, e) in map.drain() {
                    f(k, e);
                }
            }
            Pending::Fifo { slots, base, live } => {
                for (i, slot) in slots.iter_mut().enumerate() {
                    if let Some(e) = slot.take() {
                        f(*base + i as u64, e);
                    }
                }
                *live = 0;
                if forget {
                    *base += slots.len() as u64;
                    slots.clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ctx: u32) -> Entry<u32, u64> {
        Entry {
            ctx,
            deadline: None,
        }
    }

    #[test]
    fn automatic_ids_skip_pending_and_recently_abandoned_ids() {
        let mut recent = RecentIds::new(8);
        let mut p: Pending<u32, u64> = Pending::new(Some(3));
        let a = p.next_key(&recent).unwrap();
        p.insert(a, entry(0));
        recent.insert(1);
        let b = p.next_key(&recent).unwrap();
        assert_eq!((a, b), (0, 2));
    }

    #[test]
    fn automatic_ids_reuse_abandoned_ids_when_nothing_else_is_free() {
        let mut recent = RecentIds::new(8);
        let mut p: Pending<u32, u64> = Pending::new(Some(1));
        let a = p.next_key(&recent).unwrap();
        p.insert(a, entry(0));
        recent.insert(1);
        assert_eq!(p.next_key(&recent), Some(1));
        p.insert(1, entry(1));
        assert_eq!(p.next_key(&recent), None);
    }

    #[test]
    fn fifo_keeps_cancelled_slots_so_their_responses_are_late() {
        let recent = RecentIds::new(0);
        let mut p: Pending<u32, u64> = Pending::new(None);
        for i in 0..3 {
            let k = p.next_key(&recent).unwrap();
            assert_eq!(k, i);
            p.insert(k, entry(i as u32));
        }
        assert_eq!(p.remove(1).map(|e| e.ctx), Some(1));
        assert!(matches!(p.take_response(99, &recent), Lookup::Found(0, _)));
        assert!(matches!(p.take_response(99, &recent), Lookup::Late(1)));
        assert!(matches!(p.take_response(99, &recent), Lookup::Found(2, _)));
        assert!(matches!(p.take_response(99, &recent), Lookup::Unknown(3)));
        assert_eq!(p.live(), 0);
    }
}
