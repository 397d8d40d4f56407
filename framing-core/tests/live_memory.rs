//! Live memory of one client core (and its server) over millions of
//! operations: calls, cancels, deadlines, answers on time, answers after
//! the deadline or the cancel (late), and answers so late that the client
//! has forgotten the call (unknown). The memory must stay under a stated
//! bound the whole time, not only after teardown: a counting global
//! allocator (this test binary's only test, so nothing else allocates
//! much meanwhile) gives the live heap bytes, sampled every
//! [`CHECK_EVERY`] operations together with the core's own accounting
//! (pending calls, unwritten bytes, read buffer capacity), and its
//! high-water mark, updated on every allocation, must never pass the
//! bound.
//!
//! # The bound, and why
//!
//! Live bytes above the baseline taken before the two cores exist:
//!
//! | part | bound | why |
//! |---|---|---|
//! | late-id memory | `LATE_MEMORY` × 62 B = 248 KiB | a queue of 8-byte records (at most `late_memory`) and a hash set of ids. Evictions leave deleted slots, and hashbrown grows a table whose deleted and live slots pass half of it rather than clean it in place, so a full memory ends at 4 buckets of 9 bytes per id (36 B), and while it moves there the old table (2 buckets per id, 18 B) is alive too |
//! | pending calls | `WINDOW` × 64 B = 8 KiB | a 16-byte slot at a load of 1/2 or more |
//! | deadline heap | (2 × `WINDOW` + 1 024) × 16 B × 5/4 = 25 KiB | stale entries (calls that ended early) are dropped once they outnumber live ones by 1 024; the heap grows by eighths |
//! | read buffers | 2 × 2 × `READ_CHUNK` = 8 KiB | each side lends up to a read chunk and keeps at most one unfinished frame and one read |
//! | write queues | 2 × 2 × 16 KiB = 64 KiB | each side's header buffer grows in 16 KiB steps |
//! | events, the test's own queues | 32 KiB | bounded by the window |
//!
//! Total: 385 KiB ([`BOUND`]). Measured peak: 342 KiB (350 000 B, during
//! the late-id set's last resize); 270 KiB live from then on. A leak of
//! one byte per operation would pass the bound within the first tenth of
//! the run; the test also checks that the second half of the run never
//! holds more than the first half did, plus 4 KiB.
//!
//! # How long
//!
//! [`OPERATIONS`] is 1 000 000 (calls, cancels, deadlines and answers
//! each count one) in a debug build, where it takes about 1 s on the
//! reference machine (2 cores, shared); 10 000 000 in a release build.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Buf, Bytes};
use framing_core::{CallOptions, Config, Connection, Event, RpcId};

#[global_allocator]
static HEAP: framing_heapcount::Counting = framing_heapcount::Counting;

const OPERATIONS: u64 = if cfg!(debug_assertions) {
    1_000_000
} else {
    10_000_000
};
const CHECK_EVERY: u64 = 10_000;
const WINDOW: usize = 128;
const LATE_MEMORY: usize = 4096;
const READ_CHUNK: usize = 2048;
const KIB: isize = 1024;
const BOUND: isize = 385 * KIB;
/// Requests the server keeps for very late answers, at most.
const VERY_LATE_HELD: usize = 16;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Moves everything `from` has queued into `to`, as a socket that takes
/// it all at once would.
fn transfer<C, D>(
    from: &mut Connection<Duration, C>,
    to: &mut Connection<Duration, D>,
    now: Duration,
) {
    if let Some(mut out) = from.poll_transmit(now) {
        while out.has_remaining() {
            let chunk = out.chunk();
            let n = chunk.len();
            to.handle_read(now, chunk);
            out.advance(n);
        }
    }
}

#[derive(Default, Debug)]
struct Counts {
    calls: u64,
    cancels: u64,
    timeouts: u64,
    answers: u64,
    late: u64,
    unknown: u64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.calls + self.cancels + self.timeouts + self.answers + self.late + self.unknown
    }
}

