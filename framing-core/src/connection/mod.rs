//! The connection state machine: one type for both roles.

// One file per concern, each adding an `impl Connection` block. rustdoc
// lists the methods of these blocks in this order: constructors and
// getters, inputs, commands, time, outputs.

// Constructors and read-only accessors.
mod accessors;
// Bytes in: reads, end of stream, I/O errors.
mod input;
// The client's commands: call, cancel, fail_pending.
mod calls;
// The server's command: respond.
mod respond;
// Graceful shutdown, close and failure.
mod lifecycle;
// Call deadlines, the idle timeout and the shutdown deadline.
mod timeouts;
// Events and bytes out, with the write-buffer watermarks.
mod output;

use alloc::collections::VecDeque;
use bytes::Bytes;

use crate::codec::{Decoder, WriteQueue};
use crate::pending::Pending;
use crate::recent::RecentIds;
use crate::{Config, Event, Stats, Timestamp};

/// Which end of the conversation a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends requests and matches responses.
    Client,
    /// Receives requests and answers them.
    Server,
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Working.
    Open,
    /// A graceful shutdown is under way: no new calls; in-flight calls may
    /// finish until the deadline.
    ShuttingDown,
    /// Finished: closed by the user, shut down, disconnected or failed.
    /// The driver should close the socket once nothing is left to write.
    Closed,
}

#[derive(Debug, Clone, Copy)]
enum Phase<T> {
    Open,
    ShuttingDown { deadline: T },
    Closed,
}

/// A framed connection, without I/O.
///
/// `T` is the driver's [`Timestamp`]; `C` is a context attached to each
/// call and handed back with its completion (`()` if the caller tracks
/// calls by [`RpcId`](crate::RpcId)).
///
/// # Methods by role
///
/// - **inputs**: [`handle_read`](Self::handle_read) (or
///   [`recv_buffer`](Self::recv_buffer) + [`handle_received`](Self::handle_received)),
///   [`handle_eof`](Self::handle_eof), [`handle_io_error`](Self::handle_io_error),
///   [`handle_timeout`](Self::handle_timeout), [`advance_transmit`](Self::advance_transmit);
/// - **commands**: [`call`](Self::call), [`call_with`](Self::call_with),
///   [`cancel`](Self::cancel), [`respond`](Self::respond),
///   [`fail_pending`](Self::fail_pending), [`shutdown`](Self::shutdown),
///   [`close`](Self::close);
/// - **outputs**: [`poll_event`](Self::poll_event),
///   [`poll_transmit`](Self::poll_transmit), [`poll_timeout`](Self::poll_timeout),
///   [`wants_read`](Self::wants_read);
/// - **getters**: [`stats`](Self::stats), [`state`](Self::state),
///   [`queued_bytes`](Self::queued_bytes), [`pending_calls`](Self::pending_calls).
///
/// # Polling order
///
/// After any input or command: drain [`poll_event`](Self::poll_event) until
/// `None`, write what [`poll_transmit`](Self::poll_transmit) returns and
/// report it with [`advance_transmit`](Self::advance_transmit), then sleep
/// until [`poll_timeout`](Self::poll_timeout) (or until the socket is
/// readable, if [`wants_read`](Self::wants_read)), and call
/// [`handle_timeout`](Self::handle_timeout) when it passes. Calling
/// `handle_timeout` early or twice is harmless.
#[derive(Debug)]
pub struct Connection<T: Timestamp, C = ()> {
    role: Role,
    config: Config,
    /// `config.codec.has_ids()`, read once.
    has_ids: bool,
    decoder: Decoder,
    queue: WriteQueue,
    /// The pending calls and their deadlines.
    pending: Pending<C, T>,
    recent: RecentIds,
    /// Server without ids: responses held until earlier ones are sent.
    replies: VecDeque<Option<Bytes>>,
    replies_base: u64,
    /// Server: requests received and not yet answered.
    outstanding_requests: usize,
    events: VecDeque<Event<C>>,
    paused: bool,
    phase: Phase<T>,
    last_activity: T,
    idle_fired: bool,
    stats: Stats,
}
