//! What a cell measured, and its one-line summary.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::Cell;

/// What a cell measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Which client ran it.
    pub runtime: &'static str,
    /// The cell.
    pub cell: Cell,
    /// From the first call to the last completion.
    pub elapsed: Duration,
    /// Calls answered.
    pub ok: u64,
    /// Calls that failed (deadline, rejected, disconnected, ...).
    pub errors: u64,
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
