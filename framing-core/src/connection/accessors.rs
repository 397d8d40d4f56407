//! Constructors and read-only accessors of [`Connection`].

use alloc::collections::VecDeque;

use super::{Connection, Phase, Role, State};
use crate::codec::{Decoder, WriteQueue};
use crate::pending::Pending;
use crate::recent::RecentIds;
use crate::{Config, RpcId, Stats, Timestamp};

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
