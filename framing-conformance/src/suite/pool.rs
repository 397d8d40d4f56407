//! One client over several hosts (SPEC §9): a `Pool` over servers on
//! three loopback addresses (127.0.0.1, 127.0.0.2, 127.0.0.3, each bound
//! explicitly), balanced by pending calls (p2c), losing a host and taking
//! it back, and steering away from a host that stalls.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use framing_driver::{Bytes, CallError, Pool, Server};
use futures_util::future::join;
use futures_util::stream::{self, StreamExt};

use crate::peer::StalledHost;
use crate::util::{eventually, reconnecting, restartable_addr, serve_on, within, Load, WAIT};
use crate::TestRuntime;

/// Calls in flight at once through the pool.
const WINDOW: usize = 32;

/// Every call's deadline in the kill-and-restart test: far longer than
/// the restart takes, so that no call fails by waiting for it.
const LOAD_DEADLINE: Duration = Duration::from_secs(5);

/// Calls of the test with every host up.
const SPREAD_CALLS: usize = 3000;

/// Answers with every host up before one is killed.
const WARM_ANSWERS: usize = 500;

/// Answers while the killed host is down.
const DOWN_ANSWERS: usize = 600;

/// How soon a restarted host must get calls again.
const BACK_WITHIN: Duration = Duration::from_secs(5);

/// Calls a restarted host must handle to count as taken back.
const BACK_CALLS: usize = 20;

/// The three loopback addresses of the pool's hosts.
const HOSTS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(127, 0, 0, 1),
    Ipv4Addr::new(127, 0, 0, 2),
    Ipv4Addr::new(127, 0, 0, 3),
];

/// The numbers of the calls a host handled, in the order it got them.
type Handled = Arc<Mutex<Vec<usize>>>;

fn handled_len(handled: &Handled) -> usize {
    handled.lock().expect("not poisoned").len()
}

/// A call's request: its number.
fn request(seq: usize) -> Bytes {
    Bytes::copy_from_slice(&(seq as u64).to_be_bytes())
}

/// The call number a request carries.
fn seq_of(request: &[u8]) -> usize {
    let bytes: [u8; 8] = request.try_into().expect("an 8-byte request");
    usize::try_from(u64::from_be_bytes(bytes)).expect("a small number")
}

/// A host of the pool on `addr`: it notes each call number it handles in
/// `handled` and answers with its `index` followed by the request.
fn host<R: TestRuntime>(addr: SocketAddr, index: u8, handled: Handled) -> (Server<R>, SocketAddr) {
    serve_on::<R, _, _>(
        addr,
        framing_driver::Config::default(),
        move |req: Bytes| {
            handled.lock().expect("not poisoned").push(seq_of(&req));
            let mut answer = Vec::with_capacity(1 + req.len());
            answer.push(index);
            answer.extend_from_slice(&req);
            std::future::ready(Bytes::from(answer))
        },
    )
}

/// The host that answered call `seq`, checking the answer is its own.
fn answered_by(seq: usize, answer: &[u8]) -> u8 {
    assert_eq!(
        &answer[1..],
        &request(seq)[..],
        "call {seq} got another call's answer"
    );
    answer[0]
}

/// Which hosts handled each call number; panics when one handled it
/// twice, or two hosts did (no request reaches a server twice).
fn handlers(hosts: &[Handled]) -> BTreeMap<usize, u8> {
    let mut by = BTreeMap::new();
    for (i, handled) in hosts.iter().enumerate() {
        let index = u8::try_from(i).expect("three hosts");
        for &seq in handled.lock().expect("not poisoned").iter() {
            if let Some(first) = by.insert(seq, index) {
                panic!("call {seq} reached host {first} and host {index}");
            }
        }
    }
    by
}

