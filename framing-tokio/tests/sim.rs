//! Deterministic fault simulation (issue 10): the reconnecting client and
//! the `Pool` on turmoil's simulated network, with servers crashing and
//! restarting, links partitioned and held, and latencies changing, all
//! drawn from one seed.
//!
//! Each run checks that every call completed exactly once, by its
//! deadline, with the echo of its own request or an error of an allowed
//! kind (`DeadlineExceeded`; `Disconnected` only on a connection a fault
//! could break; `Closed` only after `close`), that no request was executed
//! twice (the servers' counts live outside the hosts, so a restart does
//! not lose them) or without being called, and that calls succeed again
//! once the faults end.
//!
//! `FRAMING_SIM_SEEDS=N` runs seeds 1..=N of each scenario (default: 20
//! for the client, 10 for the pool);
//! `FRAMING_SIM_SEED=S` replays seed S alone:
//!
//! ```text
//! FRAMING_SIM_SEED=123 cargo test -p framing-tokio --all-features --test sim -- --nocapture
//! ```

mod sim {
    pub(crate) mod faults;
    pub(crate) mod ledger;
    pub(crate) mod runtime;
}

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use framing_tokio::{Bytes, CallError, CallOptions, Config, EventKind, Reconnect};
use sim::faults::{Kinds, Plan, LATENCY_MS};
use sim::ledger::{now, Call, Ledger, Rules};
use sim::runtime::Sim;

type Client = framing_driver::Client<Sim>;
type Server = framing_driver::Server<Sim>;

const PORT: u16 = 7000;
/// The simulation's step: every host runs this long per step.
const TICK: Duration = Duration::from_millis(5);
/// Callers per run, each making one call at a time.
const WORKERS: u64 = 6;
/// Faults stop here.
const HEAL_AT: Duration = Duration::from_secs(10);
/// Calls go on for this long after the heal.
const AFTER_HEAL: Duration = Duration::from_secs(4);
/// Calls starting this long after the heal must succeed: the slowest
/// call on a stalled connection (1.5 s) plus a reconnect (≤ 1 s backoff,
/// 0.5 s connect timeout).
const RECOVERY: Duration = Duration::from_secs(3);
/// Per-call deadlines are drawn from this range (ms).
const DEADLINE_MS: std::ops::RangeInclusive<u64> = 200..=1500;

/// One simulated deployment.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    name: &'static str,
    servers: usize,
    /// Through a `Pool` over every server, or one reconnecting client to
    /// the first.
    pool: bool,
    faults: Option<Kinds>,
}

/// One reconnecting client and its server, which crashes and restarts,
/// behind a link that is partitioned and held.
const CLIENT: Scenario = Scenario {
    name: "client",
    servers: 1,
    pool: false,
    faults: Some(Kinds {
        max_down: 1,
        network: true,
        latency: true,
    }),
};

/// A `Pool` over three servers, up to two of them down at once.
#[cfg(feature = "tower")]
const POOL: Scenario = Scenario {
    name: "pool",
    servers: 3,
    pool: true,
    faults: Some(Kinds {
        max_down: 2,
        network: false,
        latency: true,
    }),
};

fn client_config() -> Config {
    Config::builder()
        .connect_timeout(Duration::from_millis(500))
        .reconnect(Some(
            Reconnect::new()
                .initial(Duration::from_millis(50))
                .max(Duration::from_secs(1)),
        ))
        .event_capacity(1 << 16)
        .build()
        .expect("valid")
}

/// The longest a server takes over a request (ms).
const HANDLER_DELAY_MS: u64 = 200;

/// What the server does with a request: echo it, some after a delay
/// drawn from its length (so that calls are in flight when faults hit).
async fn handle(req: Bytes) -> Bytes {
    let n = req.len() as u64;
    if n % 10 < 3 {
        tokio::time::sleep(Duration::from_millis(n * 7 % HANDLER_DELAY_MS)).await;
    }
    req
}

fn serve(sim: &mut turmoil::Sim<'_>, name: String, ledger: Ledger) {
    sim.host(name.clone(), move || {
        let (name, ledger) = (name.clone(), ledger.clone());
        async move {
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
            let _server = Server::serve(listener, move |req: Bytes| {
                ledger.executed(&name, &req);
                handle(req)
            });
            std::future::pending::<()>().await;
            Ok(())
        }
    });
}

/// Whatever the callers call through.
#[derive(Clone)]
enum Caller {
    Client(Client),
    #[cfg(feature = "tower")]
    Pool(Box<framing_driver::Pool<Sim>>),
}

impl Caller {
    async fn call(&self, payload: Bytes, opts: CallOptions) -> Result<Bytes, CallError> {
        match self {
            Caller::Client(c) => c.call_with(payload, opts).await,
            #[cfg(feature = "tower")]
            Caller::Pool(p) => p.call_with(payload, opts).await,
        }
    }
}

