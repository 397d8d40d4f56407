//! Encoding N request frames: framing-core client `call`s then draining
//! `poll_transmit` (a `Buf`), against `LengthDelimitedCodec::encode`
//! into a `BytesMut` with the 4-byte id prepended (as the baseline client
//! does), and against the same plus the baseline's pending-map insert.

use bytes::Buf;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use framing_benches::{baseline, inputs};
use framing_core::Connection;
use tokio::sync::oneshot;
use tokio_util::codec::Encoder;

const FRAMES: usize = 1_000;

fn bench_encode(c: &mut Criterion, name: &str, payload_len: usize) {
    let payload = inputs::payload(payload_len);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(FRAMES as u64));

    let now = Duration::ZERO;
    let mut client: Connection<Duration> = Connection::client(inputs::roomy_config(), now);
    group.bench_function("framing_core", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Untimed: end the previous round's calls.
                client.fail_pending();
                while client.poll_event().is_some() {}
                let start = Instant::now();
                for _ in 0..FRAMES {
                    client
                        .call(now, payload.clone(), ())
                        .map_err(|r| r.error)
                        .expect("accepted");
                }
                let mut n = 0;
                if let Some(mut out) = client.poll_transmit(now) {
                    for chunk in out.chunks() {
                        n += black_box(chunk).len();
                    }
                    out.advance(n);
                }
                total += start.elapsed();
                assert_eq!(n, FRAMES * (8 + payload_len));
            }
            total
        })
    });

    let mut codec = baseline::codec();
    let mut dst = BytesMut::new();
    group.bench_function("length_delimited", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                dst.clear();
                let start = Instant::now();
                for id in 0..FRAMES as u32 {
                    let mut body = BytesMut::with_capacity(4 + payload.len());
                    body.put_u32(id);
                    body.put_slice(&payload);
                    codec.encode(body.freeze(), &mut dst).expect("fits");
                }
                black_box(&dst[..]);
                total += start.elapsed();
            }
            total
        })
    });

    let mut pending: HashMap<u32, oneshot::Sender<Bytes>> = HashMap::new();
    let mut waiters = Vec::with_capacity(FRAMES);
    group.bench_function("length_delimited+hashmap", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                dst.clear();
                pending.clear();
                waiters.clear();
                let start = Instant::now();
                for id in 0..FRAMES as u32 {
                    let (tx, rx) = oneshot::channel();
                    pending.insert(id, tx);
                    waiters.push(rx);
                    let mut body = BytesMut::with_capacity(4 + payload.len());
                    body.put_u32(id);
                    body.put_slice(&payload);
                    codec.encode(body.freeze(), &mut dst).expect("fits");
                }
                black_box(&dst[..]);
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    bench_encode(c, "encode/50B_x1000", 50);
    bench_encode(c, "encode/4KiB_x1000", 4096);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = encode
}
criterion_main!(benches);