/// With three hosts up, 3,000 calls through a pool are all answered, each
/// by exactly one host, and p2c gives every host at least a fifth of them.
pub async fn a_pool_spreads_calls_over_three_loopback_hosts<R: TestRuntime>() {
    let handled: Vec<Handled> = (0..3).map(|_| Handled::default()).collect();
    let mut servers = Vec::new();
    let mut addrs = Vec::new();
    for (i, ip) in HOSTS.into_iter().enumerate() {
        let index = u8::try_from(i).expect("three hosts");
        let (server, addr) = host::<R>((ip, 0).into(), index, handled[i].clone());
        servers.push(server);
        addrs.push(addr);
    }
    let pool = Pool::<R>::new(addrs, reconnecting(false, Some(LOAD_DEADLINE))).expect("targets");

    let results: Vec<(usize, Result<Bytes, CallError>)> = within::<R, _>(
        WAIT,
        "3,000 calls through the pool",
        stream::iter(0..SPREAD_CALLS)
            .map(|seq| {
                let pool = &pool;
                async move { (seq, pool.call(request(seq)).await) }
            })
            .buffer_unordered(WINDOW)
            .collect(),
    )
    .await;

    let mut per_host = [0usize; 3];
    for (seq, result) in &results {
        match result {
            Ok(answer) => per_host[usize::from(answered_by(*seq, answer))] += 1,
            Err(e) => panic!("call {seq} failed with every host up: {e:?}"),
        }
    }
    let by = handlers(&handled);
    assert_eq!(
        by.len(),
        SPREAD_CALLS,
        "every call reached exactly one host"
    );
    for (i, n) in per_host.into_iter().enumerate() {
        assert_eq!(n, handled_len(&handled[i]), "host {i}'s answers");
        assert!(
            n * 5 >= SPREAD_CALLS,
            "host {i} ({}) got {n} of {SPREAD_CALLS} calls: {per_host:?}",
            HOSTS[i]
        );
    }
}

/// Where a call of the kill-and-restart test was made.
const ALL_UP: u8 = 0;
const ONE_DOWN: u8 = 1;
const RESTARTED: u8 = 2;

/// A host killed in the middle of a load through a pool: no call is lost
/// or doubled (every call made completes exactly once; no call number
/// reaches two hosts or one twice; every answered call was handled once,
/// by the host its answer names; the hosts' request counts sum to the
/// calls answered plus those handled by the killed host whose answers died
/// with it, each of which failed with `Disconnected`); the only failures
/// are `Disconnected`, at most the calls in flight at the kill; calls made
/// while it is down go to the two others (but those that raced the kill);
/// restarted on the same address and port, it gets calls again within
/// 5 s.
pub async fn a_pool_loses_no_call_when_a_host_dies_mid_load_and_takes_it_back_when_it_returns<
    R: TestRuntime,
>() {
    let handled: Vec<Handled> = (0..3).map(|_| Handled::default()).collect();
    let mut servers = Vec::new();
    let mut addrs = Vec::new();
    for (i, ip) in HOSTS.into_iter().enumerate() {
        let index = u8::try_from(i).expect("three hosts");
        // Host 1 restarts on its port: one nobody else can take meanwhile.
        let at = if i == 1 {
            restartable_addr(ip.into())
        } else {
            (ip, 0).into()
        };
        let (server, addr) = host::<R>(at, index, handled[i].clone());
        servers.push(Some(server));
        addrs.push(addr);
    }
    let pool =
        Pool::<R>::new(addrs.clone(), reconnecting(false, Some(LOAD_DEADLINE))).expect("targets");
    let load = Load::default();
    let phase = AtomicU8::new(ALL_UP);

    let steps = async {
        load.until::<R>("answers with every host up", |l| l.ok() >= WARM_ANSWERS)
            .await;
        phase.store(ONE_DOWN, Ordering::SeqCst);
        let killed = servers[1].take().expect("host 1 is up");
        within::<R, _>(WAIT, "host 1 to stop", killed.shutdown(Duration::ZERO)).await;
        let answered = load.ok();
        load.until::<R>("answers while host 1 is down", |l| {
            l.ok() >= answered + DOWN_ANSWERS
        })
        .await;
        phase.store(RESTARTED, Ordering::SeqCst);
        let before = handled_len(&handled[1]);
        let (restarted, _) = host::<R>(addrs[1], 1, handled[1].clone());
        within::<R, _>(
            BACK_WITHIN,
            "the restarted host to get calls again",
            eventually::<R>("the restarted host to get calls", || {
                handled_len(&handled[1]) >= before + BACK_CALLS
            }),
        )
        .await;
        load.stop();
        restarted
    };
    let calls = load.run(WINDOW, |seq| {
        (phase.load(Ordering::SeqCst), pool.call(request(seq)))
    });
    let (done, _restarted) =
        within::<R, _>(WAIT, "the load across a host's death", join(calls, steps)).await;

    let mut seqs: Vec<usize> = done.iter().map(|c| c.seq).collect();
    seqs.sort_unstable();
    assert!(
        seqs.iter().copied().eq(0..load.made()),
        "every call made completes exactly once ({} made, {} completions)",
        load.made(),
        done.len()
    );
    let by = handlers(&handled);
    let (mut ok, mut disconnected, mut lost_answers) = (0, 0, 0);
    let (mut down_to_others, mut down_touching_host_1) = (0, 0);
    for c in &done {
        let to_others = match &c.result {
            Ok(answer) => {
                let host = answered_by(c.seq, answer);
                assert_eq!(
                    by.get(&c.seq),
                    Some(&host),
                    "call {} answered by host {host}",
                    c.seq
                );
                ok += 1;
                host != 1
            }
            Err(CallError::Disconnected(_)) if c.tag != RESTARTED => {
                disconnected += 1;
                match by.get(&c.seq) {
                    None => {}
                    Some(1) => lost_answers += 1,
                    Some(h) => panic!("call {} failed, yet host {h} handled it", c.seq),
                }
                false
            }
            Err(e) => panic!("call {} (made in phase {}) failed: {e:?}", c.seq, c.tag),
        };
        if c.tag == ONE_DOWN {
            if to_others {
                down_to_others += 1;
            } else {
                down_touching_host_1 += 1;
            }
        }
    }
    let handled_total: usize = handled.iter().map(handled_len).sum();
    assert_eq!(
        handled_total,
        ok + lost_answers,
        "the hosts handled the calls answered, plus the killed host's lost answers"
    );
    assert!(
        disconnected <= WINDOW,
        "{disconnected} calls failed, more than were in flight at the kill"
    );
    assert!(
        down_touching_host_1 <= WINDOW,
        "{down_touching_host_1} calls made while host 1 was down went to it"
    );
    assert!(
        down_to_others + WINDOW >= DOWN_ANSWERS,
        "only {down_to_others} calls made while host 1 was down went to the others"
    );
}

