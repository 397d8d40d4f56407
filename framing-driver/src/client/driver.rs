//! The future that owns a client connection: commands in, bytes through,
//! completions out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use framing_core::{CallOptions, Connection, State};
use tokio::sync::{mpsc, oneshot};

use super::call::{CallCtx, CallSlot};
use super::parked::ParkedCalls;
use super::published::Published;
use super::redial::{Outcome, Redial};
use crate::clock::TurnClock;
use crate::event::{ConnectionEvent, EventKind, ReconnectCause, Routed};
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
    /// The stream, while connected.
    pump: Option<Pump<S>>,
    /// How to connect again, for a reconnecting client.
    redial: Option<Redial<R, S>>,
    /// Calls waiting for room in the write queue.
    parked: ParkedCalls,
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
    /// A driver for `core` over `io` (`None`: not connected yet, `redial`
    /// makes the first connection). With `redial`, the core must be in
    /// reconnect mode.
    pub(crate) fn new(
        rt: R,
        core: Connection<Instant, CallCtx>,
        io: Option<S>,
        redial: Option<Redial<R, S>>,
        commands: mpsc::UnboundedReceiver<Command>,
        published: Arc<Published>,
    ) -> Self {
        ClientDriver {
            rt,
            core,
            pump: io.map(Pump::new),
            redial,
            parked: ParkedCalls::default(),
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
                let now = clock.now();
                if opts.waits_for_room() && (!self.parked.is_empty() || !self.has_room()) {
                    // Behind the calls already waiting, in order.
                    self.parked
                        .park(now, self.core.config(), payload, opts, ctx);
                    return;
                }
                let slot = ctx.slot.clone();
                match self.core.call_with(now, payload, opts, ctx) {
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

    /// Whether the core would take a call now.
    fn has_room(&self) -> bool {
        self.core
            .config()
            .check_room(self.core.queued_bytes())
            .is_ok()
    }

    fn publish(&self) {
        self.published.publish(&self.core, self.parked.len());
    }

    fn event(&self, kind: EventKind) {
        publish_event(&self.published, kind);
    }

    /// Routes the core's events: completions to their callers, the rest to
    /// subscribers. The snapshot is published first, so that a caller
    /// woken by its result reads counters that include it.
    fn drain_events(&mut self) {
        let mut published = false;
        while let Some(ev) = self.core.poll_event() {
            if !published {
                self.publish();
                published = true;
            }
            match Routed::route(ev) {
                Some(Routed::Completed { ctx, result }) => {
                    ctx.complete(result);
                    self.woken_since_write += 1;
                }
                Some(Routed::Event(kind)) => self.event(kind),
                // A client connection receives no requests.
                Some(Routed::Request { .. }) | None => {}
            }
        }
    }

    /// A reconnecting client: drops a lost connection and schedules the
    /// next, or takes a new one. Returns whether anything happened.
    fn poll_link(&mut self, cx: &mut Context<'_>, clock: &mut TurnClock) -> bool {
        let Some(redial) = &mut self.redial else {
            return false;
        };
        if let State::Disconnected { reason } = self.core.state() {
            if self.pump.take().is_some() {
                // Dropping the stream closes it.
                let kind = redial.lost(ReconnectCause::Lost(reason));
                self.event(kind);
                return true;
            }
        }
        if self.pump.is_some() {
            return false;
        }
        let mut progress = false;
        while let Poll::Ready(outcome) = redial.poll(cx) {
            progress = true;
            match outcome {
                Outcome::Connected(stream, addr) => {
                    self.pump = Some(Pump::new(stream));
                    self.published.set_peer(addr);
                    self.core.handle_connected(clock.now());
                    publish_event(&self.published, EventKind::Connected { addr });
                    break;
                }
                Outcome::Retrying(kind) => publish_event(&self.published, kind),
            }
        }
        progress
    }

    /// The connection has ended: calls still waiting or queued in the
    /// channel are refused with the reason it ended, shutdowns resolve,
    /// subscribers' streams end.
    fn finish(&mut self) {
        self.publish();
        self.commands.close();
        let reason = self.published.closed_reason();
        self.parked.fail_all(&reason);
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
        self.published.wake_all();
        self.published.events.close();
    }
}

/// Sends an event to the client's subscribers, with the current peer.
fn publish_event(published: &Published, kind: EventKind) {
    published.events.publish(ConnectionEvent {
        peer: published.peer(),
        kind,
    });
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
        progress |= self.poll_link(cx, &mut clock);
        for _ in 0..READS_PER_TURN {
            let Some(pump) = &mut self.pump else {
                break;
            };
            if !pump.poll_read(cx, &mut clock, &mut self.core) {
                break;
            }
            progress = true;
            self.drain_events();
        }
        let mut write = Write::Idle;
        if let Some(pump) = &mut self.pump {
            // Callers woken by completions since the last write and not
            // yet heard from are likely about to queue calls: worth one
            // scheduling round before the syscall. A lone caller that
            // already called back (window 1) is not made to wait.
            let expect_more = self.woken_since_write > self.calls_since_write;
            write = pump.poll_write(cx, &mut clock, &mut self.core, expect_more);
            if write == Write::Progress {
                progress = true;
                self.woken_since_write = 0;
                self.calls_since_write = 0;
            }
        }
        if !self.parked.is_empty() {
            match self.core.state() {
                // Calls waiting for room can never get it.
                State::Closed(reason) => self.parked.fail_all(&reason),
                _ => progress |= self.parked.offer(clock.now(), &mut self.core),
            }
        }
        let parked_deadline = self.parked.next_deadline();
        progress |= self
            .timer
            .poll(cx, &self.rt, &mut clock, &mut self.core, parked_deadline);
        self.drain_events();
        // A loss seen by this turn's reads or writes starts reconnecting.
        progress |= self.poll_link(cx, &mut clock);
        self.publish();
        Turn::after(progress, write)
    }
    fn finished(&self) -> bool {
        self.core.is_closed()
    }
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.pump {
            Some(pump) => pump.poll_close(cx),
            None => Poll::Ready(()),
        }
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
