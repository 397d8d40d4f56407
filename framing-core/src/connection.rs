//! The connection state machine: one type for both roles.

use alloc::collections::VecDeque;
use bytes::Bytes;

use crate::codec::{Decoder, EncodeError, WriteQueue, MAX_HEADER_LEN};
use crate::pending::{Lookup, Pending};
use crate::recent::RecentIds;
use crate::{
    CallError, CallOptions, Config, DisconnectReason, Event, ProtocolError, Rejected, RespondError,
    RpcId, Stats, Timestamp,
};

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

    // ------------------------------------------------------------ inputs

    /// Bytes received from the peer (copied into the read buffer).
    pub fn handle_read(&mut self, now: T, data: &[u8]) {
        if self.is_closed() || data.is_empty() {
            return;
        }
        self.decoder.extend(data);
        self.received(now, data.len());
    }

    /// Room to read into, avoiding a copy; report the count read with
    /// [`handle_received`](Self::handle_received). The room is at least
    /// half the configured read chunk.
    pub fn recv_buffer(&mut self) -> &mut [u8] {
        self.decoder.recv_buffer()
    }

    /// `n` bytes were read into [`recv_buffer`](Self::recv_buffer).
    pub fn handle_received(&mut self, now: T, n: usize) {
        if self.is_closed() || n == 0 {
            return;
        }
        self.decoder.commit(n);
        self.received(now, n);
    }

    fn received(&mut self, now: T, n: usize) {
        self.stats.bytes_in += n as u64;
        self.touch(now);
        loop {
            match self.decoder.next_frame(&self.config.codec) {
                Ok(Some((id, payload))) => {
                    self.stats.frames_in += 1;
                    match self.role {
                        Role::Client => self.on_response(id, payload),
                        Role::Server => self.on_request(id, payload),
                    }
                    // A shutdown ends with the last answer, whatever follows
                    // it in the same read: the outcome must not depend on
                    // how the stream was cut.
                    self.check_shutdown_done();
                    if self.is_closed() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.fail(Failure::Protocol(e));
                    return;
                }
            }
        }
        self.check_shutdown_done();
    }

    fn on_response(&mut self, id: RpcId, payload: Bytes) {
        match self.pending.take_response(id.0, &self.recent) {
            Lookup::Found(key, ctx) => {
                self.stats.responses += 1;
                self.events.push_back(Event::Completed {
                    id: RpcId(key),
                    ctx,
                    result: Ok(payload),
                });
            }
            Lookup::Late(key) => {
                self.stats.unknown_responses += 1;
                self.stats.late_responses += 1;
                self.events.push_back(Event::UnknownResponse {
                    id: RpcId(key),
                    late: true,
                });
            }
            Lookup::Unknown(key) => {
                if self.config.strict_unknown_ids {
                    self.fail(Failure::Protocol(ProtocolError::UnknownResponseId {
                        id: RpcId(key),
                    }));
                } else {
                    self.stats.unknown_responses += 1;
                    self.events.push_back(Event::UnknownResponse {
                        id: RpcId(key),
                        late: false,
                    });
                }
            }
        }
    }

    fn on_request(&mut self, id: RpcId, payload: Bytes) {
        self.stats.requests += 1;
        self.outstanding_requests += 1;
        let id = if self.has_ids {
            id
        } else {
            self.replies.push_back(None);
            RpcId(self.replies_base + self.replies.len() as u64 - 1)
        };
        self.events.push_back(Event::Request { id, payload });
    }

    /// The peer closed its end. Pending calls complete with
    /// `Disconnected`, and [`Event::Disconnected`] says whether it closed
    /// mid-frame.
    pub fn handle_eof(&mut self, now: T) {
        let reason = match self.decoder.buffered() {
            0 => DisconnectReason::PeerClosed,
            buffered => DisconnectReason::PeerClosedMidFrame { buffered },
        };
        self.handle_io_error(now, reason);
    }

    /// Reading or writing failed: the connection ends as by
    /// [`handle_eof`](Self::handle_eof), with this reason.
    pub fn handle_io_error(&mut self, _now: T, reason: DisconnectReason) {
        if !self.is_closed() {
            self.fail(Failure::Disconnected(reason));
        }
    }

    /// Fires what is due at `now`: call deadlines, the idle timeout and a
    /// shutdown deadline. Early or repeated calls are harmless.
    pub fn handle_timeout(&mut self, now: T) {
        if self.is_closed() {
            return;
        }
        while let Some((key, ctx)) = self.pending.pop_due(now) {
            self.stats.timeouts += 1;
            self.recent.insert(key);
            self.events.push_back(Event::Completed {
                id: RpcId(key),
                ctx,
                result: Err(CallError::DeadlineExceeded),
            });
        }
        if let Some(idle_at) = self.idle_deadline() {
            if now >= idle_at {
                self.idle_fired = true;
                self.events.push_back(Event::IdleTimeout);
            }
        }
        if let Phase::ShuttingDown { deadline } = self.phase {
            if now >= deadline {
                self.fail(Failure::Closed);
                return;
            }
        }
        self.check_shutdown_done();
    }

    /// `n` bytes of [`poll_transmit`](Self::poll_transmit) were written.
    pub fn advance_transmit(&mut self, now: T, n: usize) {
        if n == 0 {
            return;
        }
        self.queue.advance(n);
        self.stats.bytes_out += n as u64;
        self.touch(now);
        if self.paused && self.queue.queued() <= self.config.low_buffer_bytes {
            self.paused = false;
            self.events.push_back(Event::Resume {
                queued: self.queue.queued(),
            });
        }
        self.check_shutdown_done();
    }

    fn touch(&mut self, now: T) {
        self.last_activity = now;
        self.idle_fired = false;
    }

    // ------------------------------------------------------------ commands

    /// Sends a request with an id chosen by the core and the connection's
    /// default deadline. See [`call_with`](Self::call_with).
    ///
    /// # Errors
    /// As [`call_with`](Self::call_with).
    pub fn call(&mut self, now: T, payload: Bytes, ctx: C) -> Result<RpcId, Rejected<C>> {
        self.call_with(now, payload, CallOptions::default(), ctx)
    }

    /// Sends a request. On success the call is pending and will complete
    /// exactly once, as an [`Event::Completed`] carrying `ctx`, unless it
    /// is [`cancel`](Self::cancel)led.
    ///
    /// # Errors
    /// The call is refused at once, with payload and context handed back
    /// in [`Rejected`], when: the connection is not a client
    /// (`WrongRole`), closed (`Closed`) or shutting down (`ShuttingDown`);
    /// more than `max_buffer_bytes` are unwritten (`BufferFull`); the
    /// requested id is pending (`DuplicateRpcId`) or does not fit
    /// (`IdOutOfRange`); no id is free (`NoFreeId`); or the payload is too
    /// large for a frame (`FrameTooLarge`).
    pub fn call_with(
        &mut self,
        now: T,
        payload: Bytes,
        opts: CallOptions,
        ctx: C,
    ) -> Result<RpcId, Rejected<C>> {
        match self.prepare_call(&payload, opts) {
            Ok((key, header, hl)) => {
                let deadline = opts
                    .resolve_timeout(self.config.call_timeout)
                    .map(|d| now.add_duration(d));
                self.pending.insert(key, ctx, deadline);
                self.stats.calls += 1;
                self.enqueue(&header[..hl], payload);
                Ok(RpcId(key))
            }
            Err(error) => {
                self.stats.rejected += 1;
                if matches!(error, CallError::BufferFull { .. }) {
                    self.stats.rejected_buffer_full += 1;
                }
                Err(Rejected {
                    error,
                    payload,
                    ctx,
                })
            }
        }
    }

    fn prepare_call(
        &mut self,
        payload: &Bytes,
        opts: CallOptions,
    ) -> Result<(u64, [u8; MAX_HEADER_LEN], usize), CallError> {
        if self.role != Role::Client {
            return Err(CallError::WrongRole);
        }
        match self.phase {
            Phase::Open => {}
            Phase::ShuttingDown { .. } => return Err(CallError::ShuttingDown),
            Phase::Closed => return Err(CallError::Closed),
        }
        let queued = self.queue.queued();
        if queued > self.config.max_buffer_bytes {
            return Err(CallError::BufferFull {
                queued,
                max: self.config.max_buffer_bytes,
            });
        }
        let key = match opts.id {
            Some(id) => {
                let Some(max) = self.config.codec.max_id() else {
                    return Err(CallError::IdsNotSupported);
                };
                if id.0 > max {
                    return Err(CallError::IdOutOfRange { id, max });
                }
                if self.pending.contains(id.0) {
                    return Err(CallError::DuplicateRpcId(id));
                }
                id.0
            }
            None => self
                .pending
                .next_key(&self.recent)
                .ok_or(CallError::NoFreeId)?,
        };
        let wire_id = if self.has_ids { key } else { 0 };
        let mut header = [0u8; MAX_HEADER_LEN];
        let hl = self
            .config
            .codec
            .encode_header(RpcId(wire_id), payload.len(), &mut header)
            .map_err(|e| match e {
                EncodeError::FrameTooLarge { length, max } => {
                    CallError::FrameTooLarge { length, max }
                }
                EncodeError::IdOutOfRange { id, max } => CallError::IdOutOfRange { id, max },
            })?;
        if opts.id.is_some() {
            self.recent.remove(key);
        }
        Ok((key, header, hl))
    }

    fn enqueue(&mut self, header: &[u8], payload: Bytes) {
        self.queue.push(header, payload);
        self.stats.frames_out += 1;
        if !self.paused && self.queue.queued() > self.config.warn_buffer_bytes {
            self.paused = true;
            self.events.push_back(Event::Pause {
                queued: self.queue.queued(),
            });
        }
    }

    /// Cancels a pending call, handing its context back; no completion
    /// event follows. A response that arrives later is dropped and reported
    /// as late. Returns `None` if the call is not pending.
    pub fn cancel(&mut self, id: RpcId) -> Option<C> {
        let ctx = self.pending.remove(id.0)?;
        self.recent.insert(id.0);
        self.stats.cancelled += 1;
        self.check_shutdown_done();
        Some(ctx)
    }

    /// Answers the request `id` (server role). Responses may be given in
    /// any order; without an id field they are still sent in request order.
    ///
    /// # Errors
    /// A [`RespondError`] when the connection is not a server or is closed,
    /// the id does not fit or (without ids) answers no waiting request, or
    /// the payload is too large for a frame.
    pub fn respond(&mut self, id: RpcId, payload: Bytes) -> Result<(), RespondError> {
        if self.role != Role::Server {
            return Err(RespondError::WrongRole);
        }
        if self.is_closed() {
            return Err(RespondError::Closed);
        }
        let mut header = [0u8; MAX_HEADER_LEN];
        let wire_id = if self.has_ids { id } else { RpcId(0) };
        let hl = self
            .config
            .codec
            .encode_header(wire_id, payload.len(), &mut header)
            .map_err(|e| match e {
                EncodeError::FrameTooLarge { length, max } => {
                    RespondError::FrameTooLarge { length, max }
                }
                EncodeError::IdOutOfRange { id, max } => RespondError::IdOutOfRange { id, max },
            })?;
        if self.has_ids {
            self.enqueue(&header[..hl], payload);
            self.outstanding_requests = self.outstanding_requests.saturating_sub(1);
        } else {
            let slot =
                id.0.checked_sub(self.replies_base)
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| self.replies.get_mut(i))
                    .filter(|s| s.is_none())
                    .ok_or(RespondError::UnknownRequest(id))?;
            *slot = Some(payload);
            self.outstanding_requests = self.outstanding_requests.saturating_sub(1);
            while let Some(Some(_)) = self.replies.front() {
                if let Some(Some(p)) = self.replies.pop_front() {
                    self.replies_base += 1;
                    let hl = self
                        .config
                        .codec
                        .encode_header(RpcId(0), p.len(), &mut header)
                        .expect("checked when the reply was stored");
                    self.enqueue(&header[..hl], p);
                }
            }
        }
        Ok(())
    }

    /// Completes every pending call with `FailedByUser`. The connection
    /// stays usable; responses to the failed calls are reported as late.
    pub fn fail_pending(&mut self) {
        let (events, recent, stats) = (&mut self.events, &mut self.recent, &mut self.stats);
        self.pending.drain(false, |key, ctx| {
            recent.insert(key);
            stats.failed += 1;
            events.push_back(Event::Completed {
                id: RpcId(key),
                ctx,
                result: Err(CallError::FailedByUser),
            });
        });
        self.check_shutdown_done();
    }

    /// Starts a graceful shutdown: new calls are refused with
    /// `ShuttingDown`; in-flight calls may finish until `deadline`, when
    /// the rest complete with `Closed`. The state becomes
    /// [`State::Closed`] once nothing is pending or left to write. A server
    /// stops reading requests and closes once every request it received is
    /// answered and written (or at the deadline).
    pub fn shutdown(&mut self, deadline: T) {
        match self.phase {
            Phase::Open => self.phase = Phase::ShuttingDown { deadline },
            Phase::ShuttingDown { deadline: d } if deadline < d => {
                self.phase = Phase::ShuttingDown { deadline }
            }
            _ => {}
        }
        self.check_shutdown_done();
    }

    /// Closes at once: every pending call completes with `Closed`, unwritten
    /// bytes are dropped, and no `Disconnected` event follows.
    pub fn close(&mut self) {
        if !self.is_closed() {
            self.fail(Failure::Closed);
        }
    }

    fn check_shutdown_done(&mut self) {
        if let Phase::ShuttingDown { .. } = self.phase {
            if self.pending.live() == 0 && self.queue.is_empty() && self.outstanding_requests == 0 {
                self.phase = Phase::Closed;
                self.release();
            }
        }
    }

    /// Ends the connection: every pending call completes with the error the
    /// failure implies, and its event (if any) is raised.
    fn fail(&mut self, failure: Failure) {
        let error = match &failure {
            Failure::Closed => CallError::Closed,
            Failure::Protocol(p) => CallError::Protocol(*p),
            Failure::Disconnected(r) => CallError::Disconnected(r.clone()),
        };
        let (events, stats) = (&mut self.events, &mut self.stats);
        self.pending.drain(true, |key, ctx| {
            stats.failed += 1;
            events.push_back(Event::Completed {
                id: RpcId(key),
                ctx,
                result: Err(error.clone()),
            });
        });
        match failure {
            Failure::Closed => {}
            Failure::Protocol(p) => self.events.push_back(Event::ProtocolError(p)),
            Failure::Disconnected(r) => self.events.push_back(Event::Disconnected(r)),
        }
        self.phase = Phase::Closed;
        self.queue.clear();
        self.release();
    }

    fn release(&mut self) {
        self.outstanding_requests = 0;
        self.pending.clear_deadlines();
        self.decoder.clear();
        self.replies.clear();
    }

    // ------------------------------------------------------------ outputs

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event<C>> {
        self.events.pop_front()
    }

    /// The unwritten bytes, as slices in order. Write some of them and
    /// report how many with [`advance_transmit`](Self::advance_transmit).
    pub fn poll_transmit(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.queue.chunks()
    }

    /// Fills `out` with the unwritten bytes as `IoSlice`s for one vectored
    /// write, returning how many slots were filled (0: nothing to write).
    #[cfg(feature = "std")]
    pub fn transmit_io_slices<'a>(&'a self, out: &mut [std::io::IoSlice<'a>]) -> usize {
        self.queue.io_slices(out)
    }

    /// Whether anything is waiting to be written.
    pub fn has_transmit(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout)
    /// has something to do, or `None`.
    pub fn poll_timeout(&mut self) -> Option<T> {
        if self.is_closed() {
            return None;
        }
        let mut next = self.pending.next_deadline();
        for t in [
            self.idle_deadline(),
            match self.phase {
                Phase::ShuttingDown { deadline } => Some(deadline),
                _ => None,
            },
        ]
        .into_iter()
        .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        next
    }

    fn idle_deadline(&self) -> Option<T> {
        match self.config.idle_timeout {
            Some(idle) if !self.idle_fired => Some(self.last_activity.add_duration(idle)),
            _ => None,
        }
    }
}

enum Failure {
    Closed,
    Protocol(ProtocolError),
    Disconnected(DisconnectReason),
}
