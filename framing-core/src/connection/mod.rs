//! The connection state machine: one type for both roles.
//!
//! Each file owns a part of the connection's data and the methods that
//! change it:
//!
//! | file | data | methods |
//! |---|---|---|
//! | `mod.rs` | settings, counters | constructors, getters |
//! | `input.rs` | the read buffer | `handle_read`, `recv_buffer`, `handle_received`, `handle_eof`, `handle_io_error` |
//! | `client.rs` | pending calls, recently abandoned ids | `call`, `call_with`, `cancel`, `fail_pending` |
//! | `server.rs` | requests awaiting an answer | `respond` |
//! | `output.rs` | the write queue and its watermarks, events | `poll_event`, `poll_transmit` |
//! | `lifecycle.rs` | the [`State`] | `shutdown`, `close` |
//! | `reconnect.rs` | calls not yet written | `set_reconnect`, `handle_connected` |
//! | `timeouts.rs` | the idle clock | `handle_timeout`, `poll_timeout` |
//!
//! Whether a graceful shutdown has finished is not stored anywhere: it is
//! derived from the state and the data (nothing pending, nothing queued,
//! nothing left to answer) by [`Connection::is_closed`], so no input path
//! can forget to finish it.

mod client;
mod input;
mod lifecycle;
mod output;
mod reconnect;
mod server;
mod timeouts;

pub use lifecycle::State;
pub use output::Transmit;
pub use reconnect::WhileDisconnected;

use alloc::collections::VecDeque;

use crate::codec::{Decoder, WriteQueue};
use crate::pending::recent::RecentIds;
use crate::pending::Pending;
use crate::{Config, Event, RpcId, Stats, Timestamp};
use server::Requests;

/// Which end of the conversation a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Sends requests and matches responses.
    Client,
    /// Receives requests and answers them.
    Server,
}

/// A framed connection, without I/O.
///
/// `T` is the driver's [`Timestamp`]; `C` is a context attached to each
/// call and handed back with its completion (`()` if the caller tracks
/// calls by [`RpcId`]).
///
/// # Methods by role
///
/// - **getters**: [`stats`](Self::stats), [`state`](Self::state),
///   [`is_closed`](Self::is_closed), [`is_paused`](Self::is_paused),
///   [`queued_bytes`](Self::queued_bytes), [`pending_calls`](Self::pending_calls),
///   [`wants_read`](Self::wants_read), ...;
/// - **inputs**: [`handle_read`](Self::handle_read) (or
///   [`recv_buffer`](Self::recv_buffer) + [`handle_received`](Self::handle_received)),
///   [`handle_eof`](Self::handle_eof), [`handle_io_error`](Self::handle_io_error),
///   [`handle_timeout`](Self::handle_timeout);
/// - **commands**: [`call`](Self::call), [`call_with`](Self::call_with),
///   [`cancel`](Self::cancel), [`fail_pending`](Self::fail_pending) (client);
///   [`respond`](Self::respond) (server); [`shutdown`](Self::shutdown),
///   [`close`](Self::close);
/// - **outputs**: [`poll_event`](Self::poll_event),
///   [`poll_transmit`](Self::poll_transmit), [`poll_timeout`](Self::poll_timeout).
///
/// # Polling order
///
/// After any input or command: drain [`poll_event`](Self::poll_event) until
/// `None`; write what [`poll_transmit`](Self::poll_transmit) hands out (a
/// [`bytes::Buf`]: write its chunks, then `advance` by what was written);
/// then sleep until [`poll_timeout`](Self::poll_timeout) (or until the
/// socket is readable, if [`wants_read`](Self::wants_read)), and call
/// [`handle_timeout`](Self::handle_timeout) when it passes. Calling
/// `handle_timeout` early or twice is harmless.
#[derive(Debug)]
pub struct Connection<T: Timestamp, C = ()> {
    role: Role,
    config: Config,
    /// `config.codec.has_ids()`, read once.
    has_ids: bool,
    /// Received bytes not yet framed (`input.rs`).
    decoder: Decoder,
    /// Unwritten bytes (`output.rs`).
    queue: WriteQueue,
    /// Bytes ever queued: the offset the next frame starts at (`output.rs`).
    queued_total: u64,
    /// Reconnect mode: calls whose frames are not written yet (`reconnect.rs`).
    unsent: reconnect::Unsent,
    /// A `Pause` is in force (`output.rs`).
    paused: bool,
    /// Events not yet polled (`output.rs`).
    events: VecDeque<Event<C>>,
    /// Client: calls awaiting a response, with their deadlines (`client.rs`).
    pending: Pending<C, T>,
    /// Client: ids of calls cancelled or timed out (`client.rs`).
    recent: RecentIds,
    /// Server: requests awaiting an answer (`server.rs`).
    requests: Requests,
    /// Open, shutting down, or closed and why (`lifecycle.rs`).
    state: State<T>,
    /// Last read or write (`timeouts.rs`).
    last_activity: T,
    /// `IdleTimeout` raised since the last activity (`timeouts.rs`).
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

    fn new(role: Role, config: Config, now: T) -> Self {
        Connection {
            role,
            has_ids: config.codec.has_ids(),
            decoder: Decoder::new(config.read_chunk),
            queue: WriteQueue::new(config.coalesce_max),
            queued_total: 0,
            unsent: reconnect::Unsent::default(),
            paused: false,
            events: VecDeque::new(),
            pending: Pending::new(config.codec.max_id(), now),
            recent: RecentIds::new(config.late_memory),
            requests: Requests::default(),
            state: State::Open,
            last_activity: now,
            idle_fired: false,
            stats: Stats::default(),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Unwritten bytes (in reconnect mode, with those held for the next
    /// connection).
    pub fn queued_bytes(&self) -> usize {
        self.queue.queued() + self.unsent.held_bytes()
    }

    /// Received bytes not yet forming a whole frame; 0 once closed, as
    /// they will never be read (a graceful shutdown that finished outside
    /// a read leaves them in the buffer until the connection is dropped).
    pub fn buffered_bytes(&self) -> usize {
        if self.is_closed() {
            0
        } else {
            self.decoder.buffered()
        }
    }

    /// Memory held by the read buffer.
    pub fn read_buffer_capacity(&self) -> usize {
        self.decoder.capacity()
    }

    /// Requests received and not yet answered (server role).
    pub fn outstanding_requests(&self) -> usize {
        self.requests.outstanding()
    }

    /// Calls awaiting a response (client role).
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
        match self.state {
            _ if self.is_closed() => false,
            State::Disconnected { .. } => false,
            State::ShuttingDown { .. } => self.role == Role::Client,
            _ => self.role == Role::Client || !self.paused,
        }
    }
}
