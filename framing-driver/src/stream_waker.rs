//! Tells a driver whether its stream is what woke it, so it does not poll
//! a side of the stream that already returned `Pending` when only a
//! command, a handler or a timer woke the task.
//!
//! A driver task has one waker for all its sources. Reactors built on
//! "try the syscall first" (async-io, behind smol and async-std) answer
//! every `poll_read` with a `recvfrom`, and after `EAGAIN` an `epoll_ctl`
//! to re-arm: at window 1 that was six wasted syscall pairs per call. The
//! stream is polled with a waker of its own that raises a flag for each
//! side and then wakes the task. While a side's last poll is `Pending`
//! and its flag is down, the registration made by that poll still stands
//! (a future that returns `Pending` keeps its waker until it wakes it),
//! so the side is skipped.
//!
//! Both sides share the one stream waker and any wake-up of it raises
//! both flags: a stream may wake the waker of its last poll whichever side
//! that was (a TLS stream reads while writing), so a wake-up is never
//! credited to the wrong side.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use futures_util::task::AtomicWaker;

/// A side of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Read = 0,
    Write = 1,
}

/// The shared half: one flag per side, and the task to wake.
#[derive(Debug, Default)]
struct Flags {
    raised: [AtomicBool; 2],
    task: AtomicWaker,
}

impl Wake for Flags {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for flag in &self.raised {
            flag.store(true, Ordering::Release);
        }
        self.task.wake();
    }
}

/// The stream's own waker, and which sides wait on it.
#[derive(Debug)]
pub(crate) struct StreamWaker {
    flags: Arc<Flags>,
    waker: Waker,
    /// Per side: its last poll returned `Pending` (and kept our waker).
    pending: [Cell<bool>; 2],
}

impl StreamWaker {
    pub(crate) fn new() -> Self {
        let flags = Arc::new(Flags::default());
        StreamWaker {
            waker: Waker::from(flags.clone()),
            flags,
            pending: [Cell::new(false), Cell::new(false)],
        }
    }

    /// Whether `side` is worth polling: its last poll was not `Pending`,
    /// or the stream has woken the task since. Lowers the side's flag
    /// (before the poll, so that a wake-up during the poll is not lost) and
    /// records `cx`'s waker as the task to wake.
    pub(crate) fn should_poll(&self, cx: &Context<'_>, side: Side) -> bool {
        self.flags.task.register(cx.waker());
        let raised = self.flags.raised[side as usize].swap(false, Ordering::AcqRel);
        !self.pending[side as usize].get() || raised
    }

    /// The context to poll the stream with.
    pub(crate) fn context(&self) -> Context<'_> {
        Context::from_waker(&self.waker)
    }

    /// Records whether `side`'s poll returned `Pending`.
    pub(crate) fn polled(&self, side: Side, pending: bool) {
        self.pending[side as usize].set(pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task waker that counts its wake-ups.
    #[derive(Default)]
    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn task() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        (count, waker)
    }

    #[test]
    fn a_pending_side_is_polled_again_only_after_the_stream_wakes_the_task() {
        let (count, task) = task();
        let cx = Context::from_waker(&task);
        let w = StreamWaker::new();

        // Never polled: poll it.
        assert!(w.should_poll(&cx, Side::Read));
        // It returns Pending and keeps the stream's waker.
        let kept = w.context().waker().clone();
        w.polled(Side::Read, true);
        // Woken by something else: skip it, however often.
        assert!(!w.should_poll(&cx, Side::Read));
        assert!(!w.should_poll(&cx, Side::Read));
        // The stream wakes: the task is woken and the side polled again.
        kept.wake_by_ref();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(w.should_poll(&cx, Side::Read));
        // It made progress: poll it until it is Pending again.
        w.polled(Side::Read, false);
        assert!(w.should_poll(&cx, Side::Read));
        w.polled(Side::Read, true);
        assert!(!w.should_poll(&cx, Side::Read));
    }

    #[test]
    fn a_wake_during_the_poll_is_not_lost() {
        let (_count, task) = task();
        let cx = Context::from_waker(&task);
        let w = StreamWaker::new();
        assert!(w.should_poll(&cx, Side::Read));
        // The stream wakes while it is being polled, then says Pending.
        w.context().waker().wake_by_ref();
        w.polled(Side::Read, true);
        assert!(
            w.should_poll(&cx, Side::Read),
            "the wake-up must not be lost"
        );
    }

    #[test]
    fn any_wake_up_of_the_stream_makes_both_sides_eligible() {
        let (_count, task) = task();
        let cx = Context::from_waker(&task);
        let w = StreamWaker::new();
        for side in [Side::Read, Side::Write] {
            assert!(w.should_poll(&cx, side));
            w.polled(side, true);
            assert!(!w.should_poll(&cx, side));
        }
        // One wake-up (say the read side's registration) ...
        w.context().waker().wake_by_ref();
        // ... and each side is polled once more, whichever it was for.
        assert!(w.should_poll(&cx, Side::Write));
        assert!(w.should_poll(&cx, Side::Read));
        assert!(!w.should_poll(&cx, Side::Write));
        assert!(!w.should_poll(&cx, Side::Read));
    }

    #[test]
    fn every_wake_up_of_the_stream_reaches_the_task() {
        let (count, task) = task();
        let cx = Context::from_waker(&task);
        let w = StreamWaker::new();
        for round in 1..=3 {
            // The same task polls again: a wake-up takes the registered
            // waker, so each poll registers it afresh.
            assert!(w.should_poll(&cx, Side::Read));
            w.polled(Side::Read, true);
            w.context().waker().wake_by_ref();
            assert_eq!(count.0.load(Ordering::SeqCst), round);
        }
    }

    #[test]
    fn the_latest_task_waker_is_the_one_woken() {
        let (first, task1) = task();
        let (second, task2) = task();
        let w = StreamWaker::new();
        assert!(w.should_poll(&Context::from_waker(&task1), Side::Read));
        w.polled(Side::Read, true);
        assert!(!w.should_poll(&Context::from_waker(&task2), Side::Read));
        w.context().waker().wake_by_ref();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
    }
}
