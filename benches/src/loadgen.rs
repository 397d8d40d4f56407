//! The load generator behind `framing-loadgen`.
//!
//! A cell is: `connections` clients, `window` calls in flight over all of
//! them together (as the Node benchmark counted it), `calls` calls in
//! total, `payload` bytes each. `window` workers each make one call at a
//! time on connection `worker % connections` until the cell's calls are
//! used up; every call carries a deadline, and the cell stops issuing
//! calls after a time bound, so a stalled server ends the run with errors
//! counted, never a hang.
//!
//! The runtime-specific part is small: a [`LoadClient`] (one `call` with a
//! deadline) and a way to spawn a worker; [`drive`] does the rest.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

use crate::baseline::{self, BaselineClient};

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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: DEFAULT_DEADLINE,
            cell_time_limit: DEFAULT_CELL_TIME_LIMIT,
            progress: false,
            verify_echo: false,
        }
    }
}

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

/// A client the load generator can drive: one call with a deadline.
pub trait LoadClient: Clone + Send + Sync + 'static {
    /// Sends `payload` and resolves to the response length, or a
    /// description of the failure.
    fn call(
        &self,
        payload: Bytes,
        deadline: Duration,
    ) -> impl Future<Output = Result<usize, String>> + Send;
}

impl LoadClient for BaselineClient {
    async fn call(&self, payload: Bytes, deadline: Duration) -> Result<usize, String> {
        self.call_timeout(payload, deadline)
            .await
            .map(|b| b.len())
            .map_err(|e| e.to_string())
    }
}

impl<R: framing_driver::Runtime> LoadClient for framing_driver::Client<R> {
    async fn call(&self, payload: Bytes, deadline: Duration) -> Result<usize, String> {
        let opts = framing_driver::CallOptions::new().timeout(deadline);
        self.call_with(payload, opts)
            .await
            .map(|b| b.len())
            .map_err(|e| e.to_string())
    }
}

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

/// Which client (and embedded echo server) a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeKind {
    /// `framing-tokio`.
    Tokio,
    /// `framing-async-std`.
    AsyncStd,
    /// `framing-smol`.
    Smol,
    /// The tokio-util `LengthDelimitedCodec` + `HashMap` baseline.
    Baseline,
}

impl RuntimeKind {
    /// The name printed in `runtime=`.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Tokio => "tokio",
            RuntimeKind::AsyncStd => "async-std",
            RuntimeKind::Smol => "smol",
            RuntimeKind::Baseline => "baseline",
        }
    }
}

/// Which echo server the clients talk to when no `--connect` is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ServerChoice {
    /// Each client against its own kind's echo server: the framing one for
    /// framing runtimes, the baseline one for the baseline.
    #[default]
    Own,
    /// Every client against the baseline echo server.
    Baseline,
    /// Every client against the framing-tokio echo server.
    Framing,
    /// Every client against the framing-async-std echo server.
    FramingAsyncStd,
    /// Every client against the framing-smol echo server.
    FramingSmol,
}

/// The embedded echo servers of a run, started on first use, on one
/// multi-thread tokio runtime shared with the tokio and baseline clients.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    baseline_server: Option<baseline::EchoServer>,
    framing_server: Option<framing_tokio::Server>,
    async_std_server: Option<framing_async_std::Server>,
    smol_server: Option<framing_smol::Server>,
    /// Settings for framing clients (e.g. a larger `max_buffer_bytes`).
    pub framing_config: framing_driver::Config,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").finish_non_exhaustive()
    }
}

