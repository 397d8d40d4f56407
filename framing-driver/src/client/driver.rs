//! The future that owns a client connection: commands in, bytes through,
//! completions out.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use framing_core::{CallError, CallOptions, Connection, Event, RpcId, Stats};
use tokio::sync::{mpsc, oneshot};

use super::Inner;
use crate::clock::TurnClock;
use crate::event::{ConnectionEvent, EventKind};
use crate::pump::{poll_turns, Pump, Turn, Turns, Write, READS_PER_TURN};
use crate::runtime::{Io, Runtime};
use crate::timer::CoreTimer;

/// Id slot value before the driver has accepted the call.
pub(crate) const UNASSIGNED: u64 = u64::MAX;

/// Commands per turn before the driver writes what they queued.
const COMMANDS_PER_TURN: usize = 1024;

/// A call's context inside the core: where its result goes, and the slot
/// where the driver publishes its id so that a dropped future can cancel it.
#[derive(Debug)]
pub(crate) struct CallCtx {
    pub(crate) reply: oneshot::Sender<Result<Bytes, CallError>>,
    pub(crate) id: Arc<AtomicU64>,
}

#[derive(Debug)]
pub(crate) enum Command {
    Call {
        payload: Bytes,
        opts: CallOptions,
        ctx: CallCtx,
    },
    Cancel {
        id: RpcId,
        slot: Arc<AtomicU64>,
    },
    Close,
    FailPending,
    Shutdown {
        deadline: Instant,
        done: oneshot::Sender<()>,
    },
    Stats(oneshot::Sender<Stats>),
}

pub(crate) struct ClientDriver<R: Runtime, S> {
    rt: R,
    core: Connection<Instant, CallCtx>,
    pump: Pump<S>,
    timer: CoreTimer<R>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    inner: Arc<Inner>,
    shutdown_waiters: Vec<oneshot::Sender<()>>,
    final_error: CallError,
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
        inner: Arc<Inner>,
    ) -> Self {
        ClientDriver {
            rt,
            core,
            pump: Pump::new(io),
            timer: CoreTimer::new(),
            commands,
            commands_open: true,
            inner,
            shutdown_waiters: Vec::new(),
            final_error: CallError::Closed,
            woken_since_write: 0,
            calls_since_write: 0,
        }
    }

    fn handle(&mut self, now: Instant, cmd: Command) {
        match cmd {
            Command::Call { payload, opts, ctx } => {
                self.calls_since_write += 1;
                if ctx.reply.is_closed() {
                    return; // the caller gave up before we got here
                }
                match self.core.call_with(now, payload, opts, ctx) {
                    Ok(id) => {
                        if let Some(ctx) = self.core.call_context(id) {
                            ctx.id.store(id.0, Ordering::SeqCst);
                            // Pairs with the fence in `CallFuture::drop`: either
                            // the future sees the id and sends `Cancel`, or we
                            // see its receiver closed here.
                            fence(Ordering::SeqCst);
                            if ctx.reply.is_closed() {
                                self.core.cancel(id);
                            }
                        }
                    }
                    Err(rejected) => {
                        let _ = rejected.ctx.reply.send(Err(rejected.error));
                    }
                }
            }
            Command::Cancel { id, slot } => {
                let same_call = self
                    .core
                    .call_context(id)
                    .is_some_and(|ctx| Arc::ptr_eq(&ctx.id, &slot));
                if same_call {
                    self.core.cancel(id);
                }
            }
            Command::Close => self.core.close(),
            Command::FailPending => self.core.fail_pending(),
            Command::Shutdown { deadline, done } => {
                self.core.shutdown(deadline);
                self.shutdown_waiters.push(done);
            }
            Command::Stats(tx) => {
                self.publish_queued();
                let mut stats = self.core.stats();
                let refused = self.inner.refused_full.load(Ordering::Relaxed);
                stats.rejected_buffer_full += refused;
                stats.rejected += refused;
                let _ = tx.send(stats);
            }
        }
    }

    /// Tells callers how full the queue is (see `Client::try_call`).
    fn publish_queued(&self) {
        self.inner
            .queued
            .store(self.core.queued_bytes(), Ordering::Relaxed);
    }

    fn drain_events(&mut self) {
        while let Some(ev) = self.core.poll_event() {
            let kind = match ev {
                Event::Completed { ctx, result, .. } => {
                    let _ = ctx.reply.send(result);
                    self.woken_since_write += 1;
                    continue;
                }
                Event::Pause { queued } => EventKind::Pause { queued },
                Event::Resume { queued } => EventKind::Resume { queued },
                Event::IdleTimeout => EventKind::IdleTimeout,
                Event::UnknownResponse { id, late } => EventKind::UnknownResponse { id, late },
                Event::ProtocolError(p) => {
                    self.final_error = CallError::Protocol(p);
                    EventKind::ProtocolError(p)
                }
                Event::Disconnected(r) => {
                    self.final_error = CallError::Disconnected(r.clone());
                    EventKind::Disconnected { last_error: r }
                }
                // A client connection receives no requests.
                _ => continue,
            };
            self.inner.events.publish(ConnectionEvent {
                peer: self.inner.peer,
                kind,
            });
        }
    }

    fn finish_calls(&mut self) {
        self.inner.set_final_error(self.final_error.clone());
        self.commands.close();
        // Calls still queued in the channel complete with the final error.
        while let Ok(cmd) = self.commands.try_recv() {
            if let Command::Call { ctx, .. } = cmd {
                let _ = ctx.reply.send(Err(self.final_error.clone()));
            }
        }
        for w in self.shutdown_waiters.drain(..) {
            let _ = w.send(());
        }
        self.inner.events.close();
    }
}

impl<R: Runtime, S: Io> Turns for ClientDriver<R, S> {
    fn turn(&mut self, cx: &mut Context<'_>) -> Turn {
        let mut progress = false;
        let mut clock = TurnClock::new();
        for _ in 0..COMMANDS_PER_TURN {
            if !self.commands_open {
                break;
            }
            match self.commands.poll_recv(cx) {
                Poll::Ready(Some(cmd)) => {
                    self.handle(clock.now(), cmd);
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
        self.publish_queued();
        Turn::after(progress, write)
    }
    fn finished(&self) -> bool {
        self.core.is_closed()
    }
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.pump.poll_close(cx)
    }
    fn on_closed(&mut self) {
        self.finish_calls();
    }
}

impl<R: Runtime, S: Io> Future for ClientDriver<R, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        poll_turns(self.get_mut(), cx)
    }
}
