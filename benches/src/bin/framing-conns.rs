//! `framing-conns`: resident memory per idle connection on the server side,
//! the framing server next to the tokio-util baseline (issue 12).
//!
//! ```text
//! framing-conns                 # 4,000 connections to each server
//! framing-conns --conns 1000 --timeout-s 30
//! framing-conns --conns 500 --requests 200 --payload 4096   # idle after a burst
//! ```
//!
//! Each server runs in its own child process (this binary with the hidden
//! `--serve framing|baseline`), so only the server's memory is counted; see
//! [`framing_benches::conns`]. Output, one `key=value` line each:
//!
//! ```text
//! nproc=2 kernel=6.1.0 arch=x86_64
//! server=framing conns=4000 rss_before_kib=.. rss_after_kib=.. per_conn_kib=..
//! server=baseline conns=4000 rss_before_kib=.. rss_after_kib=.. per_conn_kib=..
//! ratio=.. what=framing_per_conn_kib/baseline_per_conn_kib
//! ```

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use framing_benches::conns::{self, Load, ServerKind, Steps, DEFAULT_CONNS, DEFAULT_PAYLOAD};

/// Server-side resident memory per idle connection: framing vs the
/// tokio-util LengthDelimitedCodec baseline.
#[derive(Debug, Parser)]
#[command(name = "framing-conns", version)]
struct Args {
    /// Connections opened to each server, each sending its requests and
    /// then kept open and idle. Both processes need this many open files,
    /// plus a few.
    #[arg(long, default_value_t = DEFAULT_CONNS)]
    conns: usize,
    /// Requests each connection sends back to back before going idle.
    #[arg(long, default_value_t = 1)]
    requests: usize,
    /// Payload bytes of each request.
    #[arg(long, default_value_t = DEFAULT_PAYLOAD)]
    payload: usize,
    /// Bound on each step (server start, each RSS reading, opening all
    /// the connections, server exit), in seconds.
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
    /// Pause after the last answer before reading the RSS, in milliseconds.
    #[arg(long, default_value_t = 200)]
    settle_ms: u64,
    /// Internal: run this server and answer RSS queries on stdin.
    #[arg(long, value_enum, hide = true)]
    serve: Option<ServerKind>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(kind) = args.serve {
        return match conns::serve(kind) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("framing-conns --serve {}: {e}", kind.name());
                ExitCode::FAILURE
            }
        };
    }
    println!("{}", conns::machine_line());
    let steps = Steps {
        timeout: Duration::from_secs(args.timeout_s.max(1)),
        settle: Duration::from_millis(args.settle_ms),
    };
    let load = Load {
        conns: args.conns,
        requests: args.requests.max(1),
        payload: args.payload,
    };
    let mut per_conn = Vec::new();
    for kind in [ServerKind::Framing, ServerKind::Baseline] {
        match conns::measure(kind, load, steps) {
            Ok(m) => {
                println!("{}", m.line());
                per_conn.push(m.per_conn_kib());
            }
            Err(e) => {
                eprintln!("framing-conns: {}: {e}", kind.name());
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "ratio={:.2} what=framing_per_conn_kib/baseline_per_conn_kib",
        per_conn[0] / per_conn[1]
    );
    ExitCode::SUCCESS
}
