//! Interop with the Node world, over real loopback TCP.
//!
//! - The Rust [`Client`] against the npm package `test-socket-server`, the
//!   Node `framing-socket` project's companion server (it answers every
//!   request with 50–199 bytes under the request's id; not an echo).
//! - A Node client built on the npm package `framing-buffer`
//!   (`interop/client.js`) against the Rust [`Server`] with an echo handler.
//!
//! Both need `node` and `npm` on `PATH`. The two npm packages are installed
//! from the npm registry on first run, as by:
//!
//! ```text
//! npm install --prefix interop --no-audit --no-fund
//! ```
//!
//! Without Node, or if the install fails, the tests fail (they never pass
//! silently). Every child
//! process is killed when its guard drops, and every wait is bounded.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use framing_tokio::{Bytes, CallOptions, Client, RpcId, Server};

/// What to run when the Node side is missing.
const INSTALL_HINT: &str =
    "run `npm install --prefix interop --no-audit --no-fund` in the workspace root (needs Node.js >= 18 and npm)";

/// Per-call deadline: a stalled peer fails the call instead of hanging.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The `interop/` directory, with its npm packages checked. Panics with a
/// clear message when `node` or the packages are missing.
fn node_world() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop");
    let dir = dir.canonicalize().unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); it holds the Node side of the interop tests",
            dir.display()
        )
    });
    match Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`node --version` failed ({}): the Node interop tests need a working `node` on PATH; then {INSTALL_HINT}",
            out.status
        ),
        Err(e) => panic!(
            "`node` not found on PATH ({e}): the Node interop tests need Node.js; install it, then {INSTALL_HINT}"
        ),
    }
    install_once(&dir);
    for package in ["test-socket-server", "framing-buffer"] {
        let manifest = dir.join("node_modules").join(package).join("package.json");
        assert!(
            manifest.is_file(),
            "the npm package `{package}` is not installed ({} is missing): {INSTALL_HINT}",
            manifest.display()
        );
    }
    dir
}

/// Installs the npm packages if they are missing, once per test run,
/// bounded to two minutes.
fn install_once(dir: &Path) {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        let present = ["test-socket-server", "framing-buffer"].iter().all(|p| {
            dir.join("node_modules")
                .join(p)
                .join("package.json")
                .is_file()
        });
        if present {
            return;
        }
        eprintln!(
            "installing the Node side: npm install --prefix {}",
            dir.display()
        );
        let mut child = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(dir)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `npm` ({e}): {INSTALL_HINT}"));
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    assert!(
                        status.success(),
                        "`npm install` failed ({status}): {INSTALL_HINT}"
                    );
                    return;
                }
                Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(100)),
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("`npm install` took over 120 s: {INSTALL_HINT}");
                }
                Err(e) => panic!("cannot wait for `npm install`: {e}"),
            }
        }
    });
}

