//! The events the model expects from a core after a step, and their
//! comparison with the events the core gave.
//!
//! Completions are compared as a set keyed by id (a connection failing
//! drains its calls in an order nobody promised); every other event in
//! order.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use bytes::Bytes;

use crate::{CallError, DisconnectReason, Event, ProtocolError};

use super::report::{call_error_name, disconnect_name, protocol_name, Report, Seen};

/// An event the model expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Exp {
    /// A call completes with exactly this result.
    Done {
        id: u64,
        ctx: u64,
        result: Result<Bytes, CallError>,
    },
    Request {
        id: u64,
        payload: Bytes,
    },
    Pause(usize),
    Resume(usize),
    IdleTimeout,
    Unknown {
        id: u64,
        late: bool,
    },
    Protocol(ProtocolError),
    Disconnected(DisconnectReason),
}

/// Checks a core's events against the model's, and records them.
///
/// # Panics
/// On any difference: a completion the model does not expect now (not
/// pending, twice, or before it is due), one it expects but is missing
/// (a lost completion or timer), another result or context, or other
/// events (`Pause`, `Resume`, `IdleTimeout`, requests, unknown responses,
/// errors) that differ in kind, value or order.
pub(super) fn compare(server: bool, got: Vec<Event<u64>>, want: Vec<Exp>, report: &mut Report) {
    let who = if server { "server" } else { "client" };
    let mut want_done = BTreeMap::new();
    let mut want_other = Vec::new();
    for e in want {
        match e {
            Exp::Done { id, ctx, result } => {
                let again = want_done.insert(id, (ctx, result));
                assert!(again.is_none(), "model: {id} expected to complete twice");
            }
            other => want_other.push(other),
        }
    }
    let mut got_other = Vec::new();
    for ev in got {
        record(server, &ev, report);
        match ev {
            Event::Completed { id, ctx, result } => {
                let Some((want_ctx, want_result)) = want_done.remove(&id.0) else {
                    panic!(
                        "{who}: call {} completed with {result:?}, but no completion of it \
                         is possible now (not pending, already completed, or not due)",
                        id.0
                    );
                };
                assert_eq!(
                    ctx, want_ctx,
                    "{who}: call {} completed with another context",
                    id.0
                );
                assert_eq!(
                    result, want_result,
                    "{who}: call {} completed wrongly",
                    id.0
                );
            }
            other => got_other.push(observed(other)),
        }
    }
    assert!(
        want_done.is_empty(),
        "{who}: calls that must complete now did not: {want_done:?}"
    );
    assert_eq!(
        got_other, want_other,
        "{who}: events differ from the model's"
    );
}

fn observed(ev: Event<u64>) -> Exp {
    match ev {
        Event::Request { id, payload } => Exp::Request { id: id.0, payload },
        Event::Pause { queued } => Exp::Pause(queued),
        Event::Resume { queued } => Exp::Resume(queued),
        Event::IdleTimeout => Exp::IdleTimeout,
        Event::UnknownResponse { id, late } => Exp::Unknown { id: id.0, late },
        Event::ProtocolError(p) => Exp::Protocol(p),
        Event::Disconnected(r) => Exp::Disconnected(r),
        Event::Completed { .. } => unreachable!("completions are compared apart"),
    }
}

fn record(server: bool, ev: &Event<u64>, report: &mut Report) {
    report.add(match ev {
        Event::Completed { result: Ok(_), .. } => Seen::Answered,
        Event::Completed { result: Err(e), .. } => Seen::Failed(call_error_name(e)),
        Event::Request { .. } => Seen::Request,
        Event::Pause { .. } => Seen::Pause { server },
        Event::Resume { .. } => Seen::Resume { server },
        Event::IdleTimeout => Seen::IdleTimeout { server },
        Event::UnknownResponse { late, .. } => Seen::UnknownResponse { late: *late },
        Event::ProtocolError(p) => Seen::ProtocolError {
            server,
            kind: protocol_name(p),
        },
        Event::Disconnected(r) => Seen::Disconnected {
            server,
            kind: disconnect_name(r),
        },
    });
}
