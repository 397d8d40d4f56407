//! Moves bytes between a stream and a core: reads straight into the core's
//! buffer, writes every queued frame with one vectored write.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Buf;
use framing_core::Connection;

use crate::clock::TurnClock;
use crate::runtime::Io;
use crate::stream_waker::{Side, StreamWaker};

/// Slices per vectored write. Small frames are coalesced by the core, so
/// this bounds big frames per syscall, not small ones.
const MAX_IOVECS: usize = 64;

/// Reads per wake-up before yielding to the other sources.
pub(crate) const READS_PER_TURN: usize = 8;

/// The shared read buffer of quiet connections, one per thread: as large
/// as the most a busy connection's own buffer lends per read (the core's
/// default `read_chunk`), so a quiet connection that turns busy is seen
/// at its first read.
const SCRATCH_LEN: usize = 64 * 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[derive(Debug)]
pub(crate) struct Pump<S> {
    io: S,
    read_done: bool,
    needs_flush: bool,
    /// Frames are waiting and the driver already let other tasks run once.
    deferred: bool,
    /// The stream's own waker: whether the stream woke the task since a
    /// side of it was `Pending`.
    waker: StreamWaker,
}

/// Turns per wake-up before yielding to other tasks.
const TURNS_PER_WAKE: usize = 32;

/// A connection driver (client or server): it goes round its sources one
/// turn at a time; [`poll_turns`] runs the turns.
pub(crate) trait Turns {
    /// One turn over every source.
    fn turn(&mut self, cx: &mut Context<'_>) -> Turn;
    /// Whether the core has finished.
    fn finished(&self) -> bool;
    /// Closes the stream once the core has finished.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()>;
    /// Last words once the stream is closed.
    fn on_closed(&mut self) {}
}

/// The body of a driver's `Future::poll`: turns until nothing moves (every
/// source has registered a wake-up), a yield is asked for, the budget is
/// spent (then it wakes itself), or the connection has finished and its
/// stream is closed (`Ready`).
pub(crate) fn poll_turns<D: Turns>(driver: &mut D, cx: &mut Context<'_>) -> Poll<()> {
    for _ in 0..TURNS_PER_WAKE {
        let turn = driver.turn(cx);
        if driver.finished() {
            if driver.poll_close(cx).is_pending() {
                return Poll::Pending;
            }
            driver.on_closed();
            return Poll::Ready(());
        }
        match turn {
            Turn::Progress => {}
            Turn::Idle => return Poll::Pending,
            Turn::Yield => break,
        }
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// What one turn of a driver over its sources did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Something moved: go round again.
    Progress,
    /// Nothing moved: every source has registered a wake-up.
    Idle,
    /// Let other tasks run, then come back (woken by ourselves).
    Yield,
}

impl Turn {
    /// The outcome of a turn that made `progress` (or not) and ended with
    /// this `write`.
    pub(crate) fn after(progress: bool, write: Write) -> Turn {
        match (write, progress) {
            (Write::Yield, _) => Turn::Yield,
            (Write::Progress, _) | (_, true) => Turn::Progress,
            (Write::Idle, false) => Turn::Idle,
        }
    }
}

/// What [`Pump::poll_write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// Nothing to do, or the socket is full (a wake-up is registered).
    Idle,
    /// Bytes were written (or the stream failed).
    Progress,
    /// Frames are waiting: yield once, so that tasks woken by this turn's
    /// completions queue their next requests before the write, and many
    /// frames share one syscall. The caller must wake itself and return.
    Yield,
}

impl<S: Io> Pump<S> {
    pub(crate) fn new(io: S) -> Self {
        Pump {
            io,
            read_done: false,
            needs_flush: false,
            deferred: false,
            waker: StreamWaker::new(),
        }
    }