/// A Node child process, killed and reaped when dropped.
struct NodeProcess {
    script: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl NodeProcess {
    /// Runs `node SCRIPT ARGS...` in `dir`. Its stdout is read line by
    /// line, its stderr collected for failure messages; its stdin stays
    /// open while the guard lives (the test server exits when it closes).
    fn spawn(dir: &Path, script: &str, args: &[&str]) -> Self {
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `node {script}` in {}: {e}; {INSTALL_HINT}",
                    dir.display()
                )
            });
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let (tx, stdout) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]);
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_str(&text);
            }
        });
        NodeProcess {
            script: script.to_owned(),
            child,
            stdin,
            stdout,
            stderr,
        }
    }

    /// What the process wrote on stderr so far.
    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The next line on stdout, waiting at most `timeout` (blocking: call
    /// it outside the runtime, or from a blocking task).
    fn next_line(&self, timeout: Duration) -> String {
        match self.stdout.recv_timeout(timeout) {
            Ok(line) => line,
            Err(e) => panic!(
                "`node {}` printed no line on stdout within {timeout:?} ({e}); stderr:\n{}",
                self.script,
                self.stderr()
            ),
        }
    }

    /// Waits at most `timeout` for the process to exit, without blocking
    /// the runtime.
    async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(None) => panic!(
                    "`node {}` still running after {timeout:?}; stderr:\n{}",
                    self.script,
                    self.stderr()
                ),
                Err(e) => panic!("cannot wait for `node {}`: {e}", self.script),
            }
        }
    }

    /// Every line the process printed on stdout, once it has exited.
    fn remaining_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(5)) {
            lines.push(line);
        }
        lines
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The value of `"key":` in a flat one-line JSON object (numbers, booleans
/// and `null`; enough for the summaries the scripts print).
fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("\"{key}\":");
    let start = json.find(&pattern)? + pattern.len();
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Starts `interop/test-server.js` (the npm `test-socket-server`) on a
/// free loopback port.
fn start_test_socket_server(dir: &Path) -> (NodeProcess, SocketAddr) {
    let server = NodeProcess::spawn(dir, "test-server.js", &["0", "127.0.0.1", "120"]);
    let line = server.next_line(Duration::from_secs(20));
    let port: u16 = json_field(&line, "port")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "test-server.js printed {line:?}, expected {{\"port\":N}}; stderr:\n{}",
                server.stderr()
            )
        });
    (server, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// A request payload of `len` bytes, different for each `seed`.
fn payload(seed: usize, len: usize) -> Bytes {
    (0..len)
        .map(|i| (seed.wrapping_mul(31).wrapping_add(i) % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// One call, answered by test-socket-server with 50–199 bytes.
async fn checked_call(client: &Client, seed: usize, len: usize) {
    let opts = CallOptions::new().timeout(CALL_TIMEOUT);
    match client.call_with(payload(seed, len), opts).await {
        Ok(answer) => assert!(
            (50..200).contains(&answer.len()),
            "call {seed}: test-socket-server answered {} bytes, expected 50..=199",
            answer.len()
        ),
        Err(e) => panic!("call {seed} ({len} B payload) failed: {e:?}"),
    }
}

/// Payload sizes: mostly small, some empty, some spanning many reads.
fn size_of(i: usize) -> usize {
    match i % 50 {
        0 => 0,
        25 => 16 * 1024 + i % 4096,
        _ => (i * 37) % 300,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_client_against_node_test_socket_server() {
    let dir = node_world();
    let (node, addr) = tokio::task::spawn_blocking(move || start_test_socket_server(&dir))
        .await
        .expect("starting test-server.js");

    let run = async {
        let client = Client::connect(addr)
            .await
            .expect("connect to test-socket-server");
        let mut completed = 0u64;

        // One at a time.
        for i in 0..200 {
            checked_call(&client, i, size_of(i)).await;
            completed += 1;
        }

        // The caller's ids, across the signed 32-bit boundary: the Node
        // server reads them with readInt32BE and writes them back as is.
        for (k, id) in [0u64, 1, 0x7fff_ffff, 0x8000_0000, 0xdead_beef, 0xffff_ffff]
            .into_iter()
            .enumerate()
        {
            let answer = client
                .call_with(
                    payload(k, 10),
                    CallOptions::new().id(RpcId(id)).timeout(CALL_TIMEOUT),
                )
                .await
                .unwrap_or_else(|e| panic!("call with id {id:#x} failed: {e:?}"));
            assert!(
                (50..200).contains(&answer.len()),
                "id {id:#x}: {} bytes",
                answer.len()
            );
            completed += 1;
        }

        // 2,000 in flight at once on one connection: each call is queued
        // when made, before its future is polled.
        let calls: Vec<_> = (0..2000)
            .map(|i| {
                let opts = CallOptions::new().timeout(CALL_TIMEOUT);
                (i, client.call_with(payload(i, size_of(i)), opts))
            })
            .collect();
        for (i, call) in calls {
            let answer = call
                .await
                .unwrap_or_else(|e| panic!("pipelined call {i} failed: {e:?}"));
            assert!(
                (50..200).contains(&answer.len()),
                "pipelined call {i}: {} bytes",
                answer.len()
            );
            completed += 1;
        }

        // Many tasks sharing the client, and more connections beside it.
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..8usize {
            let client = client.clone();
            tasks.spawn(async move {
                for i in 0..250 {
                    checked_call(&client, t * 1000 + i, size_of(i + t)).await;
                }
                250u64
            });
        }
        for c in 0..3usize {
            tasks.spawn(async move {
                let other = Client::connect(addr).await.expect("second connection");
                for i in 0..300 {
                    checked_call(&other, 100_000 + c * 1000 + i, size_of(i)).await;
                }
                other.shutdown(Duration::from_secs(1)).await;
                300u64
            });
        }
        while let Some(done) = tasks.join_next().await {
            completed += done.expect("a calling task panicked");
        }
        assert_eq!(completed, 200 + 6 + 2000 + 8 * 250 + 3 * 300);

        let stats = client.stats();
        assert_eq!(stats.responses, 200 + 6 + 2000 + 8 * 250, "{stats:?}");
        assert_eq!(stats.calls, stats.responses, "{stats:?}");
        assert_eq!(stats.unknown_responses, 0, "{stats:?}");
        assert_eq!(
            stats.failed + stats.timeouts + stats.cancelled,
            0,
            "{stats:?}"
        );

        client.shutdown(Duration::from_secs(1)).await;
        assert!(client.is_closed());
    };
    if tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .is_err()
    {
        panic!(
            "the Rust client against test-socket-server did not finish in 90 s; node stderr:\n{}",
            node.stderr()
        );
    }
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_framing_buffer_client_against_rust_server() {
    let dir = node_world();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    // Echo, some answers delayed so that they leave out of order.
    let server = Server::serve(listener, |req: Bytes| async move {
        if req.len() % 5 == 1 {
            tokio::time::sleep(Duration::from_millis(1 + (req.len() % 4) as u64)).await;
        }
        req
    });
    let port = server
        .local_addr()
        .expect("bound address")
        .port()
        .to_string();

    // Three Node clients at once: N requests each, 64 in flight.
    const N: usize = 3000;
    let n = N.to_string();
    let mut clients: Vec<NodeProcess> = (0..3)
        .map(|_| NodeProcess::spawn(&dir, "client.js", &["127.0.0.1", &port, &n, "64", "30000"]))
        .collect();

    for client in &mut clients {
        let status = client.wait_exit(Duration::from_secs(45)).await;
        let lines = tokio::task::block_in_place(|| client.remaining_lines());
        let summary = lines.last().cloned().unwrap_or_default();
        assert!(
            status.success(),
            "node client.js exited with {status}; summary: {summary}\nstderr:\n{}",
            client.stderr()
        );
        let field = |key| json_field(&summary, key).unwrap_or("<missing>");
        assert_eq!(field("ok"), "true", "summary: {summary}");
        assert_eq!(field("responses"), n, "summary: {summary}");
        assert_eq!(field("mismatches"), "0", "summary: {summary}");
        assert_eq!(field("unknown_ids"), "0", "summary: {summary}");
        let in_flight: usize = field("max_in_flight").parse().unwrap_or(0);
        assert!(
            in_flight > 1,
            "requests were not pipelined; summary: {summary}"
        );
        let split: usize = field("split_frames").parse().unwrap_or(0);
        assert!(
            split > 0,
            "no frame was split across writes; summary: {summary}"
        );
    }
    drop(clients);

    if tokio::time::timeout(
        Duration::from_secs(5),
        server.shutdown(Duration::from_secs(1)),
    )
    .await
    .is_err()
    {
        panic!("the Rust server did not shut down within 5 s");
    }
}
