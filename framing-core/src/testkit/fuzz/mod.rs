//! Fuzz harnesses: the functions behind the `fuzz/` targets, kept here so
//! that the checked-in corpus replays under plain `cargo test` and users
//! can drive them from their own fuzzers.
//!
//! Both take raw bytes and read them with a small [`Reader`] (no
//! `arbitrary` dependency): the first bytes choose a configuration, the
//! rest the input. Every function panics only when an invariant breaks,
//! which is what a fuzzer reports.
//!
//! - [`decode_any`]: raw peer bytes under an arbitrary codec, split into
//!   arbitrary chunks, into a client and a server core. Checks that the
//!   frames come out the same whatever the split, that they re-encode to
//!   exactly the bytes that were read, and that the read buffer stays
//!   bounded (never sized from a length the peer merely declared).
//! - [`run_ops`]: arbitrary sequences of calls, cancels, responses (right,
//!   wrong, duplicate ids), partial deliveries, injected peer bytes, time
//!   jumps, `close`, `fail_pending`, `shutdown` and end of stream against a
//!   client and a server core, checked against a model after every step:
//!   every accepted call completes exactly once or is cancelled, never
//!   before its deadline, and unwritten bytes stay within
//!   `max_buffer_bytes` plus one frame.
//!
//! # Examples
//!
//! ```
//! use framing_core::testkit::fuzz;
//!
//! fuzz::decode_any(b"\x03\x04\x00\x00\x00\x00\x00\x06\x00\x00\x00\x01hi");
//! fuzz::run_ops(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
//! ```

mod actions;
mod decode;
mod model;
mod ops;
mod reader;

pub use decode::decode_any;
pub use ops::run_ops;
pub use reader::{codec_from, config_from, Reader};
