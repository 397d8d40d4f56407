//! The load generator's bounds, over loopback (the test server's own
//! tests are in testserver.rs).

use std::time::{Duration, Instant};

use framing_benches::loadgen::{Cell, Harness, Limits, RuntimeKind, ServerChoice};
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