/// One caller: unique requests of random sizes and deadlines, one at a
/// time, until `until`; it gives up on some before their deadline.
async fn worker(caller: Caller, ledger: Ledger, seed: u64, w: u64, until: Duration) {
    let mut rng = fastrand::Rng::with_seed(seed.wrapping_mul(1000).wrapping_add(w));
    let mut seq = 0u64;
    while now() < until {
        seq += 1;
        let mut payload = format!("w{w}-{seq}:").into_bytes();
        let pad = rng.usize(0..3000);
        payload.extend(std::iter::repeat_n(b'a' + (seq % 26) as u8, pad));
        let payload = Bytes::from(payload);
        let deadline = Duration::from_millis(rng.u64(DEADLINE_MS));
        ledger.started();
        let start = now();
        let call = caller.call(payload.clone(), CallOptions::new().timeout(deadline));
        // One call in ten is given up by its caller before its deadline.
        let outcome = if rng.u8(..10) == 0 {
            let patience = Duration::from_millis(rng.u64(..deadline.as_millis() as u64));
            tokio::time::timeout(patience, call).await.ok()
        } else {
            Some(call.await)
        };
        ledger.completed(Call {
            payload,
            start,
            end: now(),
            deadline,
            outcome,
        });
        tokio::time::sleep(Duration::from_millis(rng.u64(0..30))).await;
    }
}

/// The client host: the callers, then a close.
async fn callers(scenario: Scenario, seed: u64, ledger: Ledger) -> turmoil::Result {
    let (caller, client) = if scenario.pool {
        (pool(scenario)?, None)
    } else {
        let client = Client::connect_lazy(("server0", PORT), client_config())?;
        let mut events = client.events();
        let seen = ledger.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                match ev.kind {
                    EventKind::Connected { .. } => seen.connected(),
                    EventKind::Lagged { .. } => seen.lagged(),
                    _ => {}
                }
            }
        });
        (Caller::Client(client.clone()), Some(client))
    };
    let until = HEAL_AT + AFTER_HEAL;
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        workers.spawn(worker(caller.clone(), ledger.clone(), seed, w, until));
    }
    while let Some(done) = workers.join_next().await {
        done?;
    }
    if let Some(client) = client {
        ledger.client_stats(client.stats(), client.pending_calls());
        ledger.closing();
        client.close();
        ledger.started();
        let start = now();
        let outcome = Some(client.call("after close").await);
        let deadline = Duration::ZERO;
        let payload = Bytes::from("after close");
        ledger.completed(Call {
            payload,
            start,
            end: now(),
            deadline,
            outcome,
        });
    }
    Ok(())
}

#[cfg(feature = "tower")]
fn pool(scenario: Scenario) -> Result<Caller, framing_tokio::ConnectError> {
    let targets = (0..scenario.servers).map(|i| (format!("server{i}"), PORT));
    let pool = framing_driver::Pool::new(targets, client_config())?;
    Ok(Caller::Pool(Box::new(pool)))
}

#[cfg(not(feature = "tower"))]
fn pool(_: Scenario) -> Result<Caller, framing_tokio::ConnectError> {
    unreachable!("pool scenarios need the `tower` feature")
}

/// Runs one seed of `scenario`: its ledger, or what went wrong.
fn run(scenario: Scenario, seed: u64) -> Result<Ledger, String> {
    // The reconnect backoff's jitter forks fastrand's thread-local
    // generator, and every host runs on this thread.
    fastrand::seed(seed);
    let mut rng = fastrand::Rng::with_seed(!seed);
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .tick_duration(TICK)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(rng.u64(LATENCY_MS)))
        // Room for 4096 unread segments per stream: turmoil never
        // retransmits, so segments lost to a partition hold their credit
        // for good; a real stack's retransmissions would reach the peer,
        // whose reset (it lost the connection) then ends the stream. With
        // room, the client's next writes play that part.
        .tcp_capacity(4096)
        .simulation_duration(HEAL_AT + AFTER_HEAL + Duration::from_secs(20))
        .build();
    let ledger = Ledger::default();
    let servers: Vec<String> = (0..scenario.servers)
        .map(|i| format!("server{i}"))
        .collect();
    for name in &servers {
        serve(&mut sim, name.clone(), ledger.clone());
    }
    sim.client("client", callers(scenario, seed, ledger.clone()));
    // Without faults, every call is owed an answer from the start.
    let (heal_at, recovery) = match scenario.faults {
        Some(_) => (HEAL_AT, RECOVERY),
        None => (Duration::ZERO, Duration::ZERO),
    };
    let kinds = scenario.faults.unwrap_or(Kinds {
        max_down: 0,
        network: false,
        latency: false,
    });
    let mut plan = Plan::new(seed, kinds, "client", &servers, heal_at, ledger.clone());
    plan.drive(&mut sim)
        .map_err(|e| format!("the simulation failed: {e}"))?;
    let rules = Rules {
        per_connection: !scenario.pool,
        // A crash's FIN, or the reset that answers a request sent to a
        // restarted host, crosses the network once or twice.
        window: Duration::from_millis(2 * LATENCY_MS.end()) + 4 * TICK,
        healed_at: heal_at,
        recovery,
        room: Duration::from_millis(HANDLER_DELAY_MS + 2 * LATENCY_MS.end() + 100),
        max_gap: scenario.pool.then_some(Duration::from_secs(2)),
    };
    if std::env::var_os("FRAMING_SIM_TRACE").is_some() {
        eprintln!("seed {seed}:\n{}", ledger.trace());
    }
    let mut broken = ledger.check(&rules);
    if broken.len() > 12 {
        let more = broken.len() - 10;
        broken.truncate(10);
        broken.push(format!("... and {more} more"));
    }
    if broken.is_empty() {
        Ok(ledger)
    } else {
        Err(broken.join("\n  "))
    }
}

