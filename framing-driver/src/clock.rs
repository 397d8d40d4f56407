//! The time of one driver turn, read from the system clock at most once
//! and only if something in the turn needs it.
//!
//! The core never reads a clock; the driver hands it `now` with every
//! input. Reading the clock for each of them cost a measurable share of a
//! call at window 1 (several `clock_gettime` per call on each end), while
//! everything in one turn happens within microseconds: one reading serves
//! the whole turn.

use std::time::Instant;

/// `now`, read lazily once per turn.
#[derive(Debug, Default)]
pub(crate) struct TurnClock(Option<Instant>);

impl TurnClock {
    /// A clock not read yet.
    pub(crate) fn new() -> Self {
        TurnClock(None)
    }

    /// The turn's time: the system clock, read on first use.
    pub(crate) fn now(&mut self) -> Instant {
        *self.0.get_or_insert_with(Instant::now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_read_once_per_turn() {
        let before = Instant::now();
        let mut clock = TurnClock::new();
        let first = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(clock.now(), first, "one reading serves the turn");
        assert!(first >= before);
        let mut next_turn = TurnClock::new();
        assert!(next_turn.now() > first, "a new turn reads the clock again");
    }
}
