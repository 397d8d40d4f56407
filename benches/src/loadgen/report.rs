//! What a cell measured, and its one-line summary.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::{Cell, ErrorCounts, ErrorKind};

/// How a run's framing calls reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientPath {
    /// A client per connection, each ending with its connection (and the
    /// baseline client, which has no other path).
    #[default]
    Plain,
    /// A client per connection, each reconnecting after an unplanned
    /// disconnect (`Config::reconnect`).
    Reconnecting,
    /// One [`framing_driver::Pool`] over every connection (and host): p2c
    /// by pending calls over lazy reconnecting clients.
    Pool,
}

impl ClientPath {
    /// What the table prints after the runtime: nothing, `reconnecting` or
    /// `pool`.
    pub fn label(self) -> &'static str {
        match self {
            ClientPath::Plain => "",
            ClientPath::Reconnecting => "reconnecting",
            ClientPath::Pool => "pool",
        }
    }
}

/// What a cell measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Which client ran it.
    pub runtime: &'static str,
    /// How its calls reached the server.
    pub path: ClientPath,
    /// The cell.
    pub cell: Cell,
    /// From the first call to the last completion.
    pub elapsed: Duration,
    /// Calls answered.
    pub ok: u64,
    /// Calls that failed (deadline, rejected, disconnected, wrong answer,
    /// ...): the total of `errors_by_kind`.
    pub errors: u64,
    /// The failed calls by kind.
    pub errors_by_kind: ErrorCounts,
    /// Calls never made because the time bound passed.
    pub not_run: u64,
    /// Latency of answered calls, in microseconds.
    pub latency_us: Histogram<u64>,
    /// The first error seen, if any.
    pub first_error: Option<String>,
}

impl Report {
    /// Answered calls per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The share of the cell's calls that failed with `kind`, in percent.
    pub fn error_percent(&self, kind: ErrorKind) -> f64 {
        100.0 * self.errors_by_kind.get(kind) as f64 / self.cell.calls.max(1) as f64
    }

    /// The one-line summary: `runtime=… payload=… window=… connections=…
    /// calls=… rps=… p50_us=… p99_us=… errors=…`.
    pub fn line(&self) -> String {
        let mut s = format!(
            "runtime={} payload={} window={} connections={} calls={} rps={:.0} p50_us={} p99_us={} errors={}",
            self.runtime,
            self.cell.payload,
            self.cell.window,
            self.cell.connections,
            self.cell.calls,
            self.rps(),
            self.latency_us.value_at_quantile(0.50),
            self.latency_us.value_at_quantile(0.99),
            self.errors,
        );
        if self.not_run > 0 {
            s.push_str(&format!(" not_run={}", self.not_run));
        }
        s
    }
}
