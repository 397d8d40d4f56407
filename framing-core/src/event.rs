//! What the connection reports.

use bytes::Bytes;

use crate::{CallError, DisconnectReason, ProtocolError, RpcId};

/// Output of [`Connection::poll_event`](crate::Connection::poll_event).
///
/// `C` is the per-call context the caller attached in
/// [`Connection::call`](crate::Connection::call), handed back with the
/// completion (an adapter puts its reply channel there).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<C> {
    /// A call ended: exactly one per accepted call (cancelled calls hand
    /// their context back from `cancel` instead).
    Completed {
        /// The call's id.
        id: RpcId,
        /// The caller's context.
        ctx: C,
        /// The response payload, or why there is none.
        result: Result<Bytes, CallError>,
    },
    /// A request arrived (server role). Answer with
    /// [`Connection::respond`](crate::Connection::respond) and this id.
    Request {
        /// The id to answer with.
        id: RpcId,
        /// The request payload, a slice of the read buffer.
        payload: Bytes,
    },
    /// Unwritten bytes rose above `warn_buffer_bytes`: stop producing.
    Pause {
        /// Unwritten bytes now.
        queued: usize,
    },
    /// Unwritten bytes fell to the low watermark: produce again.
    Resume {
        /// Unwritten bytes now.
        queued: usize,
    },
    /// Nothing was read or written for `idle_timeout`. The connection stays
    /// open; raised once per idle stretch.
    IdleTimeout,
    /// A response matched no pending call; it was dropped and counted.
    UnknownResponse {
        /// The id it carried (the FIFO position without ids).
        id: RpcId,
        /// `true` when the id belonged to a call that recently timed out or
        /// was cancelled.
        late: bool,
    },
    /// The peer broke the protocol; the connection has failed.
    ProtocolError(ProtocolError),
    /// The connection ended without `close()`: peer closed, reset, i/o
    /// error. Never raised after `close()`.
    Disconnected(DisconnectReason),
}
