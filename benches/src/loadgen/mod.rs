//! The load generator behind `framing-loadgen`.
//!
//! A cell is: `connections` clients, `window` calls in flight over all of
//! them together (as the Node benchmark counted it), `calls` calls in
//! total, `payload` bytes each. `window` workers each make one call at a
//! time on connection `worker % connections` (or through one pool over
//! every connection) until the cell's calls are used up; every call
//! carries a deadline, and the cell stops issuing calls after a time
//! bound, so a stalled server ends the run with errors counted by kind,
//! never a hang.
//!
//! The runtime-specific part is small: a [`LoadClient`] (one `call` with a
//! deadline) and a way to spawn a worker; [`drive`] does the rest.
//! [`table`] prints the reports for a person.

mod cell;
mod client;
mod connect;
mod drive;
mod errors;
mod harness;
mod report;
mod table;

pub use cell::{
    Cell, Limits, DEFAULT_CALLS, DEFAULT_CELL_TIME_LIMIT, DEFAULT_CONNECTIONS, DEFAULT_DEADLINE,
    MATRIX_PAYLOADS, MATRIX_WINDOWS,
};
pub use client::LoadClient;
pub use drive::{drive, Worker, WorkerResult};
pub use errors::{ErrorCounts, ErrorKind, LoadError};
pub use harness::{Harness, RuntimeKind, ServerChoice};
pub use report::{ClientPath, Report};
pub use table::{table, Row};
