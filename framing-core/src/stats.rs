//! Counters, readable at any time.

/// Counters of one connection since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Frames decoded from the peer.
    pub frames_in: u64,
    /// Frames queued for the peer.
    pub frames_out: u64,
    /// Bytes received (handed to the core).
    pub bytes_in: u64,
    /// Bytes written (reported by the driver).
    pub bytes_out: u64,
    /// Calls accepted.
    pub calls: u64,
    /// Calls completed with a response.
    pub responses: u64,
    /// Calls completed with `DeadlineExceeded`.
    pub timeouts: u64,
    /// Calls cancelled by the caller.
    pub cancelled: u64,
    /// Calls completed with `Closed`, `Disconnected`, `FailedByUser` or
    /// `Protocol`. Every accepted call ends in exactly one of `responses`,
    /// `timeouts`, `cancelled` and `failed`.
    pub failed: u64,
    /// Responses dropped because their id matched no pending call (late
    /// ones included).
    pub unknown_responses: u64,
    /// Of `unknown_responses`, those for recently timed-out or cancelled ids.
    pub late_responses: u64,
    /// Calls refused with `BufferFull`.
    pub rejected_buffer_full: u64,
    /// Calls refused for any reason (`BufferFull` included).
    pub rejected: u64,
    /// Requests received (server role).
    pub requests: u64,
}
