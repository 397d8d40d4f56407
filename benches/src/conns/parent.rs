//! The measuring side: starts a server in a child process, opens idle
//! connections to it and reads the child's resident memory before and
//! after.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::child::ServerKind;
use super::procfs::open_files_limit;
use super::wire::{check_echo, requests};

/// Connections opened per server by default, as in issue 12.
pub const DEFAULT_CONNS: usize = 4000;

/// Payload bytes of each request by default, as in issue 12.
pub const DEFAULT_PAYLOAD: usize = 10;

/// What each connection sends before it goes idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Connections opened, one after the other, and kept open.
    pub conns: usize,
    /// Requests each connection sends back to back (its answers read as
    /// they come) before going idle: 1 in issue 12; more shows what a
    /// connection keeps after a burst.
    pub requests: usize,
    /// Payload bytes of each request.
    pub payload: usize,
}

impl Default for Load {
    /// Issue 12's: 4,000 connections, one request of 10 bytes each.
    fn default() -> Self {
        Load {
            conns: DEFAULT_CONNS,
            requests: 1,
            payload: DEFAULT_PAYLOAD,
        }
    }
}

/// File descriptors each process needs beside the connections (runtime,
/// pipes, listener, standard streams).
const SPARE_FDS: u64 = 64;

/// Time bounds of a measurement.
#[derive(Debug, Clone, Copy)]
pub struct Steps {
    /// Bound on each step: the child's start, each RSS reading, opening all
    /// the connections, and the child's exit.
    pub timeout: Duration,
    /// Pause between the last answer and the second RSS reading, so that
    /// the server finishes what the last request started.
    pub settle: Duration,
}

/// One server's figures.
#[derive(Debug, Clone, Copy)]
pub struct Measurement {
    /// The server measured.
    pub kind: ServerKind,
    /// What each connection sent before going idle.
    pub load: Load,
    /// The server's `VmRSS` once listening, before any connection.
    pub rss_before_kib: u64,
    /// The server's `VmRSS` with every connection open and idle.
    pub rss_after_kib: u64,
}

impl Measurement {
    /// RSS growth per connection, in KiB.
    pub fn per_conn_kib(&self) -> f64 {
        (self.rss_after_kib as f64 - self.rss_before_kib as f64) / self.load.conns.max(1) as f64
    }

    /// `server=.. conns=.. rss_before_kib=.. rss_after_kib=.. per_conn_kib=..`,
    /// followed by `requests=.. payload=..` unless they are issue 12's.
    pub fn line(&self) -> String {
        let mut line = format!(
            "server={} conns={} rss_before_kib={} rss_after_kib={} per_conn_kib={:.2}",
            self.kind.name(),
            self.load.conns,
            self.rss_before_kib,
            self.rss_after_kib,
            self.per_conn_kib()
        );
        let issue_12 = Load::default();
        if (self.load.requests, self.load.payload) != (issue_12.requests, issue_12.payload) {
            line += &format!(
                " requests={} payload={}",
                self.load.requests, self.load.payload
            );
        }
        line
    }
}

