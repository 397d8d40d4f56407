//! Upper and lower bounds on time: under a virtual clock, call deadlines,
//! the idle timeout and the shutdown deadline fire exactly at their
//! instant: not a nanosecond before, and not a tick after. And
//! `poll_timeout` names exactly that instant, so a driver that sleeps on
//! it never wakes for nothing and never sleeps through a timer.

use std::time::Duration;

use bytes::{Buf, Bytes};
use framing_core::testkit::encode_frame;
use framing_core::testkit::pair::Pair;
use framing_core::{CallError, CallOptions, Codec, Config, Connection, Event, State};

const NS: Duration = Duration::from_nanos(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn client(idle: Option<Duration>) -> Connection<Duration, u32> {
    let config = Config::builder().idle_timeout(idle).build().unwrap();
    Connection::client(config, Duration::ZERO)
}

fn events(c: &mut Connection<Duration, u32>) -> Vec<Event<u32>> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// Everything queued is written at `now`.
fn write_all(c: &mut Connection<Duration, u32>, now: Duration) {
    if let Some(mut out) = c.poll_transmit(now) {
        let n = out.remaining();
        out.advance(n);
    }
}

#[test]
fn a_deadline_fires_at_its_instant_and_not_a_nanosecond_before() {
    let mut c = client(None);
    let t = ms(3);
    c.call_with(t, "x", CallOptions::new().timeout(ms(250)), 1)
        .unwrap();
    assert_eq!(c.poll_timeout(), Some(ms(253)));
    c.handle_timeout(ms(253) - NS);
    assert!(events(&mut c).is_empty(), "fired early");
    assert_eq!(
        c.poll_timeout(),
        Some(ms(253)),
        "still due at the same instant"
    );
    c.handle_timeout(ms(253));
    assert!(matches!(
        &events(&mut c)[..],
        [Event::Completed {
            ctx: 1,
            result: Err(CallError::DeadlineExceeded),
            ..
        }]
    ));
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn a_response_at_the_deadline_instant_loses_to_the_deadline_when_the_timer_runs_first() {
    let mut c = client(None);
    let id = c
        .call_with(Duration::ZERO, "x", CallOptions::new().timeout(ms(10)), 1)
        .unwrap();
    c.handle_timeout(ms(10));
    c.handle_read(ms(10), &encode_frame(&Codec::default(), id.0, b"y"));
    let evs = events(&mut c);
    assert!(
        matches!(
            &evs[..],
            [
                Event::Completed {
                    result: Err(CallError::DeadlineExceeded),
                    ..
                },
                Event::UnknownResponse { late: true, .. }
            ]
        ),
        "{evs:?}"
    );
}

#[test]
fn the_idle_timeout_fires_at_the_last_read_or_write_plus_idle_once_per_stretch() {
    let mut c = client(Some(ms(100)));
    assert_eq!(c.poll_timeout(), Some(ms(100)), "idle since creation");
    c.call(ms(30), "x", 1).unwrap();
    assert_eq!(c.poll_timeout(), Some(ms(100)), "queueing is not writing");
    write_all(&mut c, ms(40));
    assert_eq!(c.poll_timeout(), Some(ms(140)));
    c.handle_timeout(ms(140) - NS);
    assert!(events(&mut c).is_empty(), "fired early");
    c.handle_timeout(ms(140));
    assert!(matches!(&events(&mut c)[..], [Event::IdleTimeout]));
    assert_eq!(c.poll_timeout(), None, "once per idle stretch");
    c.handle_timeout(ms(1000));
    assert!(events(&mut c).is_empty(), "not twice in one stretch");
    // A read starts a new stretch.
    c.handle_read(ms(1200), &encode_frame(&Codec::default(), 0, b"y"));
    events(&mut c);
    assert_eq!(c.poll_timeout(), Some(ms(1300)));
}

#[test]
fn a_shutdown_deadline_closes_at_its_instant_and_not_a_nanosecond_before() {
    let mut c = client(None);
    c.call(Duration::ZERO, "x", 1).unwrap();
    c.shutdown(ms(500));
    assert_eq!(c.poll_timeout(), Some(ms(500)));
    c.handle_timeout(ms(500) - NS);
    assert!(events(&mut c).is_empty());
    assert_eq!(c.state(), State::ShuttingDown { deadline: ms(500) });
    c.handle_timeout(ms(500));
    assert!(matches!(
        &events(&mut c)[..],
        [Event::Completed {
            result: Err(CallError::Closed),
            ..
        }]
    ));
    assert_eq!(c.state(), State::Closed(CallError::Closed));
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn poll_timeout_names_the_earliest_of_a_deadline_the_idle_timeout_and_a_shutdown() {
    let mut c = client(Some(ms(300)));
    c.call_with(Duration::ZERO, "a", CallOptions::new().timeout(ms(200)), 1)
        .unwrap();
    write_all(&mut c, Duration::ZERO);
    c.shutdown(ms(400));
    assert_eq!(c.poll_timeout(), Some(ms(200)), "the deadline");
    c.handle_timeout(ms(200));
    events(&mut c);
    assert_eq!(c.state(), State::Closed(CallError::Closed));
    assert_eq!(
        c.poll_timeout(),
        None,
        "nothing pending: the shutdown is done"
    );

    let mut c = client(Some(ms(300)));
    c.call(Duration::ZERO, "a", 1).unwrap();
    c.shutdown(ms(400));
    assert_eq!(c.poll_timeout(), Some(ms(300)), "the idle timeout");
    c.handle_timeout(ms(300));
    assert!(matches!(&events(&mut c)[..], [Event::IdleTimeout]));
    assert_eq!(c.poll_timeout(), Some(ms(400)), "the shutdown");
}

/// What a driver does until `t`: sleep until `poll_timeout`, wake the core
/// there, and again, without ever waking it for nothing.
fn sleep_until(pair: &mut Pair<u64>, t: Duration) -> usize {
    let mut wakes = 0;
    while let Some(due) = pair.client.poll_timeout().filter(|&d| d <= t) {
        assert!(
            due >= pair.now(),
            "a due instant in the past: a timer was missed"
        );
        pair.advance_to(due);
        assert!(pair.fire_client_timeout(), "wasted wake-up at {due:?}");
        wakes += 1;
    }
    pair.advance_to(t);
    wakes
}

/// A driver that sleeps until `poll_timeout` and calls `handle_timeout`
/// only then sees every deadline at its instant, and never wakes for
/// nothing.
#[test]
fn a_driver_sleeping_on_poll_timeout_sees_every_deadline_on_time_and_never_wakes_for_nothing() {
    let config = Config::builder().idle_timeout(None).build().unwrap();
    let mut pair: Pair<u64> = Pair::new(config).holding_requests().manual_timers();
    let mut deadlines = Vec::new();
    let mut wakes = 0;
    for i in 0..200u64 {
        // Spread out, with ties, some calls later than others.
        let timeout = ms(1 + (i * 37) % 97);
        pair.call_with(Bytes::new(), CallOptions::new().timeout(timeout), i)
            .unwrap();
        deadlines.push((pair.now() + timeout, i));
        if i % 10 == 9 {
            let t = pair.now() + ms(3);
            wakes += sleep_until(&mut pair, t);
        }
    }
    wakes += sleep_until(&mut pair, ms(10_000));
    assert_eq!(pair.client.pending_calls(), 0);
    let mut fired: Vec<(Duration, u64)> = pair
        .take_timed_client_events()
        .into_iter()
        .map(|(at, ev)| match ev {
            Event::Completed {
                ctx,
                result: Err(CallError::DeadlineExceeded),
                ..
            } => (at, ctx),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    fired.sort();
    deadlines.sort();
    assert_eq!(
        fired, deadlines,
        "every call timed out exactly at its deadline"
    );
    let distinct: std::collections::BTreeSet<Duration> = deadlines.iter().map(|d| d.0).collect();
    assert_eq!(wakes, distinct.len(), "one wake-up per distinct deadline");
}
