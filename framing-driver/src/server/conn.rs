//! The future that owns one server connection: requests out to the
//! handler, responses back in, answered in completion order.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use framing_core::{Connection, RpcId};
use futures_util::stream::{FuturesUnordered, Stream};

use super::{Active, Shared};
use crate::clock::TurnClock;
use crate::event::{ConnectionEvent, Routed};
use crate::pump::{poll_turns, Pump, Turn, Turns, Write, READS_PER_TURN};
use crate::runtime::{BoxFuture, Io, Runtime};
use crate::timer::CoreTimer;

pin_project_lite::pin_project! {
    /// A handler's future, tagged with the request id it answers.
    pub(crate) struct Tagged<F> {
        id: RpcId,
        #[pin]
        fut: F,
    }
}

impl<F: Future<Output = Bytes>> Future for Tagged<F> {
    type Output = (RpcId, Bytes);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let id = *this.id;
        this.fut.poll(cx).map(|b| (id, b))
    }
}

pub(crate) struct ServerConn<R: Runtime, S, H, F> {
    rt: R,
    core: Connection<Instant>,
    pump: Pump<S>,
    timer: CoreTimer<R>,
    handler: Arc<H>,
    in_flight: FuturesUnordered<Tagged<F>>,
    shared: Arc<Shared>,
    shutdown: Option<BoxFuture<'static, Instant>>,
    peer: Option<std::net::SocketAddr>,
    max_in_flight: usize,
    _active: Active,
}

impl<R, S, H, F> ServerConn<R, S, H, F>
where
    R: Runtime,
    S: Io,
    H: Fn(Bytes) -> F + Send + Sync + 'static,
    F: Future<Output = Bytes> + Send + 'static,
{
    pub(crate) fn new(
        rt: R,
        io: S,
        peer: Option<std::net::SocketAddr>,
        config: crate::Config,
        handler: Arc<H>,
        shared: Arc<Shared>,
    ) -> Self {
        let shutdown = Some(shared.shutdown_requested::<R>());
        let active = Active::new(&shared);
        ServerConn {
            rt,
            core: Connection::server(config.core().clone(), R::now()),
            pump: Pump::new(io),
            timer: CoreTimer::new(),
            handler,
            in_flight: FuturesUnordered::new(),
            shared,
            shutdown,
            peer,
            max_in_flight: config.max_in_flight(),
            _active: active,
        }
    }

    /// Routes the core's events: requests to the handler, the rest to
    /// subscribers.
    fn drain_events(&mut self) {
        while let Some(ev) = self.core.poll_event() {
            match Routed::route(ev) {
                Some(Routed::Request { id, payload }) => {
                    let fut = (self.handler)(payload);
                    self.in_flight.push(Tagged { id, fut });
                }
                Some(Routed::Event(kind)) => self.shared.events.publish(ConnectionEvent {
                    peer: self.peer,
                    kind,
                }),
                // A server connection makes no calls.
                Some(Routed::Completed { .. }) | None => {}
            }
        }
    }
}

impl<R, S, H, F> Turns for ServerConn<R, S, H, F>
where
    R: Runtime,
    S: Io,
    H: Fn(Bytes) -> F + Send + Sync + 'static,
    F: Future<Output = Bytes> + Send + 'static,
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
            if self.in_flight.len() >= self.max_in_flight
                || !self.pump.poll_read(cx, &mut clock, &mut self.core)
            {
                break;
            }
            progress = true;
            self.drain_events();
        }
        while let Poll::Ready(Some((id, response))) = Pin::new(&mut self.in_flight).poll_next(cx) {
            progress = true;
            if let Err(e) = self.core.respond(id, response) {
                // Only a handler bug gets here (a response too large for a
                // frame): the peer cannot be told, so end the connection
                // rather than leave its call hanging.
                tracing::error!(peer = ?self.peer, %id, error = %e, "cannot send response; closing");
                self.core.close();
                break;
            }
        }
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

impl<R, S, H, F> Future for ServerConn<R, S, H, F>
where
    R: Runtime,
    S: Io,
    H: Fn(Bytes) -> F + Send + Sync + 'static,
    F: Future<Output = Bytes> + Send + 'static,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Every field is Unpin: the handler futures are pinned inside
        // `FuturesUnordered`, which is itself Unpin.
        poll_turns(self.get_mut(), cx)
    }
}
