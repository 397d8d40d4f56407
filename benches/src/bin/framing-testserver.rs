//! `framing-testserver`: the fault-injecting test server of SPEC section 8.
//!
//! ```text
//! framing-testserver --listen 127.0.0.1:0 --mode echo
//! ```
//!
//! Prints `listening on ADDR` first, so a test binding port 0 can read the
//! address.

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;
use framing_benches::testserver::{self, Mode};

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
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
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
        testserver::run(listener, args.mode).await
    })
}
