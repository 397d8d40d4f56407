//! The model of one core, written from the behaviour contract: its life
//! (open, shutting down, closed and why), its unwritten frames and
//! watermarks, its idle clock, its read buffer decoded by the reference
//! decoder, and the counters. `client.rs` and `server.rs` add each role's
//! part. Every input to a core is applied to its model too; the model
//! then says exactly which events must follow and what every getter must
//! return.

use alloc::vec::Vec;
use core::time::Duration;

use crate::{CallError, Config, DisconnectReason, State, Stats};

use super::calls::{Recent, Table};
use super::expect::Exp;
use super::server::Requests;
use super::streams::{InBuf, OutQueue, Piece, Tag, TagKind};
use super::wire::Wire;

/// Where the modelled core is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Life {
    Open,
    ShuttingDown(Duration),
    Closed(CallError),
}

/// The settings the model needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) warn: usize,
    pub(super) max: usize,
    pub(super) low: usize,
    pub(super) idle: Option<Duration>,
    pub(super) call_timeout: Option<Duration>,
    pub(super) strict: bool,
}

/// One core, as the contract says it must behave.
#[derive(Debug)]
pub(super) struct Model {
    pub(super) server: bool,
    pub(super) wire: Wire,
    pub(super) lim: Limits,
    pub(super) life: Life,
    pub(super) out: OutQueue,
    pub(super) inbuf: InBuf,
    pub(super) paused: bool,
    last_activity: Duration,
    idle_fired: bool,
    pub(super) stats: Stats,
    /// Client: pending calls and abandoned ids.
    pub(super) table: Table,
    pub(super) recent: Recent,
    /// Server: requests received.
    pub(super) requests: Requests,
    /// Events due since the last comparison.
    pub(super) expect: Vec<Exp>,
    /// Frames decoded that were not one whole frame the peer queued.
    pub(super) garbled: u64,
    /// Serial of the next queued frame.
    next_serial: u64,
}

impl Model {
    pub(super) fn new(server: bool, wire: Wire, config: &Config, now: Duration) -> Self {
        Model {
            server,
            wire,
            lim: Limits {
                warn: config.warn_buffer_bytes(),
                max: config.max_buffer_bytes(),
                low: config.low_buffer_bytes(),
                idle: config.idle_timeout(),
                call_timeout: config.call_timeout(),
                strict: config.strict_unknown_ids(),
            },
            life: Life::Open,
            out: OutQueue::default(),
            inbuf: InBuf::default(),
            paused: false,
            last_activity: now,
            idle_fired: false,
            stats: Stats::default(),
            table: Table::new(wire.max_id()),
            recent: Recent::new(config.late_memory),
            requests: Requests::new(wire.max_id().is_some()),
            expect: Vec::new(),
            garbled: 0,
            next_serial: 0,
        }
    }

    /// Nothing left for a graceful shutdown to wait for.
    pub(super) fn drained(&self) -> bool {
        self.table.live() == 0 && self.out.is_empty() && self.requests.outstanding() == 0
    }

    pub(super) fn is_closed(&self) -> bool {
        match self.life {
            Life::Open => false,
            Life::ShuttingDown(_) => self.drained(),
            Life::Closed(_) => true,
        }
    }

    /// What `state()` must return: a shutdown with nothing left is closed.
    pub(super) fn state(&self) -> State<Duration> {
        match &self.life {
            Life::Open => State::Open,
            Life::ShuttingDown(_) if self.drained() => State::Closed(CallError::Closed),
            Life::ShuttingDown(deadline) => State::ShuttingDown {
                deadline: *deadline,
            },
            Life::Closed(reason) => State::Closed(reason.clone()),
        }
    }

    /// Not after the end; a server not while paused or shutting down.
    pub(super) fn wants_read(&self) -> bool {
        match self.life {
            _ if self.is_closed() => false,
            Life::ShuttingDown(_) => !self.server,
            _ => !self.server || !self.paused,
        }
    }

    /// A tag for the next queued frame.
    pub(super) fn tag(&mut self, kind: TagKind) -> Tag {
        self.next_serial += 1;
        Tag {
            serial: self.next_serial,
            kind,
        }
    }

    /// Ends the connection: every pending call completes with `reason`,
    /// a failure raises its event, and everything held is dropped (a
    /// `Pause` in force stays: no `Resume` follows a close).
    pub(super) fn fail(&mut self, reason: CallError) {
        for (id, pend) in self.table.drain() {
            self.stats.failed += 1;
            self.expect.push(Exp::Done {
                id,
                ctx: pend.ctx,
                result: Err(reason.clone()),
            });
        }
        match &reason {
            CallError::Protocol(p) => self.expect.push(Exp::Protocol(*p)),
            CallError::Disconnected(r) => self.expect.push(Exp::Disconnected(r.clone())),
            _ => {}
        }
        self.life = Life::Closed(reason);
        self.out.clear();
        self.table.forget();
        self.inbuf.clear();
        self.requests.clear();
    }

