//! Fuzz harnesses: the functions behind the `fuzz/` targets, kept here so
//! that the checked-in corpus replays under plain `cargo test` and users
//! can drive them from their own fuzzers.
//!
//! Each takes raw bytes and reads them with a small [`Reader`] (no
//! `arbitrary` dependency): the first bytes choose a configuration, the
//! rest the input. Each panics only when the core does something the
//! behaviour contract does not allow, which is what a fuzzer reports; its
//! `*_report` twin runs the same checks and returns what happened (a
//! [`Report`]), so that a seed can be checked to do what its name says.
//!
//! The oracles compare the core with the harness's own account of the
//! contract, never with the core itself: a reference decoder written from
//! the wire format, and a model of each core.
//!
//! - [`decode_any`]: a byte stream under an arbitrary standard codec, cut
//!   into arbitrary reads, into a server and a client core: raw bytes, or
//!   a stream built from frames the input chooses (ids, payloads up to the
//!   maximum) ending with a bad header or a cut frame. The server must
//!   decode exactly the stream's frames, fail with exactly the right
//!   protocol error (variant, length, limit) as soon as its bytes arrive,
//!   and hold exactly the unfinished rest; the client must complete
//!   exactly the calls the frames answer; no core may allocate a declared
//!   length before its bytes arrive.
//! - [`run_ops`]: arbitrary calls, cancels, responses (right, wrong,
//!   duplicate ids), partial deliveries, injected peer bytes, time jumps,
//!   `close`, `fail_pending`, `shutdown`, end of stream and i/o errors on
//!   a client and a server core, each checked against its model after
//!   every step: every event (each completion with its exact result),
//!   every refusal, `poll_timeout`, the state, the counters and the bytes
//!   written.
//! - [`custom_header`]: either oracle over a frame format chosen by the
//!   input and written on [`HeaderFormat`](crate::HeaderFormat) (magic
//!   byte, field order, sizes, byte orders, what the length counts, a
//!   maximum left to the core).
//!
//! # Examples
//!
//! ```
//! use framing_core::testkit::fuzz::{self, Seen};
//!
//! fuzz::decode_any(b"\x03\x04\x00\x00\x00\x00\x00\x06\x00\x00\x00\x01hi");
//! fuzz::run_ops(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
//! fuzz::custom_header(&[1, 2, 3, 0, 1, 0x80, 0x80]);
//!
//! // Two calls, both delivered, answered in order, answers delivered.
//! let setup = [0x23, 0x04, 0x03, 0, 0, 0, 9, 0, 9, 0, 0, 0];
//! let steps = [0, 4, 0, 1, 0, 4, 0, 1, 8, 0, 0, 5, 0, 0, 5, 0, 0, 11, 0, 0];
//! let report = fuzz::run_ops_report(&[&setup[..], &steps[..]].concat());
//! assert_eq!(report.count(Seen::Answered), 2);
//! ```

mod actions;
mod calls;
mod client;
mod custom;
mod decode;
mod expect;
mod frames;
mod model;
mod ops;
mod reader;
mod report;
mod server;
mod spec;
mod streams;
mod traffic;
mod wire;
mod world;

pub use custom::{custom_header, custom_header_report};
pub use decode::{decode_any, decode_report};
pub use ops::{run_ops, run_ops_report};
pub use reader::{codec_from, config_from, Reader};
pub use report::{Report, Seen};
