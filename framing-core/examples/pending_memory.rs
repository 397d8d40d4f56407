//! Measures the core's memory per pending call: heap bytes held by a client
//! connection with N calls awaiting responses, once their frames are
//! written, divided by N. The context is 16 bytes, as the async driver's.
//!
//! `cargo run --release -p framing-core --example pending_memory`
//!
//! Where the bytes go, with 4-byte ids: a hash-table slot of 24 bytes (the
//! 4-byte key, a 4-byte timer stamp, the 16-byte context) plus a control
//! byte, at hashbrown's load factor (power-of-two buckets: x1.64 at 10,000,
//! x1.31 at 100,000); with a deadline, a 16-byte heap entry (nanoseconds
//! since the connection's creation, key, stamp) grown by eighths. Measured
//! on x86-64: about 61 B per call at 10,000 and 49 B at 100,000 with
//! deadlines, 44 B and 33 B without.
//!
//! It fails (exit code 1) when a measurement exceeds [`bound`]: per call,
//! the 25-byte slot at the worst load of a power-of-two table (just over
//! half full: 2 × 8/7 buckets per call, 57 B), with a deadline its 16-byte
//! heap entry with a quarter of slack (20 B), and 40 KiB of fixed parts
//! (the write queue's 16 KiB chunks, the empty tables) spread over the
//! calls. At 1,000 calls that is 98 B without deadlines and 118 B with;
//! at 100,000, 58 B and 78 B.

use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use framing_core::{CallOptions, Config, Connection};

#[global_allocator]
static HEAP: framing_heapcount::Counting = framing_heapcount::Counting;

fn measure(n: usize, deadline: bool) -> f64 {
    let t0 = Instant::now();
    let config = Config::builder()
        .max_buffer_bytes(usize::MAX)
        .warn_buffer_bytes(usize::MAX / 2)
        .build()
        .unwrap();
    let mut conn: Connection<Instant, [u64; 2]> = Connection::client(config, t0);
    let payload = Bytes::from_static(&[0u8; 50]);
    let before = framing_heapcount::live();
    for i in 0..n {
        let opts = if deadline {
            CallOptions::new().timeout(Duration::from_secs(5))
        } else {
            CallOptions::new().no_timeout()
        };
        conn.call_with(t0, payload.clone(), opts, [i as u64, 0])
            .unwrap();
        if i % 64 == 63 {
            let q = conn.queued_bytes();
            conn.poll_transmit(t0).expect("bytes queued").advance(q);
        }
    }
    let q = conn.queued_bytes();
    conn.poll_transmit(t0).expect("bytes queued").advance(q);
    let _ = conn.poll_timeout();
    let after = framing_heapcount::live();
    assert_eq!(conn.pending_calls(), n);
    (after - before) as f64 / n as f64
}

/// The most bytes per pending call this example accepts.
fn bound(n: usize, deadline: bool) -> f64 {
    let slot = 25.0 * 2.0 * 8.0 / 7.0;
    let entry = if deadline { 16.0 * 1.25 } else { 0.0 };
    slot + entry + 40.0 * 1024.0 / n as f64
}

fn main() {
    let mut over = Vec::new();
    for n in [1_000, 10_000, 50_000, 100_000] {
        let (plain, timed) = (measure(n, false), measure(n, true));
        println!(
            "pending={n:>6}  bytes/call: no deadline {plain:>5.1} (bound {:>5.1})  with deadline {timed:>5.1} (bound {:>5.1})",
            bound(n, false),
            bound(n, true)
        );
        for (got, deadline) in [(plain, false), (timed, true)] {
            if got > bound(n, deadline) {
                over.push(format!(
                    "{n} calls, deadline {deadline}: {got:.1} B per call > {:.1}",
                    bound(n, deadline)
                ));
            }
        }
    }
    if !over.is_empty() {
        eprintln!(
            "memory per pending call over its bound:\n{}",
            over.join("\n")
        );
        std::process::exit(1);
    }
}
