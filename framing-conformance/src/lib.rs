//! `framing-conformance`: one behaviour suite for every runtime adapter.
//!
//! The suite is written once, as async functions generic over a
//! [`TestRuntime`] (a [`framing_driver::Runtime`] that can also block on a
//! future and bind a loopback listener), and run against each adapter by
//! one line in `tests/`:
//!
//! ```
//! framing_conformance::conformance_suite!(framing_conformance::runtimes::Tokio);
//! # fn main() {}
//! ```
//!
//! which expands to one `#[test]` per function of [`suite`], named as the
//! sentence it checks. Every test runs over real loopback TCP (or a Unix
//! socket pair) against a framing `Server` of the runtime under test, or
//! against a scripted misbehaving [`peer`] written with blocking std
//! sockets on a std thread, so the misbehaviour is the same whatever the
//! runtime.
//!
//! Nothing hangs: each test runs on its own thread under a
//! [`TEST_TIMEOUT`] (an async timer inside the runtime, and a watchdog
//! outside it in case the runtime itself is stuck), every wait inside a
//! test has its own shorter bound with a message saying what it waited
//! for, and the fake peers' sockets have read and write timeouts.
//!
//! The connect timeout is provoked with a listener whose accept queue is
//! full (backlog 0, one connection queued, never accepted): Linux then
//! drops new SYNs, so the handshake never completes.
//!
//! Timers are checked from both sides: nothing fires before its
//! configured time, and nothing later than
//! [`TIMING_TOLERANCE`](util::TIMING_TOLERANCE) after it. Socket options
//! are read back with `getsockopt` on the sockets the driver itself uses,
//! through a runtime wrapper that keeps a duplicate descriptor of each
//! socket it connects or accepts.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod flaky;
pub mod memory;
pub mod peer;
pub mod runtimes;
mod spy;
pub mod suite;
pub mod tls;
pub mod util;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::resume_unwind;
use std::sync::{mpsc, RwLock};
use std::time::{Duration, Instant};

use framing_driver::Runtime;
use futures_util::future::{select, Either};

/// How long one conformance test may take before it fails.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Extra time the watchdog outside the runtime allows on top of
/// [`TEST_TIMEOUT`] before declaring the runtime's thread stuck.
const WATCHDOG_SLACK: Duration = Duration::from_secs(10);

/// What the suite needs from a runtime besides what the driver needs.
pub trait TestRuntime: Runtime {
    /// The runtime's name, for messages.
    const NAME: &'static str;

    /// A Unix stream of the runtime, for `from_stream` and `serve_stream`.
    #[cfg(unix)]
    type UnixStream: Send + 'static;

    /// The client end of a TLS stream of the runtime over TCP.
    type TlsClientStream: Send + 'static;

    /// The server end of a TLS stream of the runtime over TCP.
    type TlsServerStream: Send + 'static;

    /// Runs `fut` to completion on the current thread, inside the runtime
    /// (a fresh runtime per call where the runtime has one).
    fn block_on<F: Future>(fut: F) -> F::Output;

    /// A TCP listener of the runtime bound to `127.0.0.1:0`. Called inside
    /// [`block_on`](Self::block_on).
    ///
    /// # Errors
    /// The operating system's, if binding fails.
    fn bind_loopback() -> io::Result<Self::TcpListener>;

    /// A TCP listener of the runtime bound to `addr` (with `SO_REUSEADDR`,
    /// as std binds on Unix, so that a server can be restarted on the port
    /// it had): another loopback address (`127.0.0.2`), or a given port.
    /// Called inside [`block_on`](Self::block_on).
    ///
    /// # Errors
    /// The operating system's, if binding fails.
    fn bind(addr: SocketAddr) -> io::Result<Self::TcpListener>;

    /// A connected pair of Unix streams. Called inside
    /// [`block_on`](Self::block_on).
    ///
    /// # Errors
    /// The operating system's, if the pair cannot be made.
    #[cfg(unix)]
    fn unix_pair() -> io::Result<(Self::UnixStream, Self::UnixStream)>;

    /// A TLS connection over loopback TCP, with the configs of
    /// [`tls::configs`], its handshake completed on both ends: the client
    /// end, then the server end. Called inside [`block_on`](Self::block_on).
    ///
    /// # Errors
    /// The operating system's or the TLS library's, if connecting or the
    /// handshake fails.
    fn tls_pair() -> impl Future<Output = io::Result<(Self::TlsClientStream, Self::TlsServerStream)>>;
}

