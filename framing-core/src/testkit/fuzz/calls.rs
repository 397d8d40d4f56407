//! The model's pending calls (by id, or in call order without ids) with
//! their deadlines, and its memory of abandoned ids.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::time::Duration;

/// A pending call.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pend {
    pub(super) ctx: u64,
    pub(super) deadline: Option<Duration>,
}

/// What a response's id finds.
pub(super) enum Lookup {
    /// This pending call, now removed.
    Found(u64, Pend),
    /// A call cancelled or timed out (with ids: one the memory holds).
    Late(u64),
    /// Nothing.
    Unknown(u64),
}

/// The pending calls, and their deadlines in firing order.
#[derive(Debug)]
pub(super) struct Table {
    slots: Slots,
    deadlines: BTreeSet<(Duration, u64)>,
}

#[derive(Debug)]
enum Slots {
    /// Matched by id.
    Keyed {
        max_id: u64,
        map: BTreeMap<u64, Pend>,
    },
    /// Matched in order: a call that ends early keeps its slot, so that its
    /// response is late rather than answering the next call.
    Fifo {
        slots: VecDeque<Option<Pend>>,
        /// The number of `slots[0]`.
        base: u64,
        live: usize,
    },
}

impl Table {
    pub(super) fn new(max_id: Option<u64>) -> Self {
        let slots = match max_id {
            Some(max_id) => Slots::Keyed {
                max_id,
                map: BTreeMap::new(),
            },
            None => Slots::Fifo {
                slots: VecDeque::new(),
                base: 0,
                live: 0,
            },
        };
        Table {
            slots,
            deadlines: BTreeSet::new(),
        }
    }

    /// The largest id, `None` without ids (calls answered in order).
    pub(super) fn max_id(&self) -> Option<u64> {
        match self.slots {
            Slots::Keyed { max_id, .. } => Some(max_id),
            Slots::Fifo { .. } => None,
        }
    }

    pub(super) fn live(&self) -> usize {
        match &self.slots {
            Slots::Keyed { map, .. } => map.len(),
            Slots::Fifo { live, .. } => *live,
        }
    }

    pub(super) fn contains(&self, id: u64) -> bool {
        match &self.slots {
            Slots::Keyed { map, .. } => map.contains_key(&id),
            Slots::Fifo { slots, base, .. } => id
                .checked_sub(*base)
                .and_then(|i| slots.get(usize::try_from(i).ok()?))
                .is_some_and(Option::is_some),
        }
    }

    /// Without ids: the number the next call gets.
    pub(super) fn next_seq(&self) -> Option<u64> {
        match &self.slots {
            Slots::Keyed { .. } => None,
            Slots::Fifo { slots, base, .. } => Some(base + slots.len() as u64),
        }
    }

