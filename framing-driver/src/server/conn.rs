//! The future that owns one server connection: requests out to its
//! handler (each failing alone), answers back in, answered in completion
//! order.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use framing_core::{Connection, RpcId};
use futures_util::stream::{FuturesUnordered, Stream};
use futures_util::FutureExt;

use super::handler::{BoxError, ConnectionInfo, Handler, Request};
use super::stats::Counters;
use super::{Active, Shared};
use crate::clock::TurnClock;
use crate::event::{ConnectionEvent, EventKind, Routed};
use crate::pump::{poll_turns, Pump, Turn, Turns, Write, READS_PER_TURN};
use crate::runtime::{BoxFuture, Io, Runtime};
use crate::timer::CoreTimer;
use crate::Config;

/// How one request ended.
enum Outcome {
    Answer(Bytes),
    Failed(Failure),
}

enum Failure {
    Error(BoxError),
    Panic,
    Timeout,
}

pin_project_lite::pin_project! {
    /// A handler's future for one request: a panic is caught, and with a
    /// request timeout the future is bounded by its timer.
    struct Guarded<F, T> {
        id: RpcId,
        #[pin]
        fut: futures_util::future::CatchUnwind<AssertUnwindSafe<F>>,
        timer: Option<T>,
    }
}

impl<F, T> Guarded<F, T>
where
    F: Future<Output = Result<Bytes, BoxError>>,
{
    fn new(id: RpcId, fut: F, timer: Option<T>) -> Self {
        Guarded {
            id,
            fut: AssertUnwindSafe(fut).catch_unwind(),
            timer,
        }
    }
}

impl<F, T> Future for Guarded<F, T>
where
    F: Future<Output = Result<Bytes, BoxError>>,
    T: Future<Output = ()> + Unpin,
{
    type Output = (RpcId, Outcome);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(r) = this.fut.poll(cx) {
            let outcome = match r {
                Ok(Ok(bytes)) => Outcome::Answer(bytes),
                Ok(Err(e)) => Outcome::Failed(Failure::Error(e)),
                Err(_) => Outcome::Failed(Failure::Panic),
            };
            return Poll::Ready((*this.id, outcome));
        }
        if let Some(timer) = this.timer {
            if Pin::new(timer).poll(cx).is_ready() {
                return Poll::Ready((*this.id, Outcome::Failed(Failure::Timeout)));
            }
        }
        Poll::Pending
    }
}

pub(crate) struct ServerConn<R: Runtime, S, H: Handler> {
    rt: R,
    core: Connection<Instant>,
    pump: Pump<S>,
    timer: CoreTimer<R>,
    /// Boxed, so the connection is `Unpin` whatever the handler.
    handler: Box<H>,
    info: Arc<ConnectionInfo>,
    /// Requests read but not yet handed to a handler that was not ready.
    waiting: VecDeque<(RpcId, Bytes)>,
    in_flight: FuturesUnordered<Guarded<H::Future, R::Timer>>,
    shared: Arc<Shared>,
    shutdown: Option<BoxFuture<'static, Instant>>,
    config: Config,
    _active: Active,
}

