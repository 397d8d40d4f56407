//! The server side: one echo server in this process, reporting its own
//! resident memory on request.

use std::any::Any;
use std::io::{self, BufRead, Write};
use std::time::Duration;

use crate::baseline::EchoServer;

use super::procfs::rss_kib;

/// Which echo server a child process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerKind {
    /// `framing_tokio::Server::serve(listener, |req| async move { req })`.
    Framing,
    /// The tokio-util `Framed<TcpStream, LengthDelimitedCodec>` echo server
    /// of [`crate::baseline`].
    Baseline,
}

impl ServerKind {
    /// The name used on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Framing => "framing",
            ServerKind::Baseline => "baseline",
        }
    }
}

/// Runs the echo server `kind` on 127.0.0.1:0 in a multi-threaded tokio
/// runtime, prints `addr=ADDR`, then serves the commands read from
/// standard input, one per line: `rss` prints `rss_kib=N`, `quit` (or the
/// end of input) stops. The commands are answered from this thread while
/// the runtime's workers serve the connections.
///
/// # Errors
/// When the runtime cannot start, the port cannot be bound, or standard
/// input or output fail.
pub fn serve(kind: ServerKind) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    // Held until the end: dropping either handle stops its server.
    let server: Box<dyn Any> = {
        let _in_runtime = rt.enter();
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        match kind {
            ServerKind::Framing => Box::new(framing_tokio::Server::serve(
                listener,
                |req| async move { req },
            )),
            ServerKind::Baseline => Box::new(EchoServer::serve(listener)),
        }
    };
    let mut out = io::stdout().lock();
    writeln!(out, "addr={addr}")?;
    out.flush()?;
    for line in io::stdin().lock().lines() {
        match line?.trim() {
            "rss" => writeln!(out, "rss_kib={}", rss_kib()?)?,
            "quit" => break,
            other => writeln!(out, "error=unknown command {other:?}")?,
        }
        out.flush()?;
    }
    drop(server);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
