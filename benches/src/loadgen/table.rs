//! The table a person reads after the `key=value` lines: one row per cell
//! and client, its baseline run beside it.
//!
//! ```text
//! cell              client              RPC/s  baseline  ratio  p50 / p99         baseline p50 / p99  errors
//! 50 B / 200        tokio                243 k    47.2 k  5.16×  189 µs / 13.2 ms  1.38 ms / 23.6 ms   none
//! 4,096 B / 10,000  tokio               36.7 k    27.9 k  1.31×  19.0 ms / 170 ms  278 ms / 871 ms     buffer_full 40,315 (81%)
//! 50 B / 50         tokio reconnecting  21.1 k         -      -  901 µs / 21.8 ms  -                   disconnected 50 (0.17%)
//! ```
//!
//! No cell of it holds a `=`, so tooling that greps the `key=value` lines
//! never matches a table line.

use super::Report;

/// One row: what a client measured in a cell, and the baseline's run of
/// the same cell when there was one.
#[derive(Debug, Clone)]
pub struct Row {
    /// The client's report.
    pub report: Report,
    /// The baseline's report for the same cell.
    pub baseline: Option<Report>,
}

const HEADER: [&str; 8] = [
    "cell",
    "client",
    "RPC/s",
    "baseline",
    "ratio",
    "p50 / p99",
    "baseline p50 / p99",
    "errors",
];

/// Columns whose values are right-aligned (numbers).
const RIGHT: [bool; 8] = [false, false, true, true, true, false, false, false];

/// The table, one line per row after a header, columns aligned, each line
/// ending in a newline; empty without rows.
pub fn table(rows: &[Row]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let cells: Vec<[String; 8]> = std::iter::once(HEADER.map(String::from))
        .chain(rows.iter().map(row_cells))
        .collect();
    let mut widths = [0usize; 8];
    for line in &cells {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &cells {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let w = widths[i];
            if RIGHT[i] {
                text.push_str(&format!("{cell:>w$}"));
            } else {
                text.push_str(&format!("{cell:<w$}"));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

fn row_cells(row: &Row) -> [String; 8] {
    let r = &row.report;
    let client = match r.path.label() {
        "" => r.runtime.to_string(),
        label => format!("{} {label}", r.runtime),
    };
    let dash = || "-".to_string();
    let (base_rps, ratio, base_latency) = match &row.baseline {
        Some(b) => (
            rps(b.rps()),
            format!("{:.2}×", r.rps() / b.rps().max(1e-9)),
            latency(b),
        ),
        None => (dash(), dash(), dash()),
    };
    let mut errors = errors(r);
    if let Some(b) = row.baseline.as_ref().filter(|b| b.errors + b.not_run > 0) {
        errors.push_str("; baseline: ");
        errors.push_str(&self::errors(b));
    }
    [
        format!(
            "{} B / {}",
            thousands(r.cell.payload as u64),
            thousands(r.cell.window as u64)
        ),
        client,
        rps(r.rps()),
        base_rps,
        ratio,
        latency(r),
        base_latency,
        errors,
    ]
}

/// `kind count (share of the cell's calls)` for each kind that occurred,
/// and the calls never made; `none` when every call was answered.
fn errors(r: &Report) -> String {
    let mut parts: Vec<String> = r
        .errors_by_kind
        .iter()
        .map(|(kind, n)| {
            format!(
                "{} {} ({})",
                kind.name(),
                thousands(n),
                percent(r.error_percent(kind))
            )
        })
        .collect();
    if r.not_run > 0 {
        parts.push(format!("not run {}", thousands(r.not_run)));
    }
    if parts.is_empty() {
        return "none".to_string();
    }
    parts.join(", ")
}

fn latency(r: &Report) -> String {
    if r.ok == 0 {
        return "-".to_string();
    }
    format!(
        "{} / {}",
        micros(r.latency_us.value_at_quantile(0.50)),
        micros(r.latency_us.value_at_quantile(0.99))
    )
}

/// A latency with its unit, three significant figures from 1 ms:
/// `180 µs`, `1.25 ms`, `12.4 ms`, `157 ms`, `1.62 s`.
fn micros(us: u64) -> String {
    let ms = us as f64 / 1e3;
    match us {
        0..=999 => format!("{us} µs"),
        1_000..=9_994 => format!("{ms:.2} ms"),
        9_995..=99_949 => format!("{ms:.1} ms"),
        99_950..=999_499 => format!("{ms:.0} ms"),
        _ => format!("{:.2} s", ms / 1e3),
    }
}

/// RPC/s with three significant figures: `987`, `9.87 k`, `98.7 k`,
/// `987 k`, `1.52 M`.
fn rps(v: f64) -> String {
    match v {
        v if v >= 999_500.0 => format!("{:.2} M", v / 1e6),
        v if v >= 99_950.0 => format!("{:.0} k", v / 1e3),
        v if v >= 9_995.0 => format!("{:.1} k", v / 1e3),
        v if v >= 999.5 => format!("{:.2} k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

/// A share in percent, with two significant figures down to 0.01 %.
fn percent(p: f64) -> String {
    match p {
        p if p >= 9.95 => format!("{p:.0}%"),
        p if p >= 0.995 => format!("{p:.1}%"),
        p if p >= 0.01 => format!("{p:.2}%"),
        _ => "<0.01%".to_string(),
    }
}

/// `n` with commas between thousands: `131,967`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_person_writes_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(131_967), "131,967");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(rps(512.0), "512");
        assert_eq!(rps(68_699.0), "68.7 k");
        assert_eq!(rps(401_234.0), "401 k");
        assert_eq!(rps(1_523_412.0), "1.52 M");
        assert_eq!(micros(180), "180 µs");
        assert_eq!(micros(1_250), "1.25 ms");
        assert_eq!(micros(12_447), "12.4 ms");
        assert_eq!(micros(156_799), "157 ms");
        assert_eq!(micros(1_615_871), "1.62 s");
        assert_eq!(percent(95.0), "95%");
        assert_eq!(percent(0.037), "0.04%");
        assert_eq!(percent(0.001), "<0.01%");
    }

    #[test]
    fn no_rows_no_table() {
        assert_eq!(table(&[]), "");
    }
}