impl<R, S, H> ServerConn<R, S, H>
where
    R: Runtime,
    S: Io,
    H: Handler,
{
    pub(crate) fn new(
        rt: R,
        io: S,
        info: ConnectionInfo,
        config: Config,
        handler: H,
        shared: Arc<Shared>,
    ) -> Self {
        let shutdown = Some(shared.shutdown_requested::<R>());
        let active = Active::connection(&shared);
        let core_config = match config.idle_close() {
            // The core's idle timer is the one that closes.
            Some(idle) => config
                .core()
                .to_builder()
                .idle_timeout(Some(idle))
                .build()
                .expect("a valid config with a positive idle timeout"),
            None => config.core().clone(),
        };
        ServerConn {
            rt,
            core: Connection::server(core_config, R::now()),
            pump: Pump::new(io),
            timer: CoreTimer::new(),
            handler: Box::new(handler),
            info: Arc::new(info),
            waiting: VecDeque::new(),
            in_flight: FuturesUnordered::new(),
            shared,
            shutdown,
            config,
            _active: active,
        }
    }

    fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Routes the core's events: requests to the handler's queue, the rest
    /// to subscribers. An idle connection with no request being handled is
    /// closed when asked to.
    fn drain_events(&mut self) {
        while let Some(ev) = self.core.poll_event() {
            match Routed::route(ev) {
                Some(Routed::Request { id, payload }) => self.waiting.push_back((id, payload)),
                Some(Routed::Event(kind)) => {
                    let idle = kind == EventKind::IdleTimeout;
                    self.shared.events.publish(ConnectionEvent {
                        peer: self.info.peer,
                        kind,
                    });
                    // A connection whose requests are still being
                    // handled is waiting for us, not silent.
                    let busy = !self.in_flight.is_empty() || !self.waiting.is_empty();
                    if idle && !busy && self.config.idle_close().is_some() {
                        tracing::debug!(peer = ?self.info.peer, "closing an idle connection");
                        Counters::add(&self.counters().idle_closed);
                        self.core.close();
                    }
                }
                // A server connection makes no calls.
                Some(Routed::Completed { .. }) | None => {}
            }
        }
    }

    /// Hands waiting requests to the handler while it is ready and fewer
    /// than `max_in_flight` are being handled.
    fn dispatch(&mut self, cx: &mut Context<'_>, clock: &mut TurnClock) -> bool {
        let mut progress = false;
        while !self.waiting.is_empty() && self.in_flight.len() < self.config.max_in_flight() {
            let ready = catch(|| self.handler.poll_ready(cx));
            let (id, payload) = match ready {
                Poll::Pending => break,
                Poll::Ready(Ok(())) => self.waiting.pop_front().expect("not empty"),
                Poll::Ready(Err(failure)) => {
                    let (id, _) = self.waiting.pop_front().expect("not empty");
                    self.failed(id, failure);
                    progress = true;
                    continue;
                }
            };
            progress = true;
            let request = Request {
                payload,
                id,
                connection: self.info.clone(),
            };
            let timer = self
                .config
                .request_timeout()
                .map(|t| self.rt.timer(clock.now() + t));
            match catch(|| Poll::Ready(Ok(self.handler.call(request)))) {
                Poll::Ready(Ok(fut)) => self.in_flight.push(Guarded::new(id, fut, timer)),
                Poll::Ready(Err(failure)) => self.failed(id, failure),
                Poll::Pending => unreachable!("a call is ready"),
            }
        }
        progress
    }

    fn answer(&mut self, id: RpcId, outcome: Outcome) {
        match outcome {
            Outcome::Answer(bytes) => {
                if let Err(e) = self.core.respond(id, bytes) {
                    // Only a handler bug gets here (a response too large
                    // for a frame): the peer cannot be told, so end the
                    // connection rather than leave its call hanging.
                    tracing::error!(peer = ?self.info.peer, %id, error = %e, "cannot send response; closing");
                    self.core.close();
                }
            }
            Outcome::Failed(failure) => self.failed(id, failure),
        }
    }

    /// A request's handler failed: count it, say so, and answer with the
    /// failure response or not at all.
    fn failed(&mut self, id: RpcId, failure: Failure) {
        Counters::add(&self.counters().handler_failures);
        match &failure {
            Failure::Error(e) => {
                tracing::warn!(peer = ?self.info.peer, %id, error = %e, "handler failed")
            }
            Failure::Panic => tracing::warn!(peer = ?self.info.peer, %id, "handler panicked"),
            Failure::Timeout => {
                Counters::add(&self.counters().request_timeouts);
                tracing::warn!(peer = ?self.info.peer, %id, "handler overran the request timeout")
            }
        }
        let fallback = self.config.failure_response().cloned();
        let unanswered = match fallback {
            Some(payload) => self.core.respond(id, payload),
            None => self.core.discard(id).or_else(|_| {
                // Without ids every request is answered, in order.
                self.core.respond(id, Bytes::new())
            }),
        };
        if let Err(e) = unanswered {
            tracing::error!(peer = ?self.info.peer, %id, error = %e, "cannot end a failed request; closing");
            self.core.close();
        }
    }
}

/// Runs a handler method, turning a panic into a failure of the request.
fn catch<T>(f: impl FnOnce() -> Poll<Result<T, BoxError>>) -> Poll<Result<T, Failure>> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Poll::Ready(Ok(v))) => Poll::Ready(Ok(v)),
        Ok(Poll::Ready(Err(e))) => Poll::Ready(Err(Failure::Error(e))),
        Ok(Poll::Pending) => Poll::Pending,
        Err(_) => Poll::Ready(Err(Failure::Panic)),
    }
}

impl<R, S, H> Turns for ServerConn<R, S, H>
where
    R: Runtime,
    S: Io,
    H: Handler,
{
    fn turn(&mut self, cx: &mut Context<'_>) -> Turn {
        let mut progress = false;
        let mut clock = TurnClock::new(R::now);
        if let Some(signal) = &mut self.shutdown {
            if let Poll::Ready(deadline) = signal.as_mut().poll(cx) {
                self.shutdown = None;
                self.core.shutdown(deadline);
                progress = true;
            }
        }
        for _ in 0..READS_PER_TURN {
            // Backpressure: nothing is read while requests wait for the
            // handler or too many are in flight.
            if !self.waiting.is_empty()
                || self.in_flight.len() >= self.config.max_in_flight()
                || !self.pump.poll_read(cx, &mut clock, &mut self.core)
            {
                break;
            }
            progress = true;
            self.drain_events();
            progress |= self.dispatch(cx, &mut clock);
        }
        progress |= self.dispatch(cx, &mut clock);
        while let Poll::Ready(Some((id, outcome))) = Pin::new(&mut self.in_flight).poll_next(cx) {
            progress = true;
            self.answer(id, outcome);
            if self.core.is_closed() {
                break;
            }
        }
        progress |= self.dispatch(cx, &mut clock);
        let write = self.pump.poll_write(cx, &mut clock, &mut self.core, false);
        progress |= write == Write::Progress;
        progress |= self
            .timer
            .poll(cx, &self.rt, &mut clock, &mut self.core, None);
        self.drain_events();
        Turn::after(progress, write)
    }
    fn finished(&self) -> bool {
        self.core.is_closed()
    }
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.pump.poll_close(cx)
    }
}

impl<R, S, H> Future for ServerConn<R, S, H>
where
    R: Runtime,
    S: Io,
    H: Handler,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Every field is Unpin: the handler futures are pinned inside
        // `FuturesUnordered`, which is itself Unpin.
        poll_turns(self.get_mut(), cx)
    }
}
