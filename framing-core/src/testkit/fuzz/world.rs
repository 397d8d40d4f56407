//! Two cores, their models, and the checks made after every step.

use alloc::vec::Vec;
use core::time::Duration;

use crate::{Config, Connection, Event};

use super::expect::compare;
use super::model::{Life, Model};
use super::report::{Report, Seen};
use super::wire::Wire;

/// One core and its model.
pub(super) struct Side {
    pub(super) conn: Connection<Duration, u64>,
    pub(super) m: Model,
    /// Events taken from the core before the comparison.
    pub(super) early: Vec<Event<u64>>,
    /// A finished shutdown was reported.
    finished: bool,
}

impl Side {
    fn new(server: bool, wire: Wire, config: &Config) -> Self {
        let now = Duration::ZERO;
        let conn = if server {
            Connection::server(config.clone(), now)
        } else {
            Connection::client(config.clone(), now)
        };
        Side {
            conn,
            m: Model::new(server, wire, config, now),
            early: Vec::new(),
            finished: false,
        }
    }

    /// Compares the core's events with the model's.
    fn settle(&mut self, report: &mut Report) {
        let mut got = core::mem::take(&mut self.early);
        got.extend(core::iter::from_fn(|| self.conn.poll_event()));
        let want = core::mem::take(&mut self.m.expect);
        compare(self.m.server, got, want, report);
    }

    /// Compares everything the core shows with the model.
    fn check(&mut self, report: &mut Report) {
        let (c, m) = (&mut self.conn, &mut self.m);
        let who = if m.server { "server" } else { "client" };
        if m.is_closed() {
            // Nothing more is read: whatever was unframed is dropped.
            m.inbuf.clear();
            if matches!(m.life, Life::ShuttingDown(_)) && !self.finished {
                self.finished = true;
                report.add(Seen::ShutdownFinished { server: m.server });
            }
        }
        assert_eq!(c.state(), m.state(), "{who}: state");
        assert_eq!(c.is_closed(), m.is_closed(), "{who}: is_closed");
        assert_eq!(c.is_paused(), m.paused, "{who}: is_paused");
        assert_eq!(c.queued_bytes(), m.out.len(), "{who}: unwritten bytes");
        assert_eq!(c.buffered_bytes(), m.inbuf.len(), "{who}: unframed bytes");
        assert_eq!(c.wants_read(), m.wants_read(), "{who}: wants_read");
        assert_eq!(c.poll_timeout(), m.next_due(), "{who}: poll_timeout");
        assert_eq!(c.stats(), m.stats, "{who}: counters");
        assert_eq!(c.pending_calls(), m.table.live(), "{who}: pending calls");
        assert_eq!(
            c.outstanding_requests(),
            m.requests.outstanding(),
            "{who}: requests awaiting an answer"
        );
        let now = Duration::ZERO;
        let total: usize = c
            .poll_transmit(now)
            .map_or(0, |out| out.chunks().map(<[u8]>::len).sum());
        assert_eq!(
            total,
            m.out.len(),
            "{who}: transmit chunks disagree with the count"
        );
    }
}

/// The client, the server and what the test did to them.
pub(super) struct World {
    pub(super) now: Duration,
    pub(super) client: Side,
    pub(super) server: Side,
    pub(super) next_ctx: u64,
    /// The largest frame a call queued.
    pub(super) largest_frame: usize,
    pub(super) report: Report,
}

impl World {
    pub(super) fn new(wire: Wire, config: &Config) -> Self {
        World {
            now: Duration::ZERO,
            client: Side::new(false, wire, config),
            server: Side::new(true, wire, config),
            next_ctx: 0,
            largest_frame: 0,
            report: Report::default(),
        }
    }

    /// After a step: the events, then every getter, of both cores.
    pub(super) fn settle(&mut self) {
        for side in [&mut self.client, &mut self.server] {
            side.settle(&mut self.report);
            side.check(&mut self.report);
        }
        // The contract's limit, whatever the model says: no call is taken
        // above `max_buffer_bytes`, so at most one frame more is queued.
        let c = &self.client.conn;
        let limit = c.config().max_buffer_bytes() + self.largest_frame;
        assert!(c.queued_bytes() <= limit, "unwritten bytes above {limit}");
    }

    /// The end: both cores close, and every call accepted has completed
    /// exactly once (the counters add up).
    pub(super) fn finish(mut self) -> Report {
        for side in [&mut self.client, &mut self.server] {
            side.conn.close();
            side.m.close();
        }
        self.settle();
        let s = self.client.conn.stats();
        assert_eq!(self.client.m.table.live(), 0, "calls never completed");
        assert_eq!(
            s.calls,
            s.responses + s.timeouts + s.cancelled + s.failed,
            "every accepted call ends exactly once"
        );
        self.report
    }
}