#[test]
fn a_client_stays_under_its_memory_bound_through_a_million_calls_cancels_timeouts_and_late_answers()
{
    let ms = Duration::from_millis;
    let payload = Bytes::from_static(&[7u8; 16]);
    let answer = Bytes::from_static(&[9u8; 16]);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    // The test's own queues, sized once.
    let mut issued: VecDeque<RpcId> = VecDeque::with_capacity(WINDOW);
    let mut answers: VecDeque<(Duration, RpcId)> = VecDeque::with_capacity(8 * WINDOW);
    let mut very_late: VecDeque<(u64, RpcId)> = VecDeque::with_capacity(VERY_LATE_HELD);
    let mut samples: Vec<isize> = Vec::with_capacity((OPERATIONS / CHECK_EVERY) as usize + 2);

    let baseline = framing_heapcount::live();
    framing_heapcount::reset_peak();

    let config = Config::builder()
        .late_memory(LATE_MEMORY)
        .read_chunk(READ_CHUNK)
        .idle_timeout(None)
        .build()
        .unwrap();
    let mut client: Connection<Duration, u64> = Connection::client(config.clone(), Duration::ZERO);
    let mut server: Connection<Duration> = Connection::server(config, Duration::ZERO);
    let mut now = Duration::ZERO;
    let mut n = Counts::default();
    let mut next_check = CHECK_EVERY;

    while n.total() < OPERATIONS {
        // Calls, up to the window; a deadline of 1 to 6 ms.
        while client.pending_calls() < WINDOW {
            let opts = CallOptions::new().timeout(ms(1 + rng.below(6)));
            let id = client
                .call_with(now, payload.clone(), opts, n.calls)
                .expect("the window keeps the queue small");
            n.calls += 1;
            if issued.len() == issued.capacity() {
                issued.pop_front();
            }
            issued.push_back(id);
        }
        transfer(&mut client, &mut server, now);

        // The server plans its answers: most within the deadline, some
        // after it, some never, a few so late the client has forgotten.
        while let Some(ev) = server.poll_event() {
            let Event::Request { id, .. } = ev else {
                panic!("unexpected server event {ev:?}");
            };
            match rng.below(100) {
                0..=59 => answers.push_back((now + ms(rng.below(3)), id)),
                60..=84 => answers.push_back((now + ms(4 + rng.below(6)), id)),
                85..=96 => {} // never answered
                _ if very_late.len() < VERY_LATE_HELD => very_late.push_back((n.total(), id)),
                _ => {}
            }
        }
        // The caller gives up on some of its latest calls.
        for _ in 0..rng.below(8) {
            if let Some(&id) = issued.get(rng.below(issued.len() as u64) as usize) {
                if client.cancel(id).is_some() {
                    n.cancels += 1;
                }
            }
        }
        // Answers that are due, and very late ones after 4096 abandonments
        // or more have gone by.
        let mut due = answers.len();
        while due > 0 {
            due -= 1;
            let (at, id) = answers.pop_front().unwrap();
            if at <= now {
                server.respond(id, answer.clone()).unwrap();
            } else {
                answers.push_back((at, id));
            }
        }
        while very_late
            .front()
            .is_some_and(|&(since, _)| n.total() - since > 200_000)
        {
            let (_, id) = very_late.pop_front().unwrap();
            server.respond(id, answer.clone()).unwrap();
        }
        transfer(&mut server, &mut client, now);

        // Time moves on by 1 ms; the client is woken where it asks.
        let next = now + ms(1);
        while let Some(due) = client.poll_timeout().filter(|&t| t <= next) {
            now = due.max(now);
            client.handle_timeout(now);
            // Count what the wake-up did, so none is wasted.
            let before = n.timeouts;
            while let Some(ev) = client.poll_event() {
                count(&mut n, ev);
            }
            assert!(n.timeouts > before, "wasted wake-up at {now:?}");
        }
        now = next;
        while let Some(ev) = client.poll_event() {
            count(&mut n, ev);
        }

        if n.total() >= next_check {
            next_check += CHECK_EVERY;
            let live = framing_heapcount::live() - baseline;
            let peak = framing_heapcount::peak() - baseline;
            samples.push(live);
            assert!(
                peak <= BOUND,
                "after {} operations: peak {peak} B > bound {BOUND} B ({n:?})",
                n.total()
            );
            assert!(client.pending_calls() <= WINDOW);
            assert!(client.queued_bytes() == 0 && server.queued_bytes() == 0);
            assert!(client.read_buffer_capacity() <= 2 * READ_CHUNK + 4096);
            assert!(server.read_buffer_capacity() <= 2 * READ_CHUNK + 4096);
        }
    }

    // Every case happened, many times.
    assert!(
        n.cancels > 10_000 && n.timeouts > 10_000 && n.answers > 10_000,
        "{n:?}"
    );
    assert!(n.late > 10_000, "late answers: {n:?}");
    assert!(n.unknown > 10, "answers beyond the late-id memory: {n:?}");
    // No growth: the second half never held more than the first did.
    let half = samples.len() / 2;
    let first = samples[..half].iter().max().copied().unwrap_or(0);
    let second = samples[half..].iter().max().copied().unwrap_or(0);
    assert!(
        second <= first + 4 * KIB,
        "live memory grew: {first} B in the first half, {second} B in the second"
    );
    let peak = framing_heapcount::peak() - baseline;
    println!(
        "{} operations ({n:?}): peak {peak} B, bound {BOUND} B, live at the end {} B",
        n.total(),
        framing_heapcount::live() - baseline
    );
}

fn count(n: &mut Counts, ev: Event<u64>) {
    match ev {
        Event::Completed { result: Ok(_), .. } => n.answers += 1,
        Event::Completed { result: Err(e), .. } => {
            assert_eq!(e, framing_core::CallError::DeadlineExceeded);
            n.timeouts += 1;
        }
        Event::UnknownResponse { late: true, .. } => n.late += 1,
        Event::UnknownResponse { late: false, .. } => n.unknown += 1,
        other => panic!("unexpected client event {other:?}"),
    }
}
