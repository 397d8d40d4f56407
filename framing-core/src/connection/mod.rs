//! The connection state machine: one type for both roles.

// One file per concern, each adding an `impl Connection` block. rustdoc
// lists the methods of these blocks in this order (inputs, commands, time,
// outputs), then those of the block below (constructors and getters).

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
use crate::{Config, Event, RpcId, Stats, Timestamp};

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
/// calls by [`RpcId`]).
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

impl<T: Timestamp, C> Connection<T, C> {
    /// A client connection (sends calls, matches responses).
    pub fn client(config: Config, now: T) -> Self {
        Self::new(Role::Client, config, now)
    }

    /// A server connection (receives requests, sends responses).
    pub fn server(config: Config, now: T) -> Self {
        Self::new(Role::Server, config, now)
    }

    /// A connection of the given role.
    pub fn new(role: Role, config: Config, now: T) -> Self {
        Connection {
            role,
            has_ids: config.codec.has_ids(),
            decoder: Decoder::new(config.read_chunk),
            queue: WriteQueue::new(config.coalesce_max),
            pending: Pending::new(config.codec.max_id(), now),
            recent: RecentIds::new(config.late_memory),
            replies: VecDeque::new(),
            replies_base: 0,
            outstanding_requests: 0,
            events: VecDeque::new(),
            paused: false,
            phase: Phase::Open,
            last_activity: now,
            idle_fired: false,
            stats: Stats::default(),
            config,
        }
    }

    // ------------------------------------------------------------ getters

    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Open => State::Open,
            Phase::ShuttingDown { .. } => State::ShuttingDown,
            Phase::Closed => State::Closed,
        }
    }

    /// Whether the connection has finished.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Unwritten bytes.
    pub fn queued_bytes(&self) -> usize {
        self.queue.queued()
    }

    /// Received bytes not yet forming a whole frame.
    pub fn buffered_bytes(&self) -> usize {
        self.decoder.buffered()
    }

    /// Memory held by the read buffer.
    pub fn read_buffer_capacity(&self) -> usize {
        self.decoder.capacity()
    }

    /// Requests received and not yet answered (server role).
    pub fn outstanding_requests(&self) -> usize {
        self.outstanding_requests
    }

    /// Calls awaiting a response.
    pub fn pending_calls(&self) -> usize {
        self.pending.live()
    }

    /// The context of a pending call, e.g. to check that an id still
    /// belongs to the call a caller wants to cancel.
    pub fn call_context(&self, id: RpcId) -> Option<&C> {
        self.pending.get(id.0)
    }

    /// Whether a `Pause` is in force (no `Resume` since).
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Whether the driver should read from the socket: not after the
    /// connection finished, and for a server not while its responses are
    /// paused or it is shutting down (backpressure onto the peer).
    pub fn wants_read(&self) -> bool {
        match self.phase {
            Phase::Closed => false,
            Phase::ShuttingDown { .. } => self.role == Role::Client,
            Phase::Open => self.role == Role::Client || !self.paused,
        }
    }
}