    /// Every pending id.
    pub(super) fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(id, _)| id)
    }

    pub(super) fn insert(&mut self, id: u64, pend: Pend) {
        if let Some(at) = pend.deadline {
            self.deadlines.insert((at, id));
        }
        match &mut self.slots {
            Slots::Keyed { map, .. } => {
                assert!(map.insert(id, pend).is_none(), "id {id} given twice");
            }
            Slots::Fifo { slots, base, live } => {
                assert_eq!(
                    id,
                    *base + slots.len() as u64,
                    "calls numbered out of order"
                );
                slots.push_back(Some(pend));
                *live += 1;
            }
        }
    }

    pub(super) fn remove(&mut self, id: u64) -> Option<Pend> {
        let pend = match &mut self.slots {
            Slots::Keyed { map, .. } => map.remove(&id),
            Slots::Fifo { slots, base, live } => {
                let i = usize::try_from(id.checked_sub(*base)?).ok()?;
                let pend = slots.get_mut(i)?.take()?;
                *live -= 1;
                Some(pend)
            }
        }?;
        if let Some(at) = pend.deadline {
            self.deadlines.remove(&(at, id));
        }
        Some(pend)
    }

    /// Matches a response.
    pub(super) fn take_response(&mut self, id: u64, recent: &Recent) -> Lookup {
        let found = match &mut self.slots {
            Slots::Keyed { map, .. } => match map.remove(&id) {
                Some(pend) => Lookup::Found(id, pend),
                None if recent.contains(id) => Lookup::Late(id),
                None => Lookup::Unknown(id),
            },
            Slots::Fifo { slots, base, live } => {
                let seq = *base;
                match slots.pop_front() {
                    None => Lookup::Unknown(seq),
                    Some(slot) => {
                        *base += 1;
                        match slot {
                            Some(pend) => {
                                *live -= 1;
                                Lookup::Found(seq, pend)
                            }
                            None => Lookup::Late(seq),
                        }
                    }
                }
            }
        };
        if let Lookup::Found(
            id,
            Pend {
                deadline: Some(at), ..
            },
        ) = found
        {
            self.deadlines.remove(&(at, id));
        }
        found
    }

    /// Removes the calls due at `now`, by deadline then id.
    pub(super) fn take_due(&mut self, now: Duration) -> Vec<(u64, Pend)> {
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            due.push((id, self.remove(id).expect("a deadline of a pending call")));
        }
        due
    }

    /// The earliest deadline.
    pub(super) fn next_deadline(&self) -> Option<Duration> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Removes every call (without ids their slots stay, empty).
    pub(super) fn drain(&mut self) -> Vec<(u64, Pend)> {
        let all: Vec<u64> = self.iter().map(|(id, _)| id).collect();
        all.into_iter()
            .map(|id| (id, self.remove(id).expect("listed")))
            .collect()
    }

    /// Forgets everything, slots included (the connection ended).
    pub(super) fn forget(&mut self) {
        self.drain();
        if let Slots::Fifo { slots, base, .. } = &mut self.slots {
            *base += slots.len() as u64;
            slots.clear();
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u64, &Pend)> + '_ {
        let (keyed, fifo) = match &self.slots {
            Slots::Keyed { map, .. } => (Some(map), None),
            Slots::Fifo { slots, base, .. } => (None, Some((slots, *base))),
        };
        let keyed = keyed
            .into_iter()
            .flat_map(|m| m.iter().map(|(&id, p)| (id, p)));
        let fifo = fifo.into_iter().flat_map(|(slots, base)| {
            let numbered = slots.iter().enumerate();
            numbered.filter_map(move |(i, s)| s.as_ref().map(|p| (base + i as u64, p)))
        });
        keyed.chain(fifo)
    }
}

/// The memory of cancelled and timed-out ids, as the contract bounds it:
/// an id is remembered while its latest abandonment is among the last
/// `cap` abandonments and the caller has not reused it since (an id
/// abandoned again is remembered from its new abandonment on).
#[derive(Debug)]
pub(super) struct Recent {
    cap: usize,
    /// The sequence numbers of the last `cap` abandonments, oldest first.
    order: VecDeque<u64>,
    /// Each id's latest abandonment, until the caller reuses it.
    latest: BTreeMap<u64, u64>,
    next: u64,
}

impl Recent {
    pub(super) fn new(cap: usize) -> Self {
        Recent {
            cap,
            order: VecDeque::new(),
            latest: BTreeMap::new(),
            next: 0,
        }
    }

    pub(super) fn contains(&self, id: u64) -> bool {
        let Some(&seq) = self.latest.get(&id) else {
            return false;
        };
        self.order.front().is_some_and(|&oldest| seq >= oldest)
    }

    pub(super) fn insert(&mut self, id: u64) {
        if self.cap == 0 {
            return;
        }
        let seq = self.next;
        self.next += 1;
        if self.order.len() == self.cap {
            self.order.pop_front();
        }
        self.order.push_back(seq);
        self.latest.insert(id, seq);
        // Ids whose latest abandonment left the window are forgotten.
        let oldest = self.order.front().copied().unwrap_or(seq);
        self.latest.retain(|_, s| *s >= oldest);
    }

    pub(super) fn remove(&mut self, id: u64) {
        self.latest.remove(&id);
    }

    /// Ids remembered that are not in `pending`.
    pub(super) fn count_outside(&self, pending: &Table) -> usize {
        self.latest
            .keys()
            .filter(|&&id| self.contains(id) && !pending.contains(id))
            .count()
    }
}
