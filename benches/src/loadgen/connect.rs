//! Connecting a cell's clients to its targets and driving the cell: the
//! baseline client, framing clients one per connection, or one framing
//! pool over every connection.
//!
//! Connections are dealt to the targets in turn (`connection i` to
//! `target i % targets`), at least one per target.

use std::future::Future;
use std::net::SocketAddr;

use framing_driver::{Client, Config, Pool, Runtime, Target};

use super::{drive, Cell, Limits, Report, Worker, WorkerResult};
use crate::baseline::BaselineClient;

/// How many connections a cell opens over `targets`: its own count, at
/// least one per target.
fn connections(cell: Cell, targets: &[Target]) -> usize {
    cell.connections.max(targets.len()).max(1)
}

/// The target of connection `i`.
fn target_of(targets: &[Target], i: usize) -> &Target {
    &targets[i % targets.len()]
}

/// Connects the baseline client's connections (trying every address a
/// target resolves to) and drives the cell; runs inside tokio.
pub(super) async fn run_baseline(
    name: &'static str,
    targets: &[Target],
    cell: Cell,
    limits: Limits,
) -> Result<Report, String> {
    let mut clients = Vec::new();
    for i in 0..connections(cell, targets) {
        clients.push(connect_baseline(target_of(targets, i)).await?);
    }
    Ok(drive(name, &clients, cell, limits, spawn_tokio).await)
}

async fn connect_baseline(target: &Target) -> Result<BaselineClient, String> {
    let addrs: Vec<SocketAddr> = match (target.addrs(), target.host_port()) {
        (Some(addrs), _) => addrs.to_vec(),
        (None, Some(host_port)) => tokio::net::lookup_host(host_port)
            .await
            .map_err(|e| format!("resolve {target}: {e}"))?
            .collect(),
        (None, None) => Vec::new(),
    };
    let mut last = format!("{target} resolves to no address");
    for addr in addrs {
        match BaselineClient::connect(addr).await {
            Ok(client) => return Ok(client),
            Err(e) => last = format!("connect {addr}: {e}"),
        }
    }
    Err(last)
}

/// Connects one framing client of runtime `R` per connection (each
/// reconnecting when `config` says so) and drives the cell; must run
/// inside `R`'s executor.
pub(super) async fn run_clients<R, S, J>(
    name: &'static str,
    targets: &[Target],
    config: &Config,
    cell: Cell,
    limits: Limits,
    spawn: S,
) -> Result<Report, String>
where
    R: Runtime,
    S: Fn(Worker) -> J,
    J: Future<Output = WorkerResult>,
{
    let mut clients = Vec::new();
    for i in 0..connections(cell, targets) {
        let target = target_of(targets, i);
        clients.push(
            Client::<R>::connect_with(target.clone(), config.clone())
                .await
                .map_err(|e| format!("connect {target}: {e}"))?,
        );
    }
    let report = drive(name, &clients, cell, limits, spawn).await;
    for c in &clients {
        c.close();
    }
    Ok(report)
}

/// Builds one pool of runtime `R` whose members are the cell's
/// connections (lazy reconnecting clients, dealt to the targets in turn)
/// and drives the cell through it; must run inside `R`'s executor. The
/// members connect in the background, within the first calls' time.
pub(super) async fn run_pool<R, S, J>(
    name: &'static str,
    targets: &[Target],
    config: &Config,
    cell: Cell,
    limits: Limits,
    spawn: S,
) -> Result<Report, String>
where
    R: Runtime,
    S: Fn(Worker) -> J,
    J: Future<Output = WorkerResult>,
{
    let members = (0..connections(cell, targets)).map(|i| target_of(targets, i).clone());
    let pool = Pool::<R>::new(members, config.clone()).map_err(|e| format!("pool: {e}"))?;
    // The pool's members close when the last handle is dropped, after
    // the workers (which hold clones) have ended.
    Ok(drive(name, &[pool], cell, limits, spawn).await)
}

/// Spawns a worker on the current tokio runtime.
pub(super) fn spawn_tokio(w: Worker) -> impl Future<Output = WorkerResult> {
    let handle = tokio::spawn(w);
    async move { handle.await.unwrap_or_default() }
}