    /// One read into the core, if it wants one. `true` if anything happened
    /// (bytes, end of stream or an error).
    pub(crate) fn poll_read<C>(
        &mut self,
        cx: &mut Context<'_>,
        clock: &mut TurnClock,
        core: &mut Connection<Instant, C>,
    ) -> bool {
        if self.read_done || !core.wants_read() || !self.waker.should_poll(cx, Side::Read) {
            return false;
        }
        let result = if core.wants_recv_buffer() {
            let room = core.recv_buffer();
            let result = Pin::new(&mut self.io).poll_read(&mut self.waker.context(), room);
            if let Poll::Ready(Ok(n)) = result {
                core.handle_received(clock.now(), n);
            }
            result
        } else {
            // A quiet connection: read into this thread's scratch buffer
            // and copy what came, so that idle connections hold no read
            // buffer of their own.
            SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                if scratch.is_empty() {
                    scratch.resize(SCRATCH_LEN, 0);
                }
                let result =
                    Pin::new(&mut self.io).poll_read(&mut self.waker.context(), &mut scratch[..]);
                if let Poll::Ready(Ok(n)) = result {
                    core.handle_read(clock.now(), &scratch[..n]);
                }
                result
            })
        };
        self.waker.polled(Side::Read, result.is_pending());
        match result {
            Poll::Ready(Ok(0)) => {
                self.read_done = true;
                core.handle_eof(clock.now());
                true
            }
            Poll::Ready(Ok(_)) => true,
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => true,
            Poll::Ready(Err(e)) => {
                self.read_done = true;
                core.handle_io_error(clock.now(), e.into());
                true
            }
            Poll::Pending => false,
        }
    }

    /// Writes what the core has queued until done or the socket is full.
    /// When more frames are expected from tasks this driver woke
    /// (`expect_more`), it first lets them run once (see [`Write::Yield`]);
    /// otherwise (a lone call, a server answering inline) it writes at
    /// once, so a single call pays no extra scheduling.
    pub(crate) fn poll_write<C>(
        &mut self,
        cx: &mut Context<'_>,
        clock: &mut TurnClock,
        core: &mut Connection<Instant, C>,
        expect_more: bool,
    ) -> Write {
        if expect_more && core.queued_bytes() > 0 && !self.deferred {
            self.deferred = true;
            return Write::Yield;
        }
        self.deferred = false;
        if self.write_all(cx, clock, core) {
            Write::Progress
        } else {
            Write::Idle
        }
    }

    fn write_all<C>(
        &mut self,
        cx: &mut Context<'_>,
        clock: &mut TurnClock,
        core: &mut Connection<Instant, C>,
    ) -> bool {
        let mut progress = false;
        if !(core.queued_bytes() > 0 || self.needs_flush)
            || !self.waker.should_poll(cx, Side::Write)
        {
            return false;
        }
        let mut wcx = self.waker.context();
        while core.queued_bytes() > 0 {
            let now = clock.now();
            let result = {
                let Some(mut out) = core.poll_transmit(now) else {
                    break;
                };
                let result = {
                    let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                    let n = out.chunks_vectored(&mut slices);
                    Pin::new(&mut self.io).poll_write_vectored(&mut wcx, &slices[..n])
                };
                if let Poll::Ready(Ok(n)) = result {
                    out.advance(n);
                }
                result
            };
            self.waker.polled(Side::Write, result.is_pending());
            match result {
                Poll::Ready(Ok(0)) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "stream accepted no bytes");
                    core.handle_io_error(now, e.into());
                    return true;
                }
                Poll::Ready(Ok(_)) => {
                    self.needs_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => {
                    core.handle_io_error(now, e.into());
                    return true;
                }
                Poll::Pending => return progress,
            }
        }
        if self.needs_flush {
            let result = Pin::new(&mut self.io).poll_flush(&mut wcx);
            self.waker.polled(Side::Write, result.is_pending());
            match result {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => {
                    core.handle_io_error(clock.now(), e.into());
                    return true;
                }
                Poll::Pending => {}
            }
        }
        progress
    }

    /// Closes the stream (sends FIN). Errors are irrelevant at this point.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.io).poll_close(cx).map(|_| ())
    }
}