/// Runs server `kind` in a child process (this executable, re-run with
/// `--serve KIND`), opens `load.conns` connections to it, sends
/// `load.requests` requests on each and checks their echo, and returns
/// the child's RSS before and with all of them open and idle.
///
/// # Errors
/// A message saying which step failed: the open-file limit is too low for
/// `load.conns`, the child did not start or answer within
/// `steps.timeout`, a connection failed or its echo differed.
pub fn measure(kind: ServerKind, load: Load, steps: Steps) -> Result<Measurement, String> {
    check_open_files(load.conns)?;
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let mut child = ChildGuard(
        Command::new(exe)
            .args(["--serve", kind.name()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting the {} server: {e}", kind.name()))?,
    );
    let mut stdin = child.0.stdin.take().ok_or("no stdin pipe")?;
    let lines = read_lines(child.0.stdout.take().ok_or("no stdout pipe")?);

    let addr: SocketAddr = expect(&lines, "addr=", steps.timeout)?
        .parse()
        .map_err(|e| format!("child address: {e}"))?;
    let rss_before_kib = query_rss(&mut stdin, &lines, steps.timeout)?;
    let streams = open_idle(addr, load, Instant::now() + steps.timeout)?;
    std::thread::sleep(steps.settle);
    let rss_after_kib = query_rss(&mut stdin, &lines, steps.timeout)?;

    let _ = writeln!(stdin, "quit");
    drop(stdin);
    child.wait_or_kill(steps.timeout);
    drop(streams);
    Ok(Measurement {
        kind,
        load,
        rss_before_kib,
        rss_after_kib,
    })
}

/// Kills the child on an early return.
struct ChildGuard(Child);

impl ChildGuard {
    fn wait_or_kill(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("framing-conns: the server did not exit within {timeout:?}; killing it");
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn check_open_files(conns: usize) -> Result<(), String> {
    let limits = open_files_limit().map_err(|e| format!("open-file limit: {e}"))?;
    check_limit(conns, limits)
}

/// An error unless the soft limit on open files leaves room for `conns`.
fn check_limit(conns: usize, (soft, hard): (Option<u64>, Option<u64>)) -> Result<(), String> {
    let needed = conns as u64 + SPARE_FDS;
    match soft {
        Some(soft) if soft < needed => Err(format!(
            "{conns} connections need about {needed} open files in this process and as many in \
             the server's, but the soft limit is {soft} (hard {}): raise it first, e.g. \
             `ulimit -n {needed}`, or pass a smaller --conns",
            hard.map_or("unlimited".to_owned(), |h| h.to_string())
        )),
        _ => Ok(()),
    }
}

/// The child's output lines, read on a thread so that waiting for one can
/// time out.
fn read_lines(stdout: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The value of the next line starting with `key`.
fn expect(lines: &Receiver<String>, key: &str, timeout: Duration) -> Result<String, String> {
    match lines.recv_timeout(timeout) {
        Ok(line) => line
            .strip_prefix(key)
            .map(str::to_owned)
            .ok_or_else(|| format!("expected `{key}...` from the server, got {line:?}")),
        Err(RecvTimeoutError::Timeout) => {
            Err(format!("no `{key}...` from the server within {timeout:?}"))
        }
        Err(RecvTimeoutError::Disconnected) => {
            Err(format!("the server exited before printing `{key}...`"))
        }
    }
}

fn query_rss(
    stdin: &mut ChildStdin,
    lines: &Receiver<String>,
    timeout: Duration,
) -> Result<u64, String> {
    writeln!(stdin, "rss")
        .and_then(|()| stdin.flush())
        .map_err(|e| format!("asking the server for its RSS: {e}"))?;
    expect(lines, "rss_kib=", timeout)?
        .parse()
        .map_err(|e| format!("server RSS: {e}"))
}

/// Opens `load.conns` connections one after the other, each sending its
/// requests and reading their echo, all before `deadline`.
fn open_idle(addr: SocketAddr, load: Load, deadline: Instant) -> Result<Vec<TcpStream>, String> {
    let conns = load.conns;
    let sent = requests(load.requests, load.payload);
    let mut got = vec![0; sent.len()];
    let mut streams = Vec::with_capacity(conns);
    for i in 0..conns {
        let fail =
            |what: &str, e: io::Error| format!("connection {} of {conns}: {what}: {e}", i + 1);
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("timed out after opening {i} of {conns} connections"))?;
        let s = TcpStream::connect_timeout(&addr, left).map_err(|e| fail("connect", e))?;
        s.set_nodelay(true).map_err(|e| fail("nodelay", e))?;
        s.set_read_timeout(Some(left))
            .map_err(|e| fail("timeout", e))?;
        s.set_write_timeout(Some(left))
            .map_err(|e| fail("timeout", e))?;
        // Write on another thread while reading: a burst larger than the
        // socket buffers would otherwise stall both ends.
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| (&s).write_all(&sent));
            (&s).read_exact(&mut got).map_err(|e| fail("answer", e))?;
            match writer.join() {
                Ok(result) => result.map_err(|e| fail("request", e)),
                Err(_) => Err(format!("connection {}: the writer panicked", i + 1)),
            }
        })?;
        check_echo(&sent, &got).map_err(|e| format!("connection {} of {conns}: {e}", i + 1))?;
        streams.push(s);
    }
    Ok(streams)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_connection_growth_divides_by_the_connections() {
        let mut m = Measurement {
            kind: ServerKind::Baseline,
            load: Load {
                conns: 4,
                ..Load::default()
            },
            rss_before_kib: 1000,
            rss_after_kib: 1010,
        };
        assert_eq!(m.per_conn_kib(), 2.5);
        assert_eq!(
            m.line(),
            "server=baseline conns=4 rss_before_kib=1000 rss_after_kib=1010 per_conn_kib=2.50"
        );
        m.load.requests = 100;
        assert!(
            m.line().ends_with(" requests=100 payload=10"),
            "{}",
            m.line()
        );
    }

    #[test]
    fn a_limit_below_the_connections_is_reported() {
        let err = check_limit(4000, (Some(1024), Some(4096))).unwrap_err();
        assert!(err.contains("soft limit is 1024 (hard 4096)"), "{err}");
        assert!(err.contains("ulimit -n 4064"), "{err}");
        assert!(check_limit(4000, (Some(4064), None)).is_ok());
        assert!(check_limit(4000, (None, None)).is_ok());
    }
}
