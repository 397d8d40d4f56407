//! The client path: decode + match + complete for N responses, fed in
//! 64 KiB reads. framing-core: a client `Connection` with N pending calls
//! (ids 0..N) fed the responses, draining `Event::Completed` and sending
//! each result to its waiter's oneshot (the context); baseline:
//! `LengthDelimitedCodec::decode` + `HashMap<u32, oneshot::Sender>` remove +
//! send. Same response bytes for both.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use framing_benches::{baseline, inputs};
use framing_core::{CallError, CallOptions, Connection, Event, RpcId};
use tokio::sync::oneshot;
use tokio_util::codec::Decoder;

const READ: usize = 64 * 1024;

type Reply = Result<Bytes, CallError>;

fn bench_client(c: &mut Criterion, name: &str, count: usize, payload: usize) {
    let input = inputs::frames(count, payload);
    let request = inputs::payload(payload);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(count as u64));
    let now = Duration::ZERO;

    let mut client: Connection<Duration, oneshot::Sender<Reply>> =
        Connection::client(inputs::roomy_config(), now);
    let mut waiters = Vec::with_capacity(count);
    group.bench_function("framing_core+oneshot", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Untimed: N pending calls with ids 0..N, requests written.
                waiters.clear();
                for id in 0..count as u64 {
                    let (tx, rx) = oneshot::channel();
                    waiters.push(rx);
                    let opts = CallOptions::new().id(RpcId(id));
                    client
                        .call_with(now, request.clone(), opts, tx)
                        .map_err(|r| r.error)
                        .expect("accepted");
                }
                let queued = client.queued_bytes();
                client.poll_transmit(now).expect("queued").advance(queued);
                let start = Instant::now();
                let mut n = 0usize;
                for chunk in input.chunks(READ) {
                    client.handle_read(now, chunk);
                    while let Some(ev) = client.poll_event() {
                        if let Event::Completed { ctx, result, .. } = ev {
                            let _ = ctx.send(result);
                            n += 1;
                        }
                    }
                }
                total += start.elapsed();
                assert_eq!(n, count);
            }
            total
        })
    });

    let mut bare: Connection<Duration> = Connection::client(inputs::roomy_config(), now);
    group.bench_function("framing_core", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for id in 0..count as u64 {
                    let opts = CallOptions::new().id(RpcId(id));
                    bare.call_with(now, request.clone(), opts, ())
                        .map_err(|r| r.error)
                        .expect("accepted");
                }
                let queued = bare.queued_bytes();
                bare.poll_transmit(now).expect("queued").advance(queued);
                let start = Instant::now();
                let mut n = 0usize;
                for chunk in input.chunks(READ) {
                    bare.handle_read(now, chunk);
                    while let Some(ev) = bare.poll_event() {
                        if let Event::Completed { result, .. } = ev {
                            black_box(result.is_ok());
                            n += 1;
                        }
                    }
                }
                total += start.elapsed();
                assert_eq!(n, count);
            }
            total
        })
    });

    let mut codec = baseline::codec();
    let mut buf = BytesMut::new();
    let mut pending: HashMap<u32, oneshot::Sender<Bytes>> = HashMap::new();
    let mut base_waiters = Vec::with_capacity(count);
    group.bench_function("length_delimited+hashmap", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                base_waiters.clear();
                for id in 0..count as u32 {
                    let (tx, rx) = oneshot::channel();
                    base_waiters.push(rx);
                    pending.insert(id, tx);
                }
                let start = Instant::now();
                let mut n = 0usize;
                for chunk in input.chunks(READ) {
                    buf.extend_from_slice(chunk);
                    while let Some(mut frame) = codec.decode(&mut buf).expect("valid input") {
                        let id = frame.get_u32();
                        if let Some(tx) = pending.remove(&id) {
                            let _ = tx.send(frame.freeze());
                            n += 1;
                        }
                    }
                }
                total += start.elapsed();
                assert_eq!(n, count);
            }
            total
        })
    });
    group.finish();
}

fn client_path(c: &mut Criterion) {
    bench_client(c, "client_path/50B_x10000", 10_000, 50);
    bench_client(c, "client_path/4KiB_x1000", 1_000, 4096);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = client_path
}
criterion_main!(benches);
