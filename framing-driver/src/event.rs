//! Lifecycle and watermark events, published to every subscriber.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use framing_core::{DisconnectReason, ProtocolError, RpcId};
use tokio::sync::mpsc;

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
}

/// The set of subscribers of one connection.
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    senders: Mutex<Vec<mpsc::UnboundedSender<ConnectionEvent>>>,
}

impl Subscribers {
    pub(crate) fn subscribe(&self) -> Events {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().push(tx);
        Events { rx }
    }

    pub(crate) fn publish(&self, event: ConnectionEvent) {
        let mut senders = self.lock();
        senders.retain(|tx| tx.send(event.clone()).is_ok());
    }

    /// Ends every subscriber's stream.
    pub(crate) fn close(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::UnboundedSender<ConnectionEvent>>> {
        // A panic while holding this lock cannot leave the Vec inconsistent.
        self.senders.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A stream of [`ConnectionEvent`]s, from subscription on; it ends when
/// the connection's driver has finished.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<ConnectionEvent>,
}

impl Events {
    /// The next event, or `None` once the connection is gone.
    pub async fn recv(&mut self) -> Option<ConnectionEvent> {
        self.rx.recv().await
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<ConnectionEvent> {
        self.rx.try_recv().ok()
    }
}

impl futures_core::Stream for Events {
    type Item = ConnectionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}
