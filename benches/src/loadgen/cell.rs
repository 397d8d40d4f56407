//! A cell of the matrix, the bounds it runs under, and their defaults.

use std::time::Duration;

/// The Node benchmark's payload sizes.
pub const MATRIX_PAYLOADS: [usize; 2] = [50, 4096];
/// The Node benchmark's windows (calls in flight over all connections).
pub const MATRIX_WINDOWS: [usize; 4] = [1, 20, 200, 10_000];
/// The Node benchmark's connection count.
pub const DEFAULT_CONNECTIONS: usize = 5;
/// Calls per cell: the Node benchmark's 5 connections × 20,000 calls.
pub const DEFAULT_CALLS: u64 = 100_000;
/// Per-call deadline unless `--deadline-ms` says otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
/// After this long a cell issues no new calls (calls in flight still get
/// their deadline).
pub const DEFAULT_CELL_TIME_LIMIT: Duration = Duration::from_secs(120);

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Payload bytes per request.
    pub payload: usize,
    /// Calls in flight over all connections together.
    pub window: usize,
    /// Client connections.
    pub connections: usize,
    /// Calls in total.
    pub calls: u64,
}

impl Cell {
    /// The Node benchmark's matrix with this many connections and calls.
    pub fn matrix(connections: usize, calls: u64) -> Vec<Cell> {
        MATRIX_PAYLOADS
            .iter()
            .flat_map(|&payload| {
                MATRIX_WINDOWS.iter().map(move |&window| Cell {
                    payload,
                    window,
                    connections,
                    calls,
                })
            })
            .collect()
    }
}

/// How a cell runs, beyond its shape.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deadline of every call.
    pub deadline: Duration,
    /// No new calls after this long.
    pub cell_time_limit: Duration,
    /// Show a progress bar.
    pub progress: bool,
    /// Count a response whose length differs from the request's as an
    /// error (for echo servers).
    pub verify_echo: bool,
    /// Stamp each call's payload with its number (its first 8 bytes, or
    /// fewer for a shorter payload) and count an answer that is not the
    /// same bytes as a [`WrongAnswer`](super::ErrorKind::WrongAnswer):
    /// an answer matched to the wrong call shows up here, not only one of
    /// the wrong length. Costs a copy of the payload per call.
    pub exact_echo: bool,
    /// Framing calls wait for room in the write queue (bounded by their
    /// deadline) instead of failing with `BufferFull` while more than
    /// `max_buffer_bytes` are unwritten. On by default; off is the Node
    /// library's refusal. Calls through a pool always wait.
    pub wait_for_room: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: DEFAULT_DEADLINE,
            cell_time_limit: DEFAULT_CELL_TIME_LIMIT,
            progress: false,
            verify_echo: false,
            exact_echo: false,
            wait_for_room: true,
        }
    }
}
