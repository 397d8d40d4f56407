//! Lifecycle and watermark events, published to every subscriber over a
//! bounded broadcast channel.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use framing_core::{CallError, DisconnectReason, Event, ProtocolError, RpcId};
use tokio::sync::broadcast;

use crate::runtime::BoxFuture;
use crate::ConnectError;

/// An event of one connection, with the peer's address (as the Node
/// library's events carried host and port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEvent {
    /// The peer, when the stream has an address.
    pub peer: Option<SocketAddr>,
    /// What happened.
    pub kind: EventKind,
}

/// What happened on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// Unwritten bytes rose above `warn_buffer_bytes`.
    Pause {
        /// Unwritten bytes then.
        queued: usize,
    },
    /// Unwritten bytes fell back to the low watermark.
    Resume {
        /// Unwritten bytes then.
        queued: usize,
    },
    /// Nothing was read or written for the idle timeout; the connection
    /// stays open.
    IdleTimeout,
    /// The connection ended without `close()`.
    Disconnected {
        /// Why.
        last_error: DisconnectReason,
    },
    /// A response matched no pending call and was dropped.
    UnknownResponse {
        /// Its id.
        id: RpcId,
        /// Whether the id belonged to a call that recently timed out or
        /// was cancelled.
        late: bool,
    },
    /// The peer broke the protocol; the connection failed.
    ProtocolError(ProtocolError),
    /// A reconnecting client is connected (again), to this address.
    Connected {
        /// The address the connection went to.
        addr: SocketAddr,
    },
    /// A reconnecting client will try to connect again after `delay`.
    Reconnecting {
        /// Attempts since the last connection, this one included (1 for
        /// the first after a loss).
        attempt: u32,
        /// How long it waits before this attempt.
        delay: Duration,
        /// What ended the connection, or made the last attempt fail.
        last_error: ReconnectCause,
    },
    /// This subscriber fell more than the configured `event_capacity`
    /// events behind and missed the oldest `missed` of them (other
    /// subscribers are not affected).
    Lagged {
        /// Events this subscriber will never see.
        missed: u64,
    },
}

/// Why a reconnecting client is connecting again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReconnectCause {
    /// The connection ended.
    Lost(DisconnectReason),
    /// The last attempt failed.
    Failed(Arc<ConnectError>),
}

impl std::fmt::Display for ReconnectCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReconnectCause::Lost(r) => write!(f, "connection lost: {r}"),
            ReconnectCause::Failed(e) => write!(f, "attempt failed: {e}"),
        }
    }
}

/// A core event, split by where it goes.
#[derive(Debug)]
pub(crate) enum Routed<C> {
    /// To subscribers.
    Event(EventKind),
    /// To the caller waiting for this call (client).
    Completed {
        ctx: C,
        result: Result<Bytes, CallError>,
    },
    /// To the handler (server).
    Request { id: RpcId, payload: Bytes },
}

impl<C> Routed<C> {
    /// The one conversion from the core's events to the adapters'. `None`
    /// for a kind of event this driver does not know (the core's enum is
    /// non-exhaustive): it is not published.
    pub(crate) fn route(ev: Event<C>) -> Option<Self> {
        let kind = match ev {
            Event::Completed { ctx, result, .. } => return Some(Routed::Completed { ctx, result }),
            Event::Request { id, payload } => return Some(Routed::Request { id, payload }),
            Event::Pause { queued } => EventKind::Pause { queued },
            Event::Resume { queued } => EventKind::Resume { queued },
            Event::IdleTimeout => EventKind::IdleTimeout,
            Event::UnknownResponse { id, late } => EventKind::UnknownResponse { id, late },
            Event::ProtocolError(p) => EventKind::ProtocolError(p),
            Event::Disconnected(r) => EventKind::Disconnected { last_error: r },
            _ => return None,
        };
        Some(Routed::Event(kind))
    }
}

