//! The measurement behind `framing-conns`: what an idle connection costs a
//! server in resident memory.
//!
//! Each server runs in a child process (the same binary, re-executed with
//! `--serve framing|baseline`), so that the client sockets and buffers of
//! the measuring process never count. The child binds 127.0.0.1:0, prints
//! `addr=ADDR`, then answers each `rss` line on its standard input with
//! `rss_kib=N` (its own `VmRSS`) and exits on `quit` or end of input. The
//! parent reads the child's RSS, opens the connections one by one, sends
//! one request on each (or a burst of them, see [`Load`]), checks the
//! echo, keeps them all open and idle, and reads the child's RSS again:
//!
//! ```text
//! parent                                      child (--serve KIND)
//!   spawn  ─────────────────────────────────▶   bind 127.0.0.1:0
//!          ◀───────────────────────  addr=ADDR
//!   rss    ─────────────────────────────────▶
//!          ◀─────────────────────  rss_kib=BEFORE
//!   N × (connect, request of 10 B, read echo) ▶  serve
//!   rss    ─────────────────────────────────▶
//!          ◀─────────────────────  rss_kib=AFTER
//!   quit   ─────────────────────────────────▶   exit
//! ```
//!
//! `(AFTER - BEFORE) / N` is the cost of one idle connection: the server
//! task, its socket registration, and whatever buffers it keeps.

mod child;
mod parent;
mod procfs;
mod wire;

pub use child::{serve, ServerKind};
pub use parent::{measure, Load, Measurement, Steps, DEFAULT_CONNS, DEFAULT_PAYLOAD};
pub use procfs::{machine_line, open_files_limit, rss_kib};
