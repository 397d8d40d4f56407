//! Decoding: a buffer of many frames, fed in 64 KiB reads, into a
//! framing-core server `Connection` (draining `Event::Request`s) and into
//! `LengthDelimitedCodec::decode` (splitting off the 4-byte id), on
//! identical input bytes.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use framing_benches::{baseline, inputs};
use framing_core::{Config, Connection, Event};
use tokio_util::codec::Decoder;

/// Bytes handed over per simulated socket read.
const READ: usize = 64 * 1024;

fn bench_decode(c: &mut Criterion, name: &str, count: usize, payload: usize, bytes: bool) {
    let input = inputs::frames(count, payload);
    let mut group = c.benchmark_group(name);
    group.throughput(if bytes {
        Throughput::Bytes(input.len() as u64)
    } else {
        Throughput::Elements(count as u64)
    });

    let now = Duration::ZERO;
    let mut server: Connection<Duration> = Connection::server(Config::default(), now);
    group.bench_function("framing_core", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for chunk in input.chunks(READ) {
                server.handle_read(now, chunk);
                while let Some(ev) = server.poll_event() {
                    if let Event::Request { id, payload } = ev {
                        black_box((id, payload));
                        n += 1;
                    }
                }
            }
            assert_eq!(n, count);
        })
    });

    let mut codec = baseline::codec();
    let mut buf = BytesMut::new();
    group.bench_function("length_delimited", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for chunk in input.chunks(READ) {
                buf.extend_from_slice(chunk);
                while let Some(mut frame) = codec.decode(&mut buf).expect("valid input") {
                    let id = frame.get_u32();
                    black_box((id, frame.freeze()));
                    n += 1;
                }
            }
            assert_eq!(n, count);
        })
    });
    group.finish();
}

fn decode(c: &mut Criterion) {
    bench_decode(c, "decode/50B_x10000", 10_000, 50, false);
    bench_decode(c, "decode/4KiB_x1000", 1_000, 4096, true);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = decode
}
criterion_main!(benches);