    fn touch(&mut self, now: Duration) {
        self.last_activity = now;
        self.idle_fired = false;
    }

    /// Queues a frame; `Pause` when the queue crosses `warn`.
    pub(super) fn enqueue(&mut self, bytes: Vec<u8>, tag: Tag) {
        self.out.push(bytes, tag);
        self.stats.frames_out += 1;
        if !self.paused && self.out.len() > self.lim.warn {
            self.paused = true;
            self.expect.push(Exp::Pause(self.out.len()));
        }
    }

    /// `n` bytes were written at `now`; they go into `into`. `Resume` when
    /// the queue falls to `low` after a `Pause`.
    pub(super) fn written(&mut self, now: Duration, n: usize, into: &mut Piece) {
        if n == 0 {
            return;
        }
        self.out.take(n, into);
        self.stats.bytes_out += n as u64;
        self.touch(now);
        if self.paused && self.out.len() <= self.lim.low {
            self.paused = false;
            self.expect.push(Exp::Resume(self.out.len()));
        }
    }

    /// Bytes read at `now`. Frames are decoded until the connection ends;
    /// bytes after the end are never read.
    pub(super) fn read(&mut self, now: Duration, piece: &Piece) {
        if self.is_closed() || piece.bytes.is_empty() {
            return;
        }
        self.inbuf.push(piece);
        self.stats.bytes_in += piece.bytes.len() as u64;
        self.touch(now);
        while !self.is_closed() {
            match self.inbuf.next_frame(&self.wire) {
                Ok(Some(frame)) => {
                    self.stats.frames_in += 1;
                    self.garbled += u64::from(frame.tag.is_none());
                    if self.server {
                        self.on_request(frame);
                    } else {
                        self.on_response(frame);
                    }
                }
                Ok(None) => break,
                Err(p) => self.fail(CallError::Protocol(p)),
            }
        }
        if self.is_closed() {
            self.inbuf.clear();
        }
    }

    /// `handle_timeout(now)`: calls due complete with `DeadlineExceeded`
    /// (their own deadline is checked first, also when the shutdown
    /// deadline is reached at the same time), then `IdleTimeout` once per
    /// idle stretch, then a shutdown deadline closes what is left.
    pub(super) fn timeout(&mut self, now: Duration) {
        if self.is_closed() {
            return;
        }
        for (id, pend) in self.table.take_due(now) {
            self.stats.timeouts += 1;
            self.recent.insert(id);
            self.expect.push(Exp::Done {
                id,
                ctx: pend.ctx,
                result: Err(CallError::DeadlineExceeded),
            });
        }
        if self.idle_deadline().is_some_and(|at| now >= at) {
            self.idle_fired = true;
            self.expect.push(Exp::IdleTimeout);
        }
        if let Life::ShuttingDown(deadline) = self.life {
            if now >= deadline && !self.is_closed() {
                self.fail(CallError::Closed);
            }
        }
    }

    /// What `poll_timeout` must return: the earliest of the calls'
    /// deadlines, the idle deadline and the shutdown deadline; nothing
    /// once closed.
    pub(super) fn next_due(&self) -> Option<Duration> {
        if self.is_closed() {
            return None;
        }
        let shutdown = match self.life {
            Life::ShuttingDown(deadline) => Some(deadline),
            _ => None,
        };
        [self.table.next_deadline(), self.idle_deadline(), shutdown]
            .into_iter()
            .flatten()
            .min()
    }

    fn idle_deadline(&self) -> Option<Duration> {
        let idle = self.lim.idle.filter(|_| !self.idle_fired)?;
        Some(self.last_activity.saturating_add(idle))
    }

    /// End of stream: `PeerClosedMidFrame` with the unframed bytes held.
    pub(super) fn eof(&mut self) {
        let reason = match self.inbuf.len() {
            0 => DisconnectReason::PeerClosed,
            buffered => DisconnectReason::PeerClosedMidFrame { buffered },
        };
        self.io_error(reason);
    }

    pub(super) fn io_error(&mut self, reason: DisconnectReason) {
        if !self.is_closed() {
            self.fail(CallError::Disconnected(reason));
        }
    }

    pub(super) fn close(&mut self) {
        if !self.is_closed() {
            self.fail(CallError::Closed);
        }
    }

    /// A shutdown starts, or an earlier deadline replaces a later one.
    pub(super) fn shutdown(&mut self, deadline: Duration) {
        match self.life {
            Life::Open => self.life = Life::ShuttingDown(deadline),
            Life::ShuttingDown(d) if deadline < d => self.life = Life::ShuttingDown(deadline),
            _ => {}
        }
    }
}
