//! End to end over loopback TCP: each runtime's framing client against its
//! framing echo server, and the baseline client (LengthDelimitedCodec +
//! HashMap) against the baseline echo server, in the same group. One
//! iteration is 1,000 calls with 200 in flight over 5 connections.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use framing_benches::loadgen::{Cell, Harness, Limits, RuntimeKind, ServerChoice};

const BATCH: u64 = 1_000;

fn e2e(c: &mut Criterion) {
    let mut harness = Harness::new().expect("runtime");
    for payload in [50usize, 4096] {
        let mut group = c.benchmark_group(format!("e2e/{payload}B_window200"));
        group.throughput(Throughput::Elements(BATCH));
        for kind in [
            RuntimeKind::Tokio,
            RuntimeKind::AsyncStd,
            RuntimeKind::Smol,
            RuntimeKind::Baseline,
        ] {
            let addr = harness
                .target(kind, None, ServerChoice::Own)
                .expect("echo server");
            group.bench_function(kind.name(), |b| {
                b.iter_custom(|iters| {
                    let cell = Cell {
                        payload,
                        window: 200,
                        connections: 5,
                        calls: iters * BATCH,
                    };
                    let limits = Limits {
                        verify_echo: true,
                        ..Limits::default()
                    };
                    let report = harness.run_cell(kind, addr, cell, limits).expect("run");
                    assert_eq!(report.errors, 0, "{}", report.line());
                    report.elapsed
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    targets = e2e
}
criterion_main!(benches);