/// Every call's deadline in the stalled-host test: what a call sent to
/// the stalled host ends with; long enough that no call to a live host
/// misses it on a loaded machine.
const STALL_DEADLINE: Duration = Duration::from_secs(2);

/// Calls in flight at once in the stalled-host test.
const STALL_WINDOW: usize = 8;

/// Answers the stalled-host test waits for from the two live hosts.
const STALL_ANSWERS: usize = 2000;

/// A host that accepts connections and then never reads or answers, next
/// to two that answer: once a call to it is pending, p2c sees its load
/// and sends it at most a tenth of the calls made after that call (each
/// call bounded by its deadline, so nothing hangs: those sent to it fail
/// with `DeadlineExceeded`, and all others are answered).
pub async fn a_pool_sends_a_host_that_stalls_at_most_a_tenth_of_later_calls<R: TestRuntime>() {
    let handled: Vec<Handled> = (0..2).map(|_| Handled::default()).collect();
    let (s0, a0) = host::<R>((HOSTS[0], 0).into(), 0, handled[0].clone());
    let (s1, a1) = host::<R>((HOSTS[1], 0).into(), 1, handled[1].clone());
    let stalled = StalledHost::spawn((HOSTS[2], 0).into()).expect("a stalled host");
    let pool = Pool::<R>::new(
        [a0, a1, stalled.addr()],
        reconnecting(false, Some(STALL_DEADLINE)),
    )
    .expect("targets");
    let load = Load::default();

    let steps = async {
        load.until::<R>(
            "answers from the live hosts, and a call to the stalled one to fail",
            |l| l.ok() >= STALL_ANSWERS && l.failed() >= 1,
        )
        .await;
        load.stop();
    };
    let calls = load.run(STALL_WINDOW, |seq| ((), pool.call(request(seq))));
    let (done, ()) = within::<R, _>(WAIT, "the load with a stalled host", join(calls, steps)).await;

    assert_eq!(done.len(), load.made(), "every call made completes once");
    assert!(
        stalled.accepted() >= 1,
        "the pool connected to the stalled host"
    );
    let by = handlers(&handled);
    let mut to_stalled = Vec::new();
    for c in &done {
        match &c.result {
            Ok(answer) => {
                let host = answered_by(c.seq, answer);
                assert_eq!(by.get(&c.seq), Some(&host), "call {}", c.seq);
            }
            Err(CallError::DeadlineExceeded) => {
                assert_eq!(
                    by.get(&c.seq),
                    None,
                    "call {} was handled yet failed",
                    c.seq
                );
                to_stalled.push(c.seq);
            }
            Err(e) => panic!("call {} failed: {e:?}", c.seq),
        }
    }
    to_stalled.sort_unstable();
    let first = *to_stalled.first().expect("a call went to the stalled host");
    let later = load.made() - first - 1;
    let later_to_stalled = to_stalled.len() - 1;
    assert!(
        later_to_stalled * 10 <= later,
        "{later_to_stalled} of the {later} calls made after the first stalled one went to it"
    );
    drop((s0, s1));
}