/// The seeds to run: `FRAMING_SIM_SEED` alone, or 1..=`FRAMING_SIM_SEEDS`
/// (default `default`).
fn seeds(default: u64) -> Vec<u64> {
    let var = |name| std::env::var(name).ok().map(|v: String| v.parse::<u64>());
    if let Some(seed) = var("FRAMING_SIM_SEED") {
        return vec![seed.expect("FRAMING_SIM_SEED is a number")];
    }
    let n = var("FRAMING_SIM_SEEDS").map_or(default, |n| n.expect("FRAMING_SIM_SEEDS is a number"));
    (1..=n).collect()
}

/// Runs every seed of `scenario`; fails naming each failing seed and how
/// to replay it.
fn run_seeds(scenario: Scenario, test: &str, default: u64) {
    let wall = Instant::now();
    let seeds = seeds(default);
    let (mut totals, mut failed) = (BTreeMap::new(), Vec::new());
    for &seed in &seeds {
        match catch_unwind(AssertUnwindSafe(|| run(scenario, seed))) {
            Ok(Ok(ledger)) => {
                for (kind, n) in ledger.totals() {
                    *totals.entry(kind).or_insert(0) += n;
                }
            }
            Ok(Err(broken)) => failed.push(format!("seed {seed}:\n  {broken}")),
            Err(_) => failed.push(format!("seed {seed}: panicked (see above)")),
        }
    }
    eprintln!(
        "{}: {} seeds in {:?}: {totals:?}",
        scenario.name,
        seeds.len(),
        wall.elapsed(),
    );
    assert!(
        failed.is_empty(),
        "{} of {} seeds failed:\n{}\nreplay one with: FRAMING_SIM_SEED=<seed> cargo test -p framing-tokio --all-features --test sim {test} -- --nocapture",
        failed.len(),
        seeds.len(),
        failed.join("\n")
    );
}

#[test]
fn reconnecting_client_keeps_its_promises_through_crashes_partitions_and_delays() {
    run_seeds(
        CLIENT,
        "reconnecting_client_keeps_its_promises_through_crashes_partitions_and_delays",
        20,
    );
}

#[cfg(feature = "tower")]
#[test]
fn pool_keeps_answering_on_live_hosts_while_others_crash() {
    run_seeds(
        POOL,
        "pool_keeps_answering_on_live_hosts_while_others_crash",
        10,
    );
}

#[test]
fn without_faults_every_call_is_answered() {
    let calm = Scenario {
        name: "calm",
        faults: None,
        ..CLIENT
    };
    let ledger = run(calm, 1).unwrap_or_else(|broken| panic!("{broken}"));
    // `run` checked that every call whose deadline leaves room for the
    // slowest answer got it; the others may only run out of time.
    let totals = ledger.totals();
    assert_eq!(
        totals.get("closed"),
        Some(&1),
        "the call after close: {totals:?}"
    );
    let kinds: Vec<_> = totals.keys().copied().collect();
    assert!(
        kinds
            .iter()
            .all(|k| ["ok", "deadline", "dropped", "closed", "faults"].contains(k)),
        "{totals:?}"
    );
    assert!(totals["ok"] > 100, "{totals:?}");
}

/// The same seed gives the same run: every call, execution and fault at
/// the same simulated time; another seed gives another run.
fn replays(scenario: Scenario) {
    let trace = |seed| {
        run(scenario, seed)
            .unwrap_or_else(|broken| panic!("seed {seed}: {broken}"))
            .trace()
    };
    let first = trace(3);
    assert!(first.lines().count() > 100, "{first}");
    let again = trace(3);
    if first != again {
        let diff = first
            .lines()
            .zip(again.lines())
            .find(|(a, b)| a != b)
            .map_or_else(
                || "one trace is longer".to_owned(),
                |(a, b)| format!("{a}\n  vs\n{b}"),
            );
        panic!("seed 3 ran differently twice: first difference:\n{diff}");
    }
    assert_ne!(first, trace(4), "seeds 3 and 4 ran alike");
}

#[test]
fn the_same_seed_replays_the_same_client_run() {
    replays(CLIENT);
}

#[cfg(feature = "tower")]
#[test]
fn the_same_seed_replays_the_same_pool_run() {
    replays(POOL);
}