impl Harness {
    /// A harness on a new multi-thread tokio runtime.
    ///
    /// # Errors
    /// If the runtime cannot be built.
    pub fn new() -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        Ok(Harness {
            rt,
            baseline_server: None,
            framing_server: None,
            async_std_server: None,
            smol_server: None,
            framing_config: framing_driver::Config::default(),
        })
    }

    /// The address of the embedded baseline echo server, started if needed.
    ///
    /// # Errors
    /// If it cannot bind.
    pub fn baseline_server(&mut self) -> Result<SocketAddr, String> {
        if self.baseline_server.is_none() {
            let server = self
                .rt
                .block_on(baseline::EchoServer::bind(([127, 0, 0, 1], 0).into()))
                .map_err(|e| format!("baseline echo server: {e}"))?;
            self.baseline_server = Some(server);
        }
        Ok(self
            .baseline_server
            .as_ref()
            .map(|s| s.local_addr())
            .expect("started"))
    }

    /// The address of the embedded framing-tokio echo server, started if
    /// needed.
    ///
    /// # Errors
    /// If it cannot bind.
    pub fn framing_server(&mut self) -> Result<SocketAddr, String> {
        if self.framing_server.is_none() {
            let server = self.rt.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| format!("framing echo server: {e}"))?;
                Ok::<_, String>(framing_tokio::Server::serve(
                    listener,
                    |req: Bytes| async move { req },
                ))
            })?;
            self.framing_server = Some(server);
        }
        self.framing_server
            .as_ref()
            .and_then(|s| s.local_addr())
            .ok_or_else(|| "framing echo server has no address".to_string())
    }

    /// The address of the embedded framing-async-std echo server, started
    /// if needed.
    ///
    /// # Errors
    /// If it cannot bind.
    pub fn async_std_server(&mut self) -> Result<SocketAddr, String> {
        if self.async_std_server.is_none() {
            let server = async_std::task::block_on(async {
                let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| format!("async-std echo server: {e}"))?;
                Ok::<_, String>(framing_async_std::Server::serve(
                    listener,
                    |req: Bytes| async move { req },
                ))
            })?;
            self.async_std_server = Some(server);
        }
        self.async_std_server
            .as_ref()
            .and_then(|s| s.local_addr())
            .ok_or_else(|| "async-std echo server has no address".to_string())
    }

    /// The address of the embedded framing-smol echo server, started if
    /// needed.
    ///
    /// # Errors
    /// If it cannot bind.
    pub fn smol_server(&mut self) -> Result<SocketAddr, String> {
        if self.smol_server.is_none() {
            let server = smol::block_on(async {
                let listener = smol::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| format!("smol echo server: {e}"))?;
                Ok::<_, String>(framing_smol::Server::serve(
                    listener,
                    |req: Bytes| async move { req },
                ))
            })?;
            self.smol_server = Some(server);
        }
        self.smol_server
            .as_ref()
            .and_then(|s| s.local_addr())
            .ok_or_else(|| "smol echo server has no address".to_string())
    }

    /// Where `kind`'s clients connect: `connect` if given, else the
    /// embedded server `server` picks.
    ///
    /// # Errors
    /// If a server cannot start, or the runtime is not wired in.
    pub fn target(
        &mut self,
        kind: RuntimeKind,
        connect: Option<SocketAddr>,
        server: ServerChoice,
    ) -> Result<SocketAddr, String> {
        if let Some(addr) = connect {
            return Ok(addr);
        }
        match (server, kind) {
            (ServerChoice::Baseline, _) | (ServerChoice::Own, RuntimeKind::Baseline) => {
                self.baseline_server()
            }
            (ServerChoice::Framing, _) | (ServerChoice::Own, RuntimeKind::Tokio) => {
                self.framing_server()
            }
            (ServerChoice::FramingAsyncStd, _) | (ServerChoice::Own, RuntimeKind::AsyncStd) => {
                self.async_std_server()
            }
            (ServerChoice::FramingSmol, _) | (ServerChoice::Own, RuntimeKind::Smol) => {
                self.smol_server()
            }
        }
    }

    /// Runs one cell with `kind`'s client against `addr`.
    ///
    /// # Errors
    /// If connecting fails or the runtime is not wired in.
    pub fn run_cell(
        &mut self,
        kind: RuntimeKind,
        addr: SocketAddr,
        cell: Cell,
        limits: Limits,
    ) -> Result<Report, String> {
        let name = kind.name();
        match kind {
            RuntimeKind::Baseline => self.rt.block_on(async {
                let mut clients = Vec::with_capacity(cell.connections);
                for _ in 0..cell.connections.max(1) {
                    clients.push(
                        BaselineClient::connect(addr)
                            .await
                            .map_err(|e| format!("connect {addr}: {e}"))?,
                    );
                }
                Ok(drive(name, &clients, cell, limits, spawn_tokio).await)
            }),
            RuntimeKind::Tokio => self.rt.block_on(run_framing::<framing_tokio::Tokio, _, _>(
                name,
                addr,
                &self.framing_config,
                cell,
                limits,
                spawn_tokio,
            )),
            RuntimeKind::AsyncStd => {
                async_std::task::block_on(run_framing::<framing_async_std::AsyncStd, _, _>(
                    name,
                    addr,
                    &self.framing_config,
                    cell,
                    limits,
                    async_std::task::spawn,
                ))
            }
            RuntimeKind::Smol => smol::block_on(run_framing::<framing_smol::Smol, _, _>(
                name,
                addr,
                &self.framing_config,
                cell,
                limits,
                smol::spawn,
            )),
        }
    }
}

/// Connects `cell.connections` framing clients of runtime `R` and drives
/// the cell; must run inside `R`'s executor.
async fn run_framing<R, S, J>(
    name: &'static str,
    addr: SocketAddr,
    config: &framing_driver::Config,
    cell: Cell,
    limits: Limits,
    spawn: S,
) -> Result<Report, String>
where
    R: framing_driver::Runtime,
    S: Fn(Worker) -> J,
    J: Future<Output = WorkerResult>,
{
    let mut clients = Vec::with_capacity(cell.connections);
    for _ in 0..cell.connections.max(1) {
        clients.push(
            framing_driver::Client::<R>::connect_with(addr, config.clone())
                .await
                .map_err(|e| format!("connect {addr}: {e}"))?,
        );
    }
    let report = drive(name, &clients, cell, limits, spawn).await;
    for c in &clients {
        c.close();
    }
    Ok(report)
}

fn spawn_tokio(w: Worker) -> impl Future<Output = WorkerResult> {
    let handle = tokio::spawn(w);
    async move { handle.await.unwrap_or_default() }
}
