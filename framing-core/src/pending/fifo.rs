//! Pending calls answered in order, for frames without an id field.
//!
//! The front of the queue is the call the next response answers. A call
//! that was cancelled or timed out stays as an empty slot, so that its
//! response, when it comes, is recognised as late instead of completing
//! the next call.

use alloc::collections::VecDeque;

use super::deadlines::{Deadlines, Slots, NO_TIMER};
use super::Lookup;
use crate::Timestamp;

/// One pending call.
#[derive(Debug)]
struct FifoSlot<C> {
    stamp: u32,
    ctx: C,
}

/// The queue as the deadlines see it; keys are sequence numbers.
struct Queue<'a, C> {
    slots: &'a mut VecDeque<Option<FifoSlot<C>>>,
    base: u64,
}

impl<C> Queue<'_, C> {
    fn slot(&self, seq: u64) -> Option<&FifoSlot<C>> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.slots.get(i)?.as_ref()
    }
}

impl<C> Slots<u64> for Queue<'_, C> {
    #[inline]
    fn holds(&self, seq: u64, stamp: u32) -> bool {
        self.slot(seq).is_some_and(|s| s.stamp == stamp)
    }

    fn restamp(&mut self, seq: u64, stamp: u32) {
        let Some(i) = seq
            .checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok())
        else {
            return;
        };
        if let Some(Some(slot)) = self.slots.get_mut(i) {
            slot.stamp = stamp;
        }
    }
}

/// Calls answered in order.
#[derive(Debug)]
pub(crate) struct FifoTable<C, T> {
    slots: VecDeque<Option<FifoSlot<C>>>,
    /// Sequence number of `slots[0]`.
    base: u64,
    live: usize,
    pub(super) deadlines: Deadlines<T, u64>,
}

impl<C, T: Timestamp> FifoTable<C, T> {
    pub(super) fn new(epoch: T) -> Self {
        FifoTable {
            slots: VecDeque::new(),
            base: 0,
            live: 0,
            deadlines: Deadlines::new(epoch),
        }
    }

    pub(super) fn live(&self) -> usize {
        self.live
    }

    fn index(&self, seq: u64) -> Option<usize> {
        usize::try_from(seq.checked_sub(self.base)?).ok()
    }

    pub(super) fn get(&self, seq: u64) -> Option<&C> {
        let i = self.index(seq)?;
        self.slots.get(i)?.as_ref().map(|s| &s.ctx)
    }

    /// The sequence number the next call gets.
    pub(super) fn next_seq(&self) -> u64 {
        self.base + self.slots.len() as u64
    }

    /// Adds a call at the back; it gets [`Self::next_seq`].
    pub(super) fn push(&mut self, ctx: C, deadline: Option<T>) {
        let seq = self.next_seq();
        let mut queue = Queue {
            slots: &mut self.slots,
            base: self.base,
        };
        let stamp = match deadline {
            Some(at) => self.deadlines.push(at, seq, &mut queue),
            None => NO_TIMER,
        };
        self.slots.push_back(Some(FifoSlot { stamp, ctx }));
        self.live += 1;
    }

    /// Matches a response to the oldest call.
    pub(super) fn pop_front(&mut self) -> Lookup<C> {
        let seq = self.base;
        let Some(slot) = self.slots.pop_front() else {
            return Lookup::Unknown(seq);
        };
        self.base += 1;
        match slot {
            Some(s) => {
                self.live -= 1;
                if s.stamp != NO_TIMER {
                    self.deadlines.forget_one();
                }
                Lookup::Found(seq, s.ctx)
            }
            None => Lookup::Late(seq),
        }
    }

    /// Empties the slot of call `seq`; its deadline entry is left as it is.
    fn take(&mut self, seq: u64) -> Option<FifoSlot<C>> {
        let i = self.index(seq)?;
        let s = self.slots.get_mut(i)?.take()?;
        self.live -= 1;
        Some(s)
    }

    pub(super) fn remove(&mut self, seq: u64) -> Option<C> {
        let s = self.take(seq)?;
        if s.stamp != NO_TIMER {
            self.deadlines.forget_one();
        }
        Some(s.ctx)
    }

    pub(super) fn pop_due(&mut self, now: T) -> Option<(u64, C)> {
        let queue = Queue {
            slots: &mut self.slots,
            base: self.base,
        };
        let seq = self.deadlines.pop_due(now, &queue)?;
        let s = self.take(seq)?;
        Some((seq, s.ctx))
    }

    pub(super) fn next_deadline(&mut self) -> Option<T> {
        let queue = Queue {
            slots: &mut self.slots,
            base: self.base,
        };
        self.deadlines.peek(&queue).map(|(at, _)| at)
    }

    /// Removes every call, oldest first. The slots stay (empty), so that
    /// responses still on the way are recognised as late.
    pub(super) fn drain(&mut self, mut f: impl FnMut(u64, C)) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Some(s) = slot.take() {
                f(self.base + i as u64, s.ctx);
            }
        }
        self.live = 0;
        self.deadlines.clear();
    }

    /// Removes every call before sequence number `first_kept` (all calls
    /// when `None`), oldest first, with their slots: the responses that
    /// would have matched them will never come (the connection that
    /// carried their requests is gone).
    pub(super) fn drain_before(&mut self, first_kept: Option<u64>, mut f: impl FnMut(u64, C)) {
        let end = first_kept.unwrap_or(self.next_seq());
        while self.base < end {
            let Some(slot) = self.slots.pop_front() else {
                break;
            };
            let seq = self.base;
            self.base += 1;
            if let Some(s) = slot {
                self.live -= 1;
                if s.stamp != NO_TIMER {
                    self.deadlines.forget_one();
                }
                f(seq, s.ctx);
            }
        }
    }

    /// Drops the empty slots kept for late responses.
    pub(super) fn forget_slots(&mut self) {
        debug_assert_eq!(self.live, 0);
        self.base += self.slots.len() as u64;
        self.slots = VecDeque::new();
    }
}
