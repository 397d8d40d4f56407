//! [`run_ops`]: the loop that reads operations from the input and applies
//! them to a client core, a server core and their models.

use core::time::Duration;

use crate::Codec;

use super::reader::{config_from, Reader};
use super::report::Report;
use super::spec::std_from;
use super::traffic::Delivery;
use super::wire::Wire;
use super::world::World;

/// At most this many operations per input.
const MAX_STEPS: usize = 2048;

/// Arbitrary operations on a client and a server core, each checked
/// against a model of the behaviour contract after every step. See
/// [`run_ops_report`].
pub fn run_ops(data: &[u8]) {
    let _ = run_ops_report(data);
}

/// [`run_ops`], returning what happened.
///
/// The first bytes choose the codec ([`codec_from`](super::codec_from))
/// and the settings ([`config_from`]); each following byte picks an
/// operation (`% 20`), whose arguments come from the next bytes: calls
/// (0–2; 3 with the caller's id), cancel (4), respond (5–7), deliver to
/// the server (8–10) or to the client (11–12), inject peer bytes (13),
/// move the clock (14) or to the next timeout (15), close (16),
/// `fail_pending` (17), shutdown (18), end of stream, reset, misuse or a
/// few peer bytes (19).
///
/// A model of each core, written from the contract, says after every step
/// exactly which events must have come, and what every getter returns.
/// The model decodes the exact bytes each core received with a reference
/// decoder, so every answer is predicted exactly, through cancels,
/// timeouts, `fail_pending`, duplicate and wrong answers and injected
/// bytes: an injected byte that makes a stream undecodable must fail the
/// core with exactly the protocol error the model finds, and one that
/// shifts framing makes the model read the shifted frames, as the core
/// must. Panics if, in any step:
///
/// - a call completes with anything but its exact outcome: the payload of
///   the response frame that matches it; `DeadlineExceeded` exactly at the
///   `handle_timeout` that reaches its deadline; `FailedByUser` at
///   `fail_pending`; `Closed` at `close` or the shutdown deadline;
///   `Disconnected` with the reason of that end of stream or i/o error;
///   `Protocol` with the exact error; or completes twice, or not when due;
/// - a call gets another call's answer without a reason the model can name
///   (a garbled frame, a duplicate or wrong-id answer, a reused id);
/// - a call is accepted or refused against the model (the refusal must be
///   one that applies), or an automatic id is a recently abandoned one
///   while other ids are free;
/// - `Pause` does not come exactly when unwritten bytes rise above
///   `warn_buffer_bytes` (once per crossing), `Resume` when they fall to
///   the low watermark; `IdleTimeout`, `Request`, `UnknownResponse` (late
///   or not), `ProtocolError` or `Disconnected` differ from the model's;
/// - `poll_timeout` is not exactly the next instant something is due;
/// - the bytes a core writes are not exactly the frames it queued; the
///   state, counters, pending calls, unwritten or unframed bytes differ;
/// - at the end, once both cores are closed, a call has not completed.
pub fn run_ops_report(data: &[u8]) -> Report {
    let mut r = Reader::new(data);
    let (spec, codec) = std_from(&mut r);
    run(Wire::Std(spec), codec, &mut r)
}

/// The state machine harness for any format.
pub(super) fn run(wire: Wire, codec: Codec, r: &mut Reader<'_>) -> Report {
    let config = config_from(r, codec);
    let mut w = World::new(wire, &config);
    let mut steps = 0;
    while !r.is_empty() && steps < MAX_STEPS {
        steps += 1;
        w.step(r);
        w.settle();
    }
    w.finish()
}

impl World {
    fn step(&mut self, r: &mut Reader<'_>) {
        match r.u8() % 20 {
            0..=2 => self.call(r, false),
            3 => self.call(r, true),
            4 => self.cancel(r),
            5..=7 => self.respond(r),
            op @ 8..=12 => {
                let max = match r.u8() {
                    0 => usize::MAX,
                    n => usize::from(n),
                };
                let mode = r.u8();
                let how = Delivery {
                    max,
                    lend: mode & 1 != 0,
                    per_chunk: mode & 2 != 0,
                };
                self.deliver(op <= 10, how);
            }
            13 => {
                let to_client = r.bool();
                let n = r.below(32);
                let bytes = r.bytes(n);
                self.inject(to_client, bytes);
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
            15 => self.next_timeout(),
            16 => {
                let side = if r.bool() {
                    &mut self.client
                } else {
                    &mut self.server
                };
                side.conn.close();
                side.m.close();
            }
            17 => self.fail_pending(),
            18 => {
                let at = self.now + Duration::from_millis(u64::from(r.u8()) * 8);
                let side = if r.bool() {
                    &mut self.client
                } else {
                    &mut self.server
                };
                side.conn.shutdown(at);
                side.m.shutdown(at);
            }
            _ => {
                let kind = r.u8();
                let client = kind & 1 == 1;
                match (kind >> 1) & 3 {
                    0 => self.end(client, false),
                    1 => self.end(client, true),
                    2 => self.misuse(),
                    _ => {
                        let n = r.below(16);
                        let bytes = r.bytes(n);
                        self.inject(client, bytes);
                    }
                }
            }
        }
    }
}
