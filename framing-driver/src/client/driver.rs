//! The future that owns a client connection: commands in, bytes through,
//! completions out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use framing_core::{CallOptions, Connection};
use tokio::sync::{mpsc, oneshot};

use super::call::{CallCtx, CallSlot};
use super::published::Published;
use crate::clock::TurnClock;
use crate::event::{ConnectionEvent, Routed};
use crate::pump::{poll_turns, Pump, Turn, Turns, Write, READS_PER_TURN};
use crate::runtime::{Io, Runtime};
use crate::timer::CoreTimer;

/// Commands per turn before the driver writes what they queued.
const COMMANDS_PER_TURN: usize = 1024;

#[derive(Debug)]
pub(crate) enum Command {
    Call {
        payload: Bytes,
        opts: CallOptions,
        ctx: CallCtx,
    },
    /// The future of this call was dropped.
    Cancel(Arc<CallSlot>),
    Close,
    FailPending,
    Shutdown {
        grace: Duration,
        done: oneshot::Sender<()>,
    },
}

pub(crate) struct ClientDriver<R: Runtime, S> {
    rt: R,
    core: Connection<Instant, CallCtx>,
    pump: Pump<S>,
    timer: CoreTimer<R>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    published: Arc<Published>,
    shutdown_waiters: Vec<oneshot::Sender<()>>,
    /// Completions sent to callers since the last write.
    woken_since_write: usize,
    /// Calls received since the last write.
    calls_since_write: usize,
}

impl<R: Runtime, S: Io> ClientDriver<R, S> {
    pub(crate) fn new(
        rt: R,
        core: Connection<Instant, CallCtx>,
        io: S,
        commands: mpsc::UnboundedReceiver<Command>,
        published: Arc<Published>,
    ) -> Self {
        ClientDriver {
            rt,
            core,
            pump: Pump::new(io),
            timer: CoreTimer::new(),
            commands,
            commands_open: true,
            published,
            shutdown_waiters: Vec::new(),
            woken_since_write: 0,
            calls_since_write: 0,
        }
    }

    fn handle(&mut self, clock: &mut TurnClock, cmd: Command) {
        match cmd {
            Command::Call { payload, opts, ctx } => {
                self.calls_since_write += 1;
                if ctx.reply.is_closed() {
                    return; // the caller gave up before we got here
                }
                let slot = ctx.slot.clone();
                match self.core.call_with(clock.now(), payload, opts, ctx) {
                    Ok(id) => slot.accepted(id),
                    Err(rejected) => rejected.ctx.complete(Err(rejected.error)),
                }
            }
            Command::Cancel(slot) => {
                if let Some(id) = slot.pending_id() {
                    self.core.cancel(id);
                }
            }
            Command::Close => self.core.close(),
            Command::FailPending => self.core.fail_pending(),
            Command::Shutdown { grace, done } => {
                self.core.shutdown(clock.now() + grace);
                self.shutdown_waiters.push(done);
            }
        }
    }

    /// Routes the core's events: completions to their callers, the rest to
    /// subscribers. The snapshot is published first, so that a caller
    /// woken by its result reads counters that include it.
    fn drain_events(&mut self) {
        let mut published = false;
        while let Some(ev) = self.core.poll_event() {
            if !published {
                self.published.publish(&self.core);
                published = true;
            }
            match Routed::route(ev) {
                Some(Routed::Completed { ctx, result }) => {
                    ctx.complete(result);
                    self.woken_since_write += 1;
                }
                Some(Routed::Event(kind)) => self.published.events.publish(ConnectionEvent {
                    peer: self.published.peer,
                    kind,
                }),
                // A client connection receives no requests.
                Some(Routed::Request { .. }) | None => {}
            }
        }
    }

    /// The connection has ended: calls still queued in the channel are
    /// refused with the reason it ended, shutdowns resolve, subscribers'
    /// streams end.
    fn finish(&mut self) {
        self.published.publish(&self.core);
        self.commands.close();
        let reason = self.published.closed_reason();
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                Command::Call { ctx, .. } => ctx.complete(Err(reason.clone())),
                Command::Shutdown { done, .. } => self.shutdown_waiters.push(done),
                _ => {}
            }
        }
        for w in self.shutdown_waiters.drain(..) {
            let _ = w.send(());
        }
        self.published.events.close();
    }
}

impl<R: Runtime, S: Io> Turns for ClientDriver<R, S> {
    fn turn(&mut self, cx: &mut Context<'_>) -> Turn {
        let mut progress = false;
        let mut clock = TurnClock::new(R::now);
        for _ in 0..COMMANDS_PER_TURN {
            if !self.commands_open {
                break;
            }
            match self.commands.poll_recv(cx) {
                Poll::Ready(Some(cmd)) => {
                    self.handle(&mut clock, cmd);
                    progress = true;
                }
                Poll::Ready(None) => {
                    // Every handle is gone: nobody can await anything.
                    self.commands_open = false;
                    self.core.close();
                    progress = true;
                }
                Poll::Pending => break,
            }
        }
        self.drain_events();
        for _ in 0..READS_PER_TURN {
            if !self.pump.poll_read(cx, &mut clock, &mut self.core) {
                break;
            }
            progress = true;
            self.drain_events();
        }
        // Callers woken by completions since the last write and not yet
        // heard from are likely about to queue calls: worth one scheduling
        // round before the syscall. A lone caller that already called back
        // (window 1) is not made to wait.
        let expect_more = self.woken_since_write > self.calls_since_write;
        let write = self
            .pump
            .poll_write(cx, &mut clock, &mut self.core, expect_more);
        if write == Write::Progress {
            progress = true;
            self.woken_since_write = 0;
            self.calls_since_write = 0;
        }
        progress |= self.timer.poll(cx, &self.rt, &mut clock, &mut self.core);
        self.drain_events();
        self.published.publish(&self.core);
        Turn::after(progress, write)
    }
    fn finished(&self) -> bool {
        self.core.is_closed()
    }
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.pump.poll_close(cx)
    }
    fn on_closed(&mut self) {
        self.finish();
    }
}

impl<R: Runtime, S: Io> Future for ClientDriver<R, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        poll_turns(self.get_mut(), cx)
    }
}
