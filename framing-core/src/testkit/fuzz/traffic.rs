//! Bytes and time: deliveries between the cores, injected peer bytes,
//! clock jumps and the ends of a connection, applied to the cores and
//! their models alike.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::Buf;

use crate::{CallError, DisconnectReason, IoFailure};

use super::model::Life;
use super::report::Seen;

use super::streams::Piece;
use super::world::{Side, World};

/// How a delivery moves bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Delivery {
    /// At most this many bytes.
    pub(super) max: usize,
    /// Into the receiver's lent buffer (`recv_buffer` + `handle_received`)
    /// rather than `handle_read`.
    pub(super) lend: bool,
    /// Written one `chunk()` at a time, each followed by its `advance`,
    /// rather than every chunk first and one `advance` for all.
    pub(super) per_chunk: bool,
}

impl World {
    /// The two sides, the sender first.
    fn pair(&mut self, from_client: bool) -> (&mut Side, &mut Side) {
        if from_client {
            (&mut self.client, &mut self.server)
        } else {
            (&mut self.server, &mut self.client)
        }
    }

    /// Moves unwritten bytes from one core to the other; the bytes the
    /// core hands out must be exactly the frames its model queued.
    pub(super) fn deliver(&mut self, from_client: bool, how: Delivery) {
        let now = self.now;
        let (from, to) = self.pair(from_client);
        let mut sent = Vec::new();
        let mut piece = Piece::default();
        if let Some(mut out) = from.conn.poll_transmit(now) {
            let want = how.max.min(out.remaining());
            if how.per_chunk {
                while sent.len() < want {
                    let chunk = out.chunk();
                    let k = chunk.len().min(want - sent.len());
                    assert!(k > 0, "an empty chunk with {} bytes left", out.remaining());
                    sent.extend_from_slice(&chunk[..k]);
                    out.advance(k);
                    from.m.written(now, k, &mut piece);
                }
            } else {
                for chunk in out.chunks() {
                    let k = chunk.len().min(want - sent.len());
                    sent.extend_from_slice(&chunk[..k]);
                }
                assert_eq!(sent.len(), want, "the chunks hold fewer bytes than remain");
                out.advance(want);
                from.m.written(now, want, &mut piece);
            }
        }
        assert!(
            sent == piece.bytes,
            "the core wrote other bytes than the frames queued"
        );
        if !how.lend {
            to.conn.handle_read(now, &sent);
            to.m.read(now, &piece);
            return;
        }
        while !piece.bytes.is_empty() {
            let room = to.conn.recv_buffer();
            assert!(!room.is_empty(), "recv_buffer lent no room");
            let k = room.len().min(piece.bytes.len());
            room[..k].copy_from_slice(&piece.bytes[..k]);
            to.conn.handle_received(now, k);
            to.m.read(now, &piece.take_front(k));
        }
    }

    /// Bytes from nowhere into one core, as a peer would send them.
    pub(super) fn inject(&mut self, to_client: bool, bytes: &[u8]) {
        let now = self.now;
        let side = if to_client {
            &mut self.client
        } else {
            &mut self.server
        };
        side.conn.handle_read(now, bytes);
        side.m.read(now, &Piece::injected(bytes));
    }

    /// The clock moves to `to`: both cores handle the time. Whatever is
    /// due must be done by this `handle_timeout`, not a later one.
    pub(super) fn advance(&mut self, to: Duration) {
        self.now = to;
        for side in [&mut self.client, &mut self.server] {
            let shutting = matches!(side.m.life, Life::ShuttingDown(_)) && !side.m.is_closed();
            side.conn.handle_timeout(to);
            side.m.timeout(to);
            if shutting && side.m.life == Life::Closed(CallError::Closed) {
                let server = side.m.server;
                self.report.add(Seen::ShutdownDeadline { server });
            }
            if let Some(next) = side.m.next_due() {
                assert!(next > to, "model: handle_timeout({to:?}) left {next:?} due");
            }
        }
    }

    /// The earliest instant either core asks to be woken at, or now.
    pub(super) fn next_timeout(&mut self) {
        let next = [
            self.client.conn.poll_timeout(),
            self.server.conn.poll_timeout(),
        ];
        if let Some(t) = next.into_iter().flatten().min() {
            self.advance(t.max(self.now));
        }
    }

    /// The peer closed (`reset`: or reset) the stream of one core.
    pub(super) fn end(&mut self, client: bool, reset: bool) {
        let now = self.now;
        let side = if client {
            &mut self.client
        } else {
            &mut self.server
        };
        if reset {
            let reason = DisconnectReason::io(IoFailure::Reset, "reset");
            side.conn.handle_io_error(now, reason.clone());
            side.m.io_error(reason);
        } else {
            side.conn.handle_eof(now);
            side.m.eof();
        }
    }
}
