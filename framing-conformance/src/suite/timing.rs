//! Timers on time: several deadlines pending at once, and the idle timer
//! under traffic. Each outcome must come no earlier than its configured
//! time and within [`TIMING_TOLERANCE`] after it.

use std::time::Duration;

use framing_driver::{Bytes, CallError, CallOptions, EventKind};
use futures_util::future::join_all;

use crate::peer::Peer;
use crate::util::{
    assert_on_time, config, connect, connect_with, echo_server, next_event, sleep, within,
    TIMING_TOLERANCE, WAIT,
};
use crate::TestRuntime;

/// The deadlines of the out-of-order test, in the order the calls are
/// made: the second is the earliest, so the driver's timer must move
/// earlier, then later again. They are 1.2 s apart, more than
/// [`TIMING_TOLERANCE`], so a call that fails at another call's deadline
/// (its own timer lost) is caught.
const DEADLINES_MS: [u64; 3] = [3000, 600, 1800];

const _: () = {
    let tolerance = TIMING_TOLERANCE.as_millis() as u64;
    let mut i = 0;
    while i < DEADLINES_MS.len() {
        let mut j = i + 1;
        while j < DEADLINES_MS.len() {
            assert!(
                DEADLINES_MS[i].abs_diff(DEADLINES_MS[j]) > tolerance,
                "the deadlines must be further apart than the tolerance"
            );
            j += 1;
        }
        i += 1;
    }
};

/// The idle timeout of the traffic test.
const IDLE: Duration = Duration::from_millis(1200);
/// The gap between the traffic test's calls: with the test's own sleep
/// late by up to the tolerance, still less than [`IDLE`], so no quiet
/// stretch of the test reaches the timeout.
const TRAFFIC_GAP: Duration = Duration::from_millis(50);
/// Calls of the traffic test: together they last more than [`IDLE`], so
/// an idle timer not pushed back by traffic fires during them.
const TRAFFIC_CALLS: u32 = 30;

const _: () = assert!(
    TRAFFIC_GAP.as_millis() + TIMING_TOLERANCE.as_millis() < IDLE.as_millis(),
    "a late gap of the traffic test must stay shorter than its idle timeout"
);

/// Three calls with deadlines of 3, 0.6 and 1.8 s, made in that order
/// to a server that never answers, are pending at once: each fails with
/// `DeadlineExceeded` at its own deadline, on time.
pub async fn deadlines_pending_at_once_each_fire_on_time_whatever_their_order<R: TestRuntime>() {
    let peer = Peer::spawn(|conn| {
        conn.read_requests(DEADLINES_MS.len())?;
        conn.expect_eof()
    })
    .expect("peer");
    let client = connect::<R>(peer.addr()).await;

    let start = R::now();
    let calls = DEADLINES_MS.map(|ms| {
        let deadline = Duration::from_millis(ms);
        let call = client.call_with("stalled", CallOptions::new().timeout(deadline));
        async move {
            let result = call.await;
            (deadline, result, R::now())
        }
    });
    let outcomes = within::<R, _>(WAIT, "every deadline", join_all(calls)).await;
    for (deadline, result, came) in outcomes {
        assert_eq!(result, Err(CallError::DeadlineExceeded), "{deadline:?}");
        let what = format!("a {deadline:?} deadline among others");
        assert_on_time::<R>(&what, deadline, start..=start, came);
    }
    assert_eq!(client.stats().timeouts, DEADLINES_MS.len() as u64);
    client.close();
    peer.finished::<R>().await;
}

/// With a 1.2 s idle timeout, calls every 50 ms for 1.45 s raise no
/// `IdleTimeout` (traffic pushes the idle timer back); once they stop,
/// `IdleTimeout` comes on time after the last one.
pub async fn the_idle_timer_counts_from_the_last_traffic<R: TestRuntime>() {
    let (_server, addr) = echo_server::<R>();
    let client = connect_with::<R>(
        addr,
        config(framing_core::Config::builder().idle_timeout(Some(IDLE))),
    )
    .await;
    let mut events = client.events();

    let mut last_call = R::now();
    for i in 0..TRAFFIC_CALLS {
        if i > 0 {
            sleep::<R>(TRAFFIC_GAP).await;
        }
        last_call = R::now();
        let answer = within::<R, _>(WAIT, "an answer", client.call("traffic")).await;
        assert_eq!(answer, Ok(Bytes::from_static(b"traffic")), "call {i}");
        assert_eq!(
            events.try_recv(),
            None,
            "no event while calls come every {TRAFFIC_GAP:?} (call {i})"
        );
    }
    // The last traffic (the last answer read) came between the last call
    // and now: the idle timer is armed in between.
    let quiet_since = R::now();
    let ev = next_event::<R>(&mut events, "IdleTimeout").await;
    assert_eq!(ev.kind, EventKind::IdleTimeout);
    assert_on_time::<R>(
        "IdleTimeout after traffic",
        IDLE,
        last_call..=quiet_since,
        R::now(),
    );
    assert!(!client.is_closed());
}