/// How a test shares the process with the tests running beside it (the
/// test harness runs several at once).
///
/// smol and async-std run every spawned task, the driver's included, on
/// one global executor shared by every test of the process (smol's has a
/// single thread). A test that keeps it busy for a second delays the
/// tasks of every test beside it by up to that much: more than
/// [`TIMING_TOLERANCE`](util::TIMING_TOLERANCE), which bounds how late a
/// timer may fire. So tests that check timers never run beside tests
/// that keep the executor busy; the machine's own load (other processes)
/// is still theirs to bear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Runs beside any test.
    Light,
    /// Keeps the runtime busy (thousands of calls, megabytes each way):
    /// runs beside no other heavy test and no timed one.
    Heavy,
    /// Checks that timers on the executor (the driver's) fire on time:
    /// runs beside no heavy test.
    Timed,
}

/// Heavy tests hold it for writing, timed tests for reading.
static LOAD_GATE: RwLock<()> = RwLock::new(());

/// Runs one conformance test on runtime `R`, on a thread of its own,
/// bounded by [`TEST_TIMEOUT`], once no test runs beside it that its
/// [`Load`] excludes (waiting for that is not part of the bound).
///
/// # Panics
/// When the test panics (its panic is passed on), or does not finish in
/// time, with a message naming the test and the runtime.
pub fn run<R, F, Fut>(name: &'static str, load: Load, test: F)
where
    R: TestRuntime,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    // A test that panicked while holding the gate poisons it; the gate
    // guards no data, so the others go on.
    let _gate = match load {
        Load::Light => None,
        Load::Heavy => Some(Either::Left(
            LOAD_GATE.write().unwrap_or_else(|e| e.into_inner()),
        )),
        Load::Timed => Some(Either::Right(
            LOAD_GATE.read().unwrap_or_else(|e| e.into_inner()),
        )),
    };
    let (done_tx, done_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("{}::{name}", R::NAME))
        .spawn(move || {
            R::block_on(async move {
                let timer = R::current().timer(Instant::now() + TEST_TIMEOUT);
                let fut = test();
                futures_util::pin_mut!(fut);
                if let Either::Right(_) = select(fut, timer).await {
                    panic!(
                        "{name} on {}: did not finish within {TEST_TIMEOUT:?}",
                        R::NAME
                    );
                }
            });
            let _ = done_tx.send(());
        })
        .expect("spawning the test thread");
    match done_rx.recv_timeout(TEST_TIMEOUT + WATCHDOG_SLACK) {
        Ok(()) => {
            if let Err(panic) = thread.join() {
                resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => resume_unwind(panic),
            Ok(()) => unreachable!("the test thread ended without reporting"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "{name} on {}: the runtime's thread was still blocked {:?} after the start \
             (the test's own timer never fired: something blocks the executor)",
            R::NAME,
            TEST_TIMEOUT + WATCHDOG_SLACK
        ),
    }
}

/// Expands to one `#[test]` per function of [`suite`], run on the given
/// [`TestRuntime`].
///
/// ```
/// framing_conformance::conformance_suite!(framing_conformance::runtimes::Smol);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($rt:ty) => {
        $crate::__conformance_tests! { $rt, Light;
            a_call_round_trips_over_loopback,
            a_little_endian_codec_carries_calls_between_client_and_server,
            a_two_byte_length_codec_carries_calls_between_client_and_server,
            a_codec_without_ids_answers_calls_in_request_order,
            a_custom_header_with_an_eight_byte_id_carries_calls_between_client_and_server,
            responses_in_completion_order_are_matched_to_their_calls,
            one_server_answers_many_clients_at_once,
            a_pending_id_is_refused_with_duplicate_rpc_id,
            an_unknown_response_id_is_reported_and_the_connection_keeps_working,
            strict_mode_makes_an_unknown_response_id_a_protocol_error,
            a_late_response_to_a_cancelled_call_is_dropped_and_counted,
            close_completes_every_pending_call_without_a_disconnected_event,
            fail_pending_completes_every_pending_call_and_keeps_the_connection,
            a_peer_closing_mid_frame_disconnects_and_fails_every_pending_call,
            a_bad_length_from_the_peer_is_a_protocol_error_failing_every_pending_call,
            connecting_to_a_closed_port_is_host_unavailable,
            both_ends_have_nodelay_and_a_one_second_keepalive_by_default,
            socket_options_follow_the_config,
            dropping_every_client_handle_closes_the_connection,
            a_server_reports_a_bad_length_and_closes_only_that_connection,
            a_server_reports_a_client_closing_mid_frame,
            // Timed, but `connect`'s timer runs in the caller's task, not
            // on the executor a heavy test keeps busy.
            a_handshake_that_never_completes_is_a_connect_timeout,
            a_connect_with_the_default_config_times_out_after_five_seconds,
        }
        $crate::__conformance_tests! { $rt, Heavy;
            ten_thousand_calls_in_flight_on_one_connection_are_all_answered,
            a_peer_that_stops_reading_raises_pause_then_buffer_full_then_resume,
            a_server_pauses_for_a_client_that_stops_reading_then_resumes,
            a_stream_with_one_waker_for_both_sides_carries_every_call,
            a_client_and_server_work_over_tls,
        }
        $crate::__conformance_tests! { $rt, Timed;
            a_stalled_server_fails_calls_at_their_deadlines,
            a_response_after_the_deadline_is_dropped_and_counted,
            an_idle_connection_raises_idle_timeout_once_and_stays_open,
            client_shutdown_finishes_in_flight_calls_and_refuses_new_ones,
            client_shutdown_closes_calls_still_pending_at_the_deadline,
            deadlines_pending_at_once_each_fire_on_time_whatever_their_order,
            the_idle_timer_counts_from_the_last_traffic,
            server_shutdown_answers_requests_in_flight_then_closes,
            server_shutdown_closes_connections_at_the_grace_deadline,
        }
        #[cfg(unix)]
        $crate::__conformance_tests! { $rt, Light;
            a_client_and_server_work_over_a_unix_socket_pair,
        }
        // Reconnecting clients and pools (SPEC §9).
        $crate::__conformance_tests! { $rt, Light;
            a_server_frees_its_port_once_its_shutdown_resolves,
            a_server_restarted_on_the_same_port_mid_load_answers_every_later_call,
            unwritten_calls_move_to_the_next_connection_and_written_ones_fail_with_disconnected,
            a_client_connects_to_localhost_by_name,
            a_lazy_client_holds_its_first_calls_until_the_server_starts,
            // Mostly waiting for a stalled host's deadlines.
            a_pool_sends_a_host_that_stalls_at_most_a_tenth_of_later_calls,
        }
        // Thousands of calls over three hosts.
        $crate::__conformance_tests! { $rt, Heavy;
            a_pool_spreads_calls_over_three_loopback_hosts,
            a_pool_loses_no_call_when_a_host_dies_mid_load_and_takes_it_back_when_it_returns,
        }
        // Bounded in time: a deadline, or "at once" (under 1 s).
        $crate::__conformance_tests! { $rt, Timed;
            a_call_waiting_for_a_server_that_stays_down_fails_at_its_deadline,
            with_fail_fast_calls_fail_at_once_while_the_server_is_down,
            closing_a_reconnecting_client_while_the_server_is_down_ends_every_call_at_once,
        }
        // The server's programming model and limits (SPEC §10).
        $crate::__conformance_tests! { $rt, Timed;
            a_concurrency_limit_layer_keeps_two_handler_calls_running_at_most_and_answers_all,
            a_timeout_layer_fails_a_slow_request_alone_and_the_connection_goes_on,
            each_connection_sees_only_its_own_service_state,
            a_handler_panicking_on_every_tenth_request_leaves_only_those_unanswered,
            a_handler_panicking_on_every_tenth_request_answers_those_with_the_failure_response,
            a_handler_that_never_finishes_is_ended_by_the_request_timeout,
            a_fourth_connection_waits_until_one_of_three_allowed_closes,
            a_silent_connection_is_closed_by_the_idle_timeout,
            a_connection_calling_every_100ms_is_not_closed_by_the_idle_timeout,
            graceful_shutdown_answers_in_flight_requests_refuses_new_connections_then_resolves,
            accept_errors_are_counted_and_the_server_goes_on_serving,
            a_connection_awaiting_a_slow_answer_is_not_closed_by_the_idle_timeout,
        }
    };
}

/// One `#[test]` per name; the implementation of [`conformance_suite!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($rt:ty, $load:ident; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::run::<$rt, _, _>(
                    stringify!($name),
                    $crate::Load::$load,
                    $crate::suite::$name::<$rt>,
                );
            }
        )*
    };
}
