//! The load generator, over loopback (127.0.0.1 port 0, 127.0.0.2 and
//! 127.0.0.3 only): its bounds, several hosts through the pool,
//! reconnecting through a server that closes connections, waiting for
//! room against refusing, and its table (the test server's own tests are
//! in testserver.rs). Every run is bounded: calls carry deadlines, and a
//! binary still running after a minute fails the test.

mod common;
use common::{spawn_testserver, Process};

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use framing_benches::loadgen::{Cell, ErrorKind, Harness, Limits, RuntimeKind, ServerChoice};
use framing_benches::testserver::{Mode, TestServer};

fn stalled_run(kind: RuntimeKind) {
    // A multi-thread runtime drives the test server's tasks in the
    // background for as long as it lives.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(TestServer::start(Mode::Stall)).unwrap();
    let mut harness = Harness::new().unwrap();
    let addr = harness
        .target(kind, Some(server.local_addr()), ServerChoice::Own)
        .unwrap();
    let cell = Cell {
        payload: 50,
        window: 10,
        connections: 2,
        calls: 30,
    };
    let limits = Limits {
        deadline: Duration::from_millis(200),
        ..Limits::default()
    };
    let start = Instant::now();
    let report = harness.run_cell(kind, addr, cell, limits).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(report.errors, 30, "{}", report.line());
    assert_eq!(report.ok, 0);
    drop(server);
}

#[test]
fn loadgen_against_a_stalled_server_ends_with_errors_not_a_hang() {
    stalled_run(RuntimeKind::Baseline);
    stalled_run(RuntimeKind::Tokio);
}

#[test]
fn loadgen_echo_cell_answers_every_call_on_every_runtime() {
    let mut harness = Harness::new().unwrap();
    let cell = Cell {
        payload: 100,
        window: 20,
        connections: 3,
        calls: 2_000,
    };
    let limits = Limits {
        verify_echo: true,
        ..Limits::default()
    };
    for kind in [
        RuntimeKind::Baseline,
        RuntimeKind::Tokio,
        RuntimeKind::AsyncStd,
        RuntimeKind::Smol,
    ] {
        let addr = harness.target(kind, None, ServerChoice::Own).unwrap();
        let report = harness.run_cell(kind, addr, cell, limits).unwrap();
        assert_eq!((report.ok, report.errors), (2_000, 0), "{}", report.line());
    }
}

/// What a `framing-loadgen` run printed.
struct Run {
    stdout: String,
    stderr: String,
    success: bool,
}

impl Run {
    /// The `key=value` line of `runtime`'s run.
    fn line(&self, runtime: &str) -> &str {
        let prefix = format!("runtime={runtime} ");
        self.stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} line in\n{}", self.stdout))
    }

    /// The table's row of `client` (e.g. `tokio pool`).
    fn row(&self, client: &str) -> &str {
        let at = format!("  {client}  ");
        self.stdout
            .lines()
            .find(|l| l.contains(&at))
            .unwrap_or_else(|| panic!("no table row of {client:?} in\n{}", self.stdout))
    }
}

/// `key`'s value in a `key=value` line.
fn value(line: &str, key: &str) -> Option<u64> {
    let prefix = format!("{key}=");
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(prefix.as_str()))
        .map(|v| v.parse().unwrap())
}

/// The last column of a table row: the errors by kind.
fn errors_column(row: &str) -> &str {
    row.rsplit("  ").next().unwrap().trim()
}

/// Runs `framing-loadgen` with `args`, killed if it takes over a minute.
fn loadgen(args: &[&str]) -> Run {
    let mut child = Process(
        Command::new(env!("CARGO_BIN_EXE_framing-loadgen"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).map(|_| s)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "framing-loadgen {args:?} still running after 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
        success: status.success(),
    }
}

/// An echo server of framing-tokio on `ip`:0 that counts the requests it
/// answers, on `rt`.
fn counting_echo_server(
    rt: &tokio::runtime::Runtime,
    ip: [u8; 4],
) -> (framing_tokio::Server, SocketAddr, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let server = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, 0)))
            .await
            .unwrap();
        framing_tokio::Server::serve(listener, move |req: Bytes| {
            counted.fetch_add(1, Ordering::Relaxed);
            async move { req }
        })
    });
    let addr = server.local_addr().unwrap();
    (server, addr, count)
}

