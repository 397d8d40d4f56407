//! [`run_ops`]: the loop that reads operations from the input and applies
//! them to both cores.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::time::Duration;

use crate::{Connection, DisconnectReason, IoFailure};

use super::model::{Side, World};
use super::reader::{codec_from, config_from, Reader};

/// Arbitrary operations on a client and a server core, checked against a
/// model after every step.
///
/// The first bytes choose the codec ([`codec_from`]) and the settings
/// ([`config_from`]); each following byte picks an operation, whose
/// arguments come from the next bytes. Panics if: a core panics; a call
/// completes twice, completes after being cancelled, or completes before
/// its deadline with `DeadlineExceeded`; a call refusal contradicts the
/// model; unwritten client bytes exceed `max_buffer_bytes` plus the
/// largest frame; `Pause`/`Resume` do not alternate; `Disconnected` follows
/// `close()`; a closed core still holds calls or bytes; `handle_timeout`
/// leaves something due; or, once both cores are closed at the end, any
/// accepted call has not completed.
pub fn run_ops(data: &[u8]) {
    let mut r = Reader::new(data);
    let codec = codec_from(&mut r);
    let config = config_from(&mut r, codec.clone());
    let now = Duration::ZERO;
    let mut w = World {
        now,
        client: Side {
            conn: Connection::client(config.clone(), now),
            paused: false,
            closed_by_user: false,
        },
        server: Side {
            conn: Connection::server(config, now),
            paused: false,
            closed_by_user: false,
        },
        calls: BTreeMap::new(),
        next_ctx: 0,
        accepted: 0,
        requests: Vec::new(),
        answered: BTreeSet::new(),
        injected: false,
        ambiguous: false,
        largest_frame: 0,
        header_len: codec.standard().map_or(0, |h| h.header_len()),
    };
    let mut steps = 0;
    while !r.is_empty() && steps < 2048 {
        steps += 1;
        w.step(&mut r);
        w.drain();
        w.check();
    }
    // Every accepted call ends: closing completes whatever is left.
    w.client.conn.close();
    w.client.closed_by_user = true;
    w.server.conn.close();
    w.server.closed_by_user = true;
    w.drain();
    w.check();
    assert!(
        w.calls.is_empty(),
        "calls never completed: {:?}",
        w.calls.keys().collect::<Vec<_>>()
    );
    assert_eq!(w.client.conn.stats().calls, w.accepted);
}

impl World {
    fn step(&mut self, r: &mut Reader<'_>) {
        match r.u8() % 20 {
            0..=2 => self.call(r, false),
            3 => self.call(r, true),
            4 => self.cancel(r),
            5..=7 => self.respond(r),
            8..=10 => {
                let n = Self::amount(r);
                let lend = r.bool();
                Self::deliver(self.now, &mut self.client, &mut self.server, n, lend);
            }
            11..=12 => {
                let n = Self::amount(r);
                let lend = r.bool();
                Self::deliver(self.now, &mut self.server, &mut self.client, n, lend);
            }
            13 => {
                let to_client = r.bool();
                let n = r.below(32);
                let bytes = r.bytes(n);
                self.injected |= !bytes.is_empty();
                let side = if to_client {
                    &mut self.client
                } else {
                    &mut self.server
                };
                side.conn.handle_read(self.now, bytes);
            }
            14 => {
                let v = r.u16();
                let d = if v & 1 == 0 {
                    Duration::from_millis(u64::from(v >> 1))
                } else {
                    Duration::from_secs(u64::from(v >> 1))
                };
                self.advance(self.now.saturating_add(d));
            }
            15 => {
                let next = [
                    self.client.conn.poll_timeout(),
                    self.server.conn.poll_timeout(),
                ]
                .into_iter()
                .flatten()
                .min();
                if let Some(t) = next {
                    self.advance(t.max(self.now));
                }
            }
            16 => {
                let side = self.side(r.bool());
                side.conn.close();
                side.closed_by_user = true;
            }
            17 => {
                self.ambiguous |= !self.calls.is_empty();
                self.client.conn.fail_pending();
            }
            18 => {
                let d = Duration::from_millis(u64::from(r.u8()) * 8);
                let at = self.now.saturating_add(d);
                self.side(r.bool()).conn.shutdown(at);
            }
            _ => {
                let now = self.now;
                let kind = r.u8();
                let side = self.side(kind & 1 == 1);
                match (kind >> 1) & 3 {
                    0 => side.conn.handle_eof(now),
                    1 => side
                        .conn
                        .handle_io_error(now, DisconnectReason::io(IoFailure::Reset, "reset")),
                    2 => self.misuse(),
                    _ => {
                        let n = r.below(16);
                        let bytes = r.bytes(n);
                        side.conn.handle_read(now, bytes);
                        self.injected |= !bytes.is_empty();
                    }
                }
            }
        }
    }

    fn side(&mut self, client: bool) -> &mut Side {
        if client {
            &mut self.client
        } else {
            &mut self.server
        }
    }

    fn amount(r: &mut Reader<'_>) -> usize {
        match r.u8() {
            0 => usize::MAX,
            n => usize::from(n),
        }
    }
}
