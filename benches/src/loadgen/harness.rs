//! Which clients and echo servers a run uses, on whose runtime, and how each runs a cell.

use std::net::SocketAddr;

use bytes::Bytes;
use framing_async_std::AsyncStd;
use framing_driver::Target;
use framing_smol::Smol;
use framing_tokio::Tokio;

use super::{connect, Cell, ClientPath, Limits, Report};
use crate::baseline;

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
    /// Every client against the framing-tokio echo server (a closure
    /// handler).
    Framing,
    /// Every client against the framing-tokio echo server with a
    /// `tower::Service` handler made per connection
    /// (`Server::serve_service`), to compare with `framing`.
    FramingService,
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
    service_server: Option<framing_tokio::Server>,
    async_std_server: Option<framing_async_std::Server>,
    smol_server: Option<framing_smol::Server>,
    /// Settings for framing clients (e.g. a larger `max_buffer_bytes`, or
    /// `reconnect`).
    pub framing_config: framing_driver::Config,
    /// Framing calls go through a [`framing_driver::Pool`] even with one
    /// target (with several they always do).
    pub pool: bool,
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
            service_server: None,
            async_std_server: None,
            smol_server: None,
            framing_config: framing_driver::Config::default(),
            pool: false,
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

    /// Binds 127.0.0.1:0 on the harness's tokio runtime and starts `what`
    /// on it with `serve`, inside the runtime.
    fn start_tokio(
        &self,
        what: &str,
        serve: impl FnOnce(tokio::net::TcpListener) -> framing_tokio::Server,
    ) -> Result<framing_tokio::Server, String> {
        self.rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| format!("{what}: {e}"))?;
            Ok(serve(listener))
        })
    }

    /// The address of the embedded framing-tokio echo server whose handler
    /// is a `tower::Service` per connection, started if needed.
    ///
    /// # Errors
    /// If it cannot bind.
    pub fn service_server(&mut self) -> Result<SocketAddr, String> {
        if self.service_server.is_none() {
            let server = self.start_tokio("framing service echo server", |listener| {
                framing_tokio::Server::serve_service(
                    listener,
                    framing_driver::Config::default(),
                    |_: &framing_driver::ConnectionInfo| {
                        tower::service_fn(|req: framing_driver::Request| async move {
                            Ok::<_, std::convert::Infallible>(req.payload)
                        })
                    },
                )
            })?;
            self.service_server = Some(server);
        }
        address_of("framing service echo server", self.service_server.as_ref())
    }

    /// The address of the embedded framing-tokio echo server, started if
    /// needed.
    ///
    /// # Errors
    /// If it cannot bind.
    pub fn framing_server(&mut self) -> Result<SocketAddr, String> {
        if self.framing_server.is_none() {
            let server = self.start_tokio("framing echo server", |listener| {
                framing_tokio::Server::serve(listener, |req: Bytes| async move { req })
            })?;
            self.framing_server = Some(server);
        }
        address_of("framing echo server", self.framing_server.as_ref())
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
    /// If a server cannot start.
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
            (ServerChoice::FramingService, _) => self.service_server(),
            (ServerChoice::FramingAsyncStd, _) | (ServerChoice::Own, RuntimeKind::AsyncStd) => {
                self.async_std_server()
            }
            (ServerChoice::FramingSmol, _) | (ServerChoice::Own, RuntimeKind::Smol) => {
                self.smol_server()
            }
        }
    }

    /// Where `kind`'s clients connect: the `connect` targets if any, else
    /// the embedded server `server` picks.
    ///
    /// # Errors
    /// If a server cannot start.
    pub fn targets(
        &mut self,
        kind: RuntimeKind,
        connect: &[Target],
        server: ServerChoice,
    ) -> Result<Vec<Target>, String> {
        if !connect.is_empty() {
            return Ok(connect.to_vec());
        }
        let addr = self.target(kind, None, server)?;
        Ok(vec![addr_target(addr)])
    }

    /// How `kind`'s calls reach `targets`: the baseline's own client; for
    /// framing runtimes the pool when [`pool`](Self::pool) is set or there
    /// are several targets, else a client per connection, reconnecting
    /// when [`framing_config`](Self::framing_config) says so.
    pub fn path(&self, kind: RuntimeKind, targets: usize) -> ClientPath {
        match kind {
            RuntimeKind::Baseline => ClientPath::Plain,
            _ if self.pool || targets > 1 => ClientPath::Pool,
            _ if self.framing_config.reconnect().is_some() => ClientPath::Reconnecting,
            _ => ClientPath::Plain,
        }
    }

    /// Runs one cell with `kind`'s client against `addr`.
    ///
    /// # Errors
    /// If connecting fails.
    pub fn run_cell(
        &mut self,
        kind: RuntimeKind,
        addr: SocketAddr,
        cell: Cell,
        limits: Limits,
    ) -> Result<Report, String> {
        self.run_cell_on(kind, &[addr_target(addr)], cell, limits)
    }

    /// Runs one cell with `kind`'s client over `targets` (see
    /// [`path`](Self::path)); the cell's connections are dealt to the
    /// targets in turn, at least one each.
    ///
    /// # Errors
    /// If there is no target, connecting fails (the plain clients connect
    /// before the cell starts; a pool's members connect during it), or the
    /// pool is asked not to wait for room.
    pub fn run_cell_on(
        &mut self,
        kind: RuntimeKind,
        targets: &[Target],
        cell: Cell,
        limits: Limits,
    ) -> Result<Report, String> {
        if targets.is_empty() {
            return Err("no target to connect to".into());
        }
        let path = self.path(kind, targets.len());
        if path == ClientPath::Pool && !limits.wait_for_room {
            return Err(
                "calls through the pool always wait for room; refusing with BufferFull \
                 is for the plain client (one target, no pool)"
                    .into(),
            );
        }
        let name = kind.name();
        let config = &self.framing_config;
        let pool = path == ClientPath::Pool;
        let report = match kind {
            RuntimeKind::Baseline => self
                .rt
                .block_on(connect::run_baseline(name, targets, cell, limits)),
            RuntimeKind::Tokio if pool => self.rt.block_on(connect::run_pool::<Tokio, _, _>(
                name,
                targets,
                config,
                cell,
                limits,
                connect::spawn_tokio,
            )),
            RuntimeKind::Tokio => self.rt.block_on(connect::run_clients::<Tokio, _, _>(
                name,
                targets,
                config,
                cell,
                limits,
                connect::spawn_tokio,
            )),
            RuntimeKind::AsyncStd if pool => {
                async_std::task::block_on(connect::run_pool::<AsyncStd, _, _>(
                    name,
                    targets,
                    config,
                    cell,
                    limits,
                    async_std::task::spawn,
                ))
            }
            RuntimeKind::AsyncStd => {
                async_std::task::block_on(connect::run_clients::<AsyncStd, _, _>(
                    name,
                    targets,
                    config,
                    cell,
                    limits,
                    async_std::task::spawn,
                ))
            }
            RuntimeKind::Smol if pool => smol::block_on(connect::run_pool::<Smol, _, _>(
                name,
                targets,
                config,
                cell,
                limits,
                smol::spawn,
            )),
            RuntimeKind::Smol => smol::block_on(connect::run_clients::<Smol, _, _>(
                name,
                targets,
                config,
                cell,
                limits,
                smol::spawn,
            )),
        };
        report.map(|r| Report { path, ..r })
    }
}

/// A socket address as a [`Target`].
fn addr_target(addr: SocketAddr) -> Target {
    // An IP literal makes an address target, never a host name.
    Target::host(addr.ip().to_string(), addr.port())
}

/// The address `server` listens on, or why there is none.
fn address_of(what: &str, server: Option<&framing_tokio::Server>) -> Result<SocketAddr, String> {
    server
        .and_then(|s| s.local_addr())
        .ok_or_else(|| format!("{what} has no address"))
}
