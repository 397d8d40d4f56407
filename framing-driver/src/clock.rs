//! The time of one driver turn, read from the runtime's clock at most once
//! and only if something in the turn needs it.
//!
//! The core never reads a clock; the driver hands it `now` with every
//! input. Reading the clock for each of them cost a measurable share of a
//! call at window 1 (several `clock_gettime` per call on each end), while
//! everything in one turn happens within microseconds: one reading serves
//! the whole turn.

use std::time::Instant;

/// `now`, read lazily once per turn.
#[derive(Debug)]
pub(crate) struct TurnClock {
    at: Option<Instant>,
    /// The runtime's clock ([`Runtime::now`](crate::Runtime::now)).
    read: fn() -> Instant,
}

impl TurnClock {
    /// A clock not read yet, reading `read` when first asked.
    pub(crate) fn new(read: fn() -> Instant) -> Self {
        TurnClock { at: None, read }
    }

    /// The turn's time: the runtime's clock, read on first use.
    pub(crate) fn now(&mut self) -> Instant {
        *self.at.get_or_insert_with(self.read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static READS: AtomicUsize = AtomicUsize::new(0);

    fn counting_clock() -> Instant {
        READS.fetch_add(1, Ordering::SeqCst);
        Instant::now()
    }

    #[test]
    fn the_clock_is_read_once_per_turn_and_not_at_all_if_unused() {
        let _unused = TurnClock::new(counting_clock);
        assert_eq!(READS.load(Ordering::SeqCst), 0);
        let mut clock = TurnClock::new(counting_clock);
        let first = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(clock.now(), first, "one reading serves the turn");
        assert_eq!(READS.load(Ordering::SeqCst), 1);
        let mut next_turn = TurnClock::new(counting_clock);
        assert!(next_turn.now() > first, "a new turn reads the clock again");
        assert_eq!(READS.load(Ordering::SeqCst), 2);
    }
}