#[test]
fn loadgen_spreads_calls_over_three_hosts_and_every_call_is_answered() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hosts: Vec<_> = [[127, 0, 0, 1], [127, 0, 0, 2], [127, 0, 0, 3]]
        .into_iter()
        .map(|ip| counting_echo_server(&rt, ip))
        .collect();
    let connect = hosts
        .iter()
        .map(|(_, addr, _)| addr.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let run = loadgen(&[
        "--connect",
        &connect,
        "--exact-echo",
        "--payload",
        "64",
        "--window",
        "30",
        "--connections",
        "6",
        "--calls",
        "3000",
    ]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let line = run.line("tokio");
    assert_eq!(value(line, "calls"), Some(3000), "{line}");
    assert_eq!(value(line, "errors"), Some(0), "{line}");
    assert_eq!(value(line, "not_run"), None, "{line}");
    assert_eq!(errors_column(run.row("tokio pool")), "none");
    let served: Vec<u64> = hosts
        .iter()
        .map(|(_, _, n)| n.load(Ordering::Relaxed))
        .collect();
    assert_eq!(served.iter().sum::<u64>(), 3000, "{served:?}");
    assert!(served.iter().all(|&n| n > 0), "{served:?}");
}

#[test]
fn loadgen_reconnects_through_a_server_that_closes_a_connection_every_100_ms_with_no_wrong_answer()
{
    let (_server, addr) = spawn_testserver(&["--mode", "echo", "--close-every-ms", "100"]);
    let addr = addr.to_string();
    let run = loadgen(&[
        "--connect",
        &addr,
        "--reconnect",
        "--exact-echo",
        "--payload",
        "50",
        "--window",
        "40",
        "--calls",
        "40000",
    ]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let line = run.line("tokio");
    // Every call completed once: answered or failed, none left unmade.
    assert_eq!(value(line, "calls"), Some(40_000), "{line}");
    assert_eq!(value(line, "not_run"), None, "{line}");
    // The only failures are calls that may have reached the server when
    // it closed their connection: no wrong answer, no deadline.
    let errors = errors_column(run.row("tokio reconnecting"));
    let errors_ok =
        errors == "none" || (errors.starts_with("disconnected ") && !errors.contains(','));
    assert!(errors_ok, "{errors}\n{}", run.stdout);
    // A close fails the calls in flight on that connection (a run of
    // 40,000 calls lasts several closes); far from all of them.
    let failed = value(line, "errors").unwrap();
    assert!((1..40_000 / 10).contains(&failed), "{line}");
}

#[test]
fn loadgen_prints_a_table_after_its_key_value_lines() {
    let run = loadgen(&[
        "--runtime",
        "tokio,smol",
        "--baseline",
        "--payload",
        "50",
        "--window",
        "20",
        "--calls",
        "2000",
    ]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let blank = lines
        .iter()
        .position(|l| l.is_empty())
        .expect("a blank line");
    assert!(lines[..blank].iter().all(|l| l.contains('=')), "{lines:?}");
    assert!(
        lines[blank + 1].starts_with("cell ") && lines[blank + 1].contains("ratio"),
        "{lines:?}"
    );
    let rows = &lines[blank + 2..];
    assert_eq!(rows.len(), 2, "{lines:?}");
    assert!(rows.iter().all(|r| !r.contains('=')), "{rows:?}");
    for (row, client) in rows.iter().zip(["tokio", "smol"]) {
        assert!(row.starts_with("50 B / 20 "), "{row}");
        assert!(row.contains(&format!("  {client}  ")), "{row}");
        assert!(row.contains('×'), "a ratio: {row}");
        assert!(row.contains("µs") || row.contains("ms"), "latencies: {row}");
        assert_eq!(errors_column(row), "none", "{row}");
    }
}

#[test]
fn without_waiting_a_tiny_buffer_refuses_calls_with_buffer_full_and_by_default_calls_wait() {
    let mut harness = Harness::new().unwrap();
    let core = framing_core::Config::builder()
        .max_buffer_bytes(8 * 1024)
        .warn_buffer_bytes(4 * 1024)
        .build()
        .unwrap();
    harness.framing_config = framing_driver::Config::builder()
        .core(core)
        .build()
        .unwrap();
    let addr = harness
        .target(RuntimeKind::Tokio, None, ServerChoice::Own)
        .unwrap();
    let cell = Cell {
        payload: 1024,
        window: 200,
        connections: 1,
        calls: 4_000,
    };
    let waiting = Limits {
        verify_echo: true,
        ..Limits::default()
    };
    assert!(waiting.wait_for_room, "waiting is the default");
    let refusing = Limits {
        wait_for_room: false,
        ..waiting
    };

    let report = harness
        .run_cell(RuntimeKind::Tokio, addr, cell, refusing)
        .unwrap();
    assert!(
        report.errors_by_kind.get(ErrorKind::BufferFull) > 0,
        "{}",
        report.line()
    );
    assert_eq!(
        report.errors,
        report.errors_by_kind.get(ErrorKind::BufferFull),
        "{}",
        report.line()
    );

    let report = harness
        .run_cell(RuntimeKind::Tokio, addr, cell, waiting)
        .unwrap();
    assert_eq!((report.ok, report.errors), (4_000, 0), "{}", report.line());

    // The pool's calls always wait: asking it not to is an error.
    harness.pool = true;
    let refused = harness.run_cell(RuntimeKind::Tokio, addr, cell, refusing);
    assert!(refused.is_err());
}

#[test]
fn loadgen_without_waiting_prints_buffer_full_errors() {
    let run = loadgen(&[
        "--no-wait",
        "--max-buffer-bytes",
        "8192",
        "--payload",
        "1024",
        "--window",
        "200",
        "--connections",
        "1",
        "--calls",
        "2000",
    ]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let line = run.line("tokio");
    assert!(value(line, "errors").unwrap() > 0, "{line}");
    let errors = errors_column(run.row("tokio"));
    assert!(errors.starts_with("buffer_full "), "{errors}");
}

#[test]
fn exact_echo_counts_an_answer_of_the_right_length_but_other_bytes_as_wrong() {
    // A server that answers every request with as many zero bytes.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        framing_tokio::Server::serve(listener, |req: Bytes| async move {
            Bytes::from(vec![0u8; req.len()])
        })
    });
    let addr = server.local_addr().unwrap();
    let mut harness = Harness::new().unwrap();
    let cell = Cell {
        payload: 64,
        window: 10,
        connections: 2,
        calls: 200,
    };
    let by_length = Limits {
        verify_echo: true,
        ..Limits::default()
    };
    let report = harness
        .run_cell(RuntimeKind::Tokio, addr, cell, by_length)
        .unwrap();
    assert_eq!((report.ok, report.errors), (200, 0), "{}", report.line());

    let exact = Limits {
        exact_echo: true,
        ..by_length
    };
    for kind in [RuntimeKind::Tokio, RuntimeKind::Baseline] {
        let report = harness.run_cell(kind, addr, cell, exact).unwrap();
        assert_eq!(
            report.errors_by_kind.get(ErrorKind::WrongAnswer),
            200,
            "{}",
            report.line()
        );
    }
}
