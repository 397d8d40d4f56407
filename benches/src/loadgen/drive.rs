//! The engine: workers that share a cell's calls, and the progress bar.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

use super::{Cell, Limits, LoadClient, Report};

/// What one worker hands back.
#[derive(Debug, Default)]
pub struct WorkerResult {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

/// A boxed worker future, for the runtime's spawn function.
pub type Worker = Pin<Box<dyn Future<Output = WorkerResult> + Send + 'static>>;

struct Shared {
    issued: AtomicU64,
    done: AtomicU64,
    total: u64,
    stop_at: Instant,
}

async fn worker<C: LoadClient>(
    client: C,
    payload: Bytes,
    limits: Limits,
    shared: Arc<Shared>,
) -> WorkerResult {
    let mut out = WorkerResult::default();
    loop {
        if shared.issued.fetch_add(1, Ordering::Relaxed) >= shared.total {
            return out;
        }
        let start = Instant::now();
        if start >= shared.stop_at {
            return out;
        }
        match client.call(payload.clone(), limits.deadline).await {
            Ok(n) if limits.verify_echo && n != payload.len() => {
                out.errors += 1;
                if out.first_error.is_none() {
                    out.first_error =
                        Some(format!("echo of {} bytes came back as {n}", payload.len()));
                }
            }
            Ok(_) => {
                let us = start.elapsed().as_micros();
                out.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            Err(e) => {
                out.errors += 1;
                if out.first_error.is_none() {
                    out.first_error = Some(e);
                }
            }
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs one cell over `clients` (one per connection): `window` workers
/// spawned with `spawn`, each joined through the future it returns.
///
/// # Panics
/// If `clients` is empty.
pub async fn drive<C, S, J>(
    runtime: &'static str,
    clients: &[C],
    cell: Cell,
    limits: Limits,
    spawn: S,
) -> Report
where
    C: LoadClient,
    S: Fn(Worker) -> J,
    J: Future<Output = WorkerResult>,
{
    assert!(!clients.is_empty(), "at least one client");
    let payload = crate::inputs::payload(cell.payload);
    let start = Instant::now();
    let shared = Arc::new(Shared {
        issued: AtomicU64::new(0),
        done: AtomicU64::new(0),
        total: cell.calls,
        stop_at: start + limits.cell_time_limit,
    });
    let progress = limits
        .progress
        .then(|| Progress::start(runtime, cell, Arc::clone(&shared)));
    let workers = cell.window.max(1).min(cell.calls.max(1) as usize);
    let handles: Vec<J> = (0..workers)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            spawn(Box::pin(worker(
                client,
                payload.clone(),
                limits,
                Arc::clone(&shared),
            )))
        })
        .collect();
    // 1 µs to 10 min, 3 significant figures; longer values saturate.
    let mut latency_us =
        Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("valid bounds");
    let (mut errors, mut first_error) = (0, None);
    for handle in handles {
        let r = handle.await;
        for us in r.latencies_us {
            latency_us.saturating_record(u64::from(us));
        }
        errors += r.errors;
        first_error = first_error.or(r.first_error);
    }
    let elapsed = start.elapsed();
    if let Some(p) = progress {
        p.finish();
    }
    let ok = latency_us.len();
    Report {
        runtime,
        cell,
        elapsed,
        ok,
        errors,
        not_run: cell.calls.saturating_sub(ok + errors),
        latency_us,
        first_error,
    }
}

/// A progress bar fed from the shared counters by a thread.
struct Progress {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Progress {
    fn start(runtime: &'static str, cell: Cell, shared: Arc<Shared>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let bar = indicatif::ProgressBar::new(shared.total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(format!(
                "{runtime} payload={} window={}",
                cell.payload, cell.window
            ));
            while !stop2.load(Ordering::Relaxed) {
                bar.set_position(shared.done.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Progress { stop, thread }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
