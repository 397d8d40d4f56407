//! Benchmarks and tools of the `framing` workspace (not published).
//!
//! - [`baseline`]: the hand-written tokio-util `LengthDelimitedCodec`
//!   client and echo server that every figure is compared against;
//! - [`testserver`]: the fault-injecting test server behind the
//!   `framing-testserver` binary;
//! - [`loadgen`]: the load generator behind the `framing-loadgen` binary;
//! - [`inputs`]: the identical input bytes the criterion benches feed to
//!   framing-core and to the baseline.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod baseline;
pub mod conns;
pub mod inputs;
pub mod loadgen;
pub mod testserver;
