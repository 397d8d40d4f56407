//! Which clients and echo servers a run uses, on whose runtime, and how each runs a cell.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;

use super::{drive, Cell, Limits, Report, Worker, WorkerResult};
use crate::baseline::{self, BaselineClient};

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
