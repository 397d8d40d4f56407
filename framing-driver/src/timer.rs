//! Keeps the runtime's timer on the core's next deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Instant;

use framing_core::Connection;

use crate::clock::TurnClock;
use crate::runtime::{Runtime, Timer};

#[derive(Debug)]
pub(crate) struct CoreTimer<R: Runtime> {
    timer: Option<R::Timer>,
    armed: Option<Instant>,
}

impl<R: Runtime> CoreTimer<R> {
    pub(crate) fn new() -> Self {
        CoreTimer {
            timer: None,
            armed: None,
        }
    }

    /// Fires what is due in the core and arms the timer for the next
    /// deadline, or for `also` (a deadline the driver keeps) if earlier.
    /// `true` if something was due.
    ///
    /// While the armed timer is due no later than the core's next deadline
    /// and has not fired, nothing can be due yet, and the clock is not
    /// read.
    pub(crate) fn poll<C>(
        &mut self,
        cx: &mut Context<'_>,
        rt: &R,
        clock: &mut TurnClock,
        core: &mut Connection<Instant, C>,
        also: Option<Instant>,
    ) -> bool {
        let Some(at) = [core.poll_timeout(), also].into_iter().flatten().min() else {
            return false;
        };
        if let (Some(armed), Some(timer)) = (self.armed, &mut self.timer) {
            if armed <= at {
                if Pin::new(timer).poll(cx).is_pending() {
                    return false;
                }
                self.armed = None;
                core.handle_timeout(clock.now());
                return true;
            }
        }
        let now = clock.now();
        if at <= now {
            core.handle_timeout(now);
            return true;
        }
        // Deadlines mostly move later (the idle deadline follows every read
        // and write): an armed timer that fires earlier than needed is left
        // alone (above), since an early `handle_timeout` is harmless and
        // re-arms it. Only an earlier deadline, or none armed, costs a reset
        // of the runtime's timer.
        let timer = self.timer.get_or_insert_with(|| rt.timer(at));
        timer.reset(at);
        self.armed = Some(at);
        if Pin::new(timer).poll(cx).is_ready() {
            self.armed = None;
            core.handle_timeout(clock.now());
            return true;
        }
        false
    }
}