/// The subscribers of one connection (or of every connection of a
/// server). The channel is made on the first subscription, so a
/// connection nobody listens to holds no event buffer.
#[derive(Debug)]
pub(crate) struct Subscribers {
    tx: Mutex<Slot>,
    capacity: usize,
}

#[derive(Debug)]
enum Slot {
    /// Nobody subscribed yet.
    Idle,
    Open(broadcast::Sender<ConnectionEvent>),
    /// The connection is gone: new subscribers get an ended stream.
    Closed,
}

impl Subscribers {
    pub(crate) fn new(capacity: usize) -> Self {
        Subscribers {
            tx: Mutex::new(Slot::Idle),
            capacity,
        }
    }

    pub(crate) fn subscribe(&self, peer: Option<SocketAddr>) -> Events {
        let mut slot = self.lock();
        let rx = match &*slot {
            Slot::Open(tx) => tx.subscribe(),
            Slot::Idle => {
                let (tx, rx) = broadcast::channel(self.capacity);
                *slot = Slot::Open(tx);
                rx
            }
            // The sender is dropped at once: the stream ends.
            Slot::Closed => broadcast::channel(1).1,
        };
        Events {
            rx: Some(rx),
            peer,
            next: None,
        }
    }

    pub(crate) fn publish(&self, event: ConnectionEvent) {
        if let Slot::Open(tx) = &*self.lock() {
            // No receiver left is not an error: nobody listens.
            let _ = tx.send(event);
        }
    }

    /// Ends every subscriber's stream after the events already sent.
    pub(crate) fn close(&self) {
        *self.lock() = Slot::Closed;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        // A panic while holding this lock cannot leave the slot inconsistent.
        self.tx.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Next = BoxFuture<
    'static,
    (
        broadcast::Receiver<ConnectionEvent>,
        Result<ConnectionEvent, broadcast::error::RecvError>,
    ),
>;

/// A stream of [`ConnectionEvent`]s, from subscription on; it ends when
/// the connection's driver has finished. Bounded: a subscriber that falls
/// more than `event_capacity` events behind misses the oldest and gets an
/// [`EventKind::Lagged`] saying how many.
pub struct Events {
    /// `None` while `next` holds it.
    rx: Option<broadcast::Receiver<ConnectionEvent>>,
    peer: Option<SocketAddr>,
    /// A receive in progress, when polled as a `Stream`.
    next: Option<Next>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Events {
    /// The next event, or `None` once the connection is gone.
    pub async fn recv(&mut self) -> Option<ConnectionEvent> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<ConnectionEvent> {
        use broadcast::error::TryRecvError;
        let rx = self.rx.as_mut()?;
        match rx.try_recv() {
            Ok(ev) => Some(ev),
            Err(TryRecvError::Lagged(missed)) => Some(self.lagged(missed)),
            Err(TryRecvError::Empty | TryRecvError::Closed) => None,
        }
    }

    fn lagged(&self, missed: u64) -> ConnectionEvent {
        ConnectionEvent {
            peer: self.peer,
            kind: EventKind::Lagged { missed },
        }
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<ConnectionEvent>> {
        use broadcast::error::RecvError;
        let next = match &mut self.next {
            Some(next) => next,
            None => {
                let Some(mut rx) = self.rx.take() else {
                    return Poll::Ready(None);
                };
                self.next.insert(Box::pin(async move {
                    let result = rx.recv().await;
                    (rx, result)
                }))
            }
        };
        let (rx, result) = std::task::ready!(next.as_mut().poll(cx));
        self.next = None;
        self.rx = Some(rx);
        Poll::Ready(match result {
            Ok(ev) => Some(ev),
            Err(RecvError::Lagged(missed)) => Some(self.lagged(missed)),
            Err(RecvError::Closed) => None,
        })
    }
}

impl futures_core::Stream for Events {
    type Item = ConnectionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_recv(cx)
    }
}
