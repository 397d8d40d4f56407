//! The engine: workers that share a cell's calls, and the progress bar.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;

use super::{Cell, ClientPath, ErrorCounts, Limits, LoadClient, LoadError, Report};

/// What one worker hands back.
#[derive(Debug, Default)]
pub struct WorkerResult {
    latencies_us: Vec<u32>,
    errors: ErrorCounts,
    first_error: Option<String>,
}

impl WorkerResult {
    fn failed(&mut self, error: &LoadError) {
        self.errors.add(error.kind());
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
    }
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
        let n = shared.issued.fetch_add(1, Ordering::Relaxed);
        if n >= shared.total {
            return out;
        }
        let start = Instant::now();
        if start >= shared.stop_at {
            return out;
        }
        let request = if limits.exact_echo {
            stamped(&payload, n)
        } else {
            payload.clone()
        };
        match client.call(request.clone(), &limits).await {
            Ok(answer) => match check_echo(&request, &answer, &limits) {
                Ok(()) => {
                    let us = start.elapsed().as_micros();
                    out.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                }
                Err(e) => out.failed(&e),
            },
            Err(e) => out.failed(&e),
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// `template` with call number `n` in its first bytes (little-endian, as
/// many of its 8 bytes as fit), so that every call's echo is its own.
fn stamped(template: &Bytes, n: u64) -> Bytes {
    let mut out = BytesMut::from(&template[..]);
    let stamp = n.to_le_bytes();
    let len = out.len().min(stamp.len());
    out[..len].copy_from_slice(&stamp[..len]);
    out.freeze()
}

/// Whether `answer` is the echo of `request`, as far as `limits` check.
fn check_echo(request: &Bytes, answer: &Bytes, limits: &Limits) -> Result<(), LoadError> {
    let wrong = if limits.exact_echo {
        answer != request
    } else {
        limits.verify_echo && answer.len() != request.len()
    };
    if wrong {
        return Err(LoadError::WrongAnswer {
            sent: request.len(),
            received: answer.len(),
            same_length: answer.len() == request.len(),
        });
    }
    Ok(())
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
    let (mut errors, mut first_error) = (ErrorCounts::default(), None);
    for handle in handles {
        let r = handle.await;
        for us in r.latencies_us {
            latency_us.saturating_record(u64::from(us));
        }
        errors.merge(&r.errors);
        first_error = first_error.or(r.first_error);
    }
    let elapsed = start.elapsed();
    if let Some(p) = progress {
        p.finish();
    }
    let ok = latency_us.len();
    Report {
        runtime,
        path: ClientPath::Plain,
        cell,
        elapsed,
        ok,
        errors: errors.total(),
        errors_by_kind: errors,
        not_run: cell.calls.saturating_sub(ok + errors.total()),
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
