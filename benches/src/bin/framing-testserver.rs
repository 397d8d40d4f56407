//! `framing-testserver`: the fault-injecting test server of SPEC section 8.
//!
//! ```text
//! framing-testserver --listen 127.0.0.1:0 --mode echo
//! framing-testserver --mode stall --stuck-ms 200 --idle-timeout-ms 1000
//! framing-testserver --mode echo --close-every-ms 500
//! ```
//!
//! | flag | npm `test-socket-server` | default | 0 |
//! |---|---|---|---|
//! | `--idle-timeout-ms` | `timeout_ms` | 60000 | never closes an idle connection |
//! | `--stuck-ms` | `stuck_ms` | 30000 | the stall modes stay stuck forever |
//! | `--close-every-ms` | — | off | rejected |
//!
//! Prints `listening on ADDR` first, so a test binding port 0 can read the
//! address.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use framing_benches::testserver::{self, Mode, TestServerOptions};

/// Fault-injecting test server speaking the framing default wire format.
#[derive(Debug, Parser)]
#[command(name = "framing-testserver", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// How to answer requests.
    #[arg(long, value_enum, default_value_t = Mode::Echo)]
    mode: Mode,
    /// Close a connection after this many ms without traffic in either
    /// direction (the npm server's `timeout_ms`); 0 never does.
    #[arg(long, value_name = "MS", default_value_t = millis(testserver::DEFAULT_IDLE_TIMEOUT))]
    idle_timeout_ms: u64,
    /// How long the stall modes stay stuck before they answer (stall) or
    /// finish the half-sent answer (stall-partial), in ms (the npm
    /// server's `stuck_ms`); 0 stays stuck forever.
    #[arg(long, value_name = "MS", default_value_t = millis(testserver::DEFAULT_STUCK))]
    stuck_ms: u64,
    /// Every this many ms, close one live connection picked at random,
    /// between two answers (a rolling-restart stand-in); off unless given.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    close_every_ms: Option<u64>,
}

/// `d` in whole milliseconds.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Args {
    fn options(&self) -> TestServerOptions {
        // Zero turns a timer off (TestServerOptions reads zero as None).
        TestServerOptions {
            mode: self.mode,
            idle_timeout: Some(Duration::from_millis(self.idle_timeout_ms)),
            stuck: Some(Duration::from_millis(self.stuck_ms)),
            close_every: self.close_every_ms.map(Duration::from_millis),
        }
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let options = args.options();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let addr = listener.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
        drop(out);
        testserver::run_with(listener, options).await
    })
}
