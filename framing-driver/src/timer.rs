//! Keeps the runtime's timer on the core's next deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Instant;

use framing_core::Connection;

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
    /// deadline. `true` if the core had something due.
    pub(crate) fn poll<C>(
        &mut self,
        cx: &mut Context<'_>,
        rt: &R,
        core: &mut Connection<Instant, C>,
    ) -> bool {
        let Some(at) = core.poll_timeout() else {
            return false;
        };
        let now = Instant::now();
        if at <= now {
            core.handle_timeout(now);
            return true;
        }
        let timer = self.timer.get_or_insert_with(|| rt.timer(at));
        // Deadlines mostly move later (the idle deadline follows every read
        // and write): an armed timer that fires earlier than needed is left
        // alone, since an early `handle_timeout` is harmless and re-arms it.
        // Only an earlier deadline costs a reset on the runtime's timer.
        if self.armed.is_none_or(|armed| at < armed) {
            timer.reset(at);
            self.armed = Some(at);
        }
        if Pin::new(timer).poll(cx).is_ready() {
            self.armed = None;
            core.handle_timeout(Instant::now());
            return true;
        }
        false
    }
}
