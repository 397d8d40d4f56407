//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through the
//! same harness functions the `cargo fuzz` targets call, so that every seed
//! and every crash ever found and checked in stays fixed under plain
//! `cargo test`, on stable, without cargo-fuzz.
//!
//! Each seed (every file not named `found-*`) must also do what its name
//! says: the harness reports what happened, and the name's suffix says
//! what that must include (table `PROMISES`). A seed whose name matches no
//! promise fails: name new seeds after what they do
//! (`fuzz/gen_corpus.py`).

#![cfg(feature = "testkit")]

use std::fs;
use std::path::{Path, PathBuf};

use framing_core::testkit::fuzz::{self, Report, Seen};

/// A harness: panics when an invariant breaks on this input, and otherwise
/// reports what happened.
type Harness = fn(&[u8]) -> Report;

/// The corpus folder of each fuzz target, and the harness it runs.
const TARGETS: [(&str, Harness); 3] = [
    ("decode", fuzz::decode_report),
    ("state_machine", fuzz::run_ops_report),
    ("custom_header", fuzz::custom_header_report),
];

/// What a seed whose name ends with `suffix` must have seen. The first
/// matching suffix applies, so longer ones come first.
struct Promise {
    suffix: &'static str,
    says: &'static str,
    holds: fn(&Report) -> bool,
}

fn protocol(r: &Report, server: bool, kind: &'static str) -> bool {
    r.saw(Seen::ProtocolError { server, kind })
}

fn any_protocol(r: &Report, on_server: bool) -> bool {
    r.iter()
        .any(|(s, _)| matches!(s, Seen::ProtocolError { server, .. } if server == on_server))
}

fn failed(r: &Report, error: &'static str) -> bool {
    r.saw(Seen::Failed(error))
}

fn refused(r: &Report, error: &'static str) -> bool {
    r.saw(Seen::Refused(error))
}

fn clean_frames(r: &Report) -> bool {
    r.count(Seen::Request) >= 5 && !any_protocol(r, true) && !r.saw(Seen::Unfinished)
}

fn built_then(r: &Report, kind: &'static str) -> bool {
    r.count(Seen::Request) == 5 && protocol(r, true, kind)
}

const PROMISES: &[Promise] = &[
    // Byte streams (decode, custom_header with harness byte 0).
    Promise {
        suffix: "_frames_one_read",
        says: "five frames in one read, no error, nothing left over",
        holds: clean_frames,
    },
    Promise {
        suffix: "_frames_byte_by_byte",
        says: "five frames a byte at a time, no error, nothing left over",
        holds: clean_frames,
    },
    Promise {
        suffix: "_frames_lent_7",
        says: "five frames through the lent buffer, no error, nothing left over",
        holds: clean_frames,
    },
    Promise {
        suffix: "_frames_chunks_64",
        says: "five frames in chunks of up to 64 bytes, no error, nothing left over",
        holds: clean_frames,
    },
    Promise {
        suffix: "_frame_at_max",
        says: "a frame exactly as large as the codec allows decodes",
        holds: |r| r.saw(Seen::FrameAtMax) && !any_protocol(r, true),
    },
    Promise {
        suffix: "_built_then_too_short",
        says: "five built frames, then LengthTooShort",
        holds: |r| built_then(r, "LengthTooShort"),
    },
    Promise {
        suffix: "_built_then_too_large",
        says: "five built frames, then LengthTooLarge",
        holds: |r| built_then(r, "LengthTooLarge"),
    },
    Promise {
        suffix: "_built_then_negative",
        says: "five built frames, then NegativeLength",
        holds: |r| built_then(r, "NegativeLength"),
    },
    Promise {
        suffix: "_built_then_bad_magic",
        says: "five built frames, then InvalidHeader",
        holds: |r| built_then(r, "InvalidHeader"),
    },
    Promise {
        suffix: "_built_then_truncated",
        says: "five built frames, then an unfinished one kept",
        holds: |r| r.count(Seen::Request) == 5 && r.saw(Seen::Unfinished) && !any_protocol(r, true),
    },
    Promise {
        suffix: "_too_short",
        says: "the server fails with LengthTooShort",
        holds: |r| protocol(r, true, "LengthTooShort"),
    },
    Promise {
        suffix: "_too_large",
        says: "the server fails with LengthTooLarge",
        holds: |r| protocol(r, true, "LengthTooLarge"),
    },
    Promise {
        suffix: "_negative",
        says: "the server fails with NegativeLength",
        holds: |r| protocol(r, true, "NegativeLength"),
    },
    Promise {
        suffix: "_truncated",
        says: "an unfinished frame is kept, no error",
        holds: |r| r.saw(Seen::Unfinished) && !any_protocol(r, true),
    },
    // Operations (state_machine, custom_header with harness byte 1).
    Promise {
        suffix: "_round_trip",
        says: "three calls answered",
        holds: |r| r.count(Seen::Answered) >= 3,
    },
    Promise {
        suffix: "_partial_deliveries",
        says: "two calls answered through partial deliveries",
        holds: |r| r.count(Seen::Answered) >= 2,
    },
    Promise {
        suffix: "_deadline_then_late_response",
        says: "DeadlineExceeded, then the answer is reported late",
        holds: |r| failed(r, "DeadlineExceeded") && r.saw(Seen::UnknownResponse { late: true }),
    },
    Promise {
        suffix: "_jump_to_next_timeout",
        says: "jumping to poll_timeout fires DeadlineExceeded",
        holds: |r| failed(r, "DeadlineExceeded"),
    },
    Promise {
        suffix: "_cancel_then_response",
        says: "a cancelled call's answer is late, the other call is answered",
        holds: |r| {
            r.saw(Seen::Cancelled)
                && r.saw(Seen::UnknownResponse { late: true })
                && r.saw(Seen::Answered)
        },
    },
    Promise {
        suffix: "_fail_pending_then_response",
        says: "FailedByUser, late answers, then the connection still answers",
        holds: |r| {
            failed(r, "FailedByUser")
                && r.saw(Seen::UnknownResponse { late: true })
                && r.count(Seen::Answered) >= 3
        },
    },
    Promise {
        suffix: "_graceful_shutdown",
        says: "a call refused with ShuttingDown, the others answered, the shutdown finishes",
        holds: |r| {
            refused(r, "ShuttingDown")
                && r.count(Seen::Answered) >= 2
                && r.saw(Seen::ShutdownFinished { server: false })
        },
    },
    Promise {
        suffix: "_shutdown_deadline",
        says: "the client's shutdown deadline closes the pending call",
        holds: |r| r.saw(Seen::ShutdownDeadline { server: false }) && failed(r, "Closed"),
    },
    Promise {
        suffix: "_server_shutdown",
        says: "the server's shutdown deadline closes it with a request unanswered",
        holds: |r| r.saw(Seen::ShutdownDeadline { server: true }) && r.saw(Seen::Answered),
    },
    Promise {
        suffix: "_shutdown_finishes_with_a_partial_request",
        says: "the server's shutdown finishes with a partial request unread",
        holds: |r| r.saw(Seen::ShutdownFinished { server: true }),
    },
    Promise {
        suffix: "_duplicate_caller_id",
        says: "a caller's id already pending is refused with DuplicateRpcId",
        holds: |r| refused(r, "DuplicateRpcId"),
    },
    Promise {
        suffix: "_caller_id_not_supported",
        says: "a caller's id without an id field is refused with IdsNotSupported",
        holds: |r| refused(r, "IdsNotSupported"),
    },
    Promise {
        suffix: "_wrong_and_duplicate_responses",
        says: "a duplicate and a wrong-id answer are reported unknown",
        holds: |r| r.count(Seen::UnknownResponse { late: false }) >= 2,
    },
    Promise {
        suffix: "_answers_to_no_request",
        says: "without ids, answering twice or a request never received is refused",
        holds: |r| r.count(Seen::RespondRefused("UnknownRequest")) >= 2,
    },
    Promise {
        suffix: "_strict_unknown_id",
        says: "in strict mode an unknown id fails the client with UnknownResponseId",
        holds: |r| protocol(r, false, "UnknownResponseId"),
    },
    Promise {
        suffix: "_close_then_call",
        says: "close completes the call with Closed and refuses the next",
        holds: |r| failed(r, "Closed") && refused(r, "Closed"),
    },
    Promise {
        suffix: "_eof_mid_frame",
        says: "the server's peer closes mid-frame; the client's call is Disconnected",
        holds: |r| {
            let mid = Seen::Disconnected {
                server: true,
                kind: "PeerClosedMidFrame",
            };
            r.saw(mid) && failed(r, "Disconnected")
        },
    },
    Promise {
        suffix: "_io_error_and_misuse",
        says: "an i/o error disconnects the client; wrong-role commands are refused",
        holds: |r| {
            let io = Seen::Disconnected {
                server: false,
                kind: "Io",
            };
            r.saw(io) && refused(r, "WrongRole") && refused(r, "Disconnected")
        },
    },
    Promise {
        suffix: "_garbage_from_peer",
        says: "garbage fails the client with a protocol error, and its call",
        holds: |r| any_protocol(r, false) && failed(r, "Protocol"),
    },
    Promise {
        suffix: "_garbage_to_server",
        says: "garbage fails the server with a protocol error",
        holds: |r| any_protocol(r, true),
    },
    Promise {
        suffix: "_idle_timeout",
        says: "both sides raise IdleTimeout",
        holds: |r| {
            r.saw(Seen::IdleTimeout { server: false }) && r.saw(Seen::IdleTimeout { server: true })
        },
    },
    Promise {
        suffix: "_many_calls_no_free_id",
        says: "with every id pending, a call is refused with NoFreeId",
        holds: |r| refused(r, "NoFreeId"),
    },
    Promise {
        suffix: "_pause_resume_buffer_full",
        says: "Pause above warn, BufferFull above max, Resume at low",
        holds: |r| {
            r.saw(Seen::Pause { server: false })
                && r.saw(Seen::Resume { server: false })
                && refused(r, "BufferFull")
        },
    },
];

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

/// The files of one target's corpus, sorted so that failures reproduce in
/// the same order.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = corpus_root().join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Replays one target's corpus; returns how many seeds kept their promise.
fn replay(target: &str, harness: Harness) -> usize {
    let files = corpus(target);
    assert!(
        !files.is_empty(),
        "the {target} corpus is empty: regenerate it with `python3 fuzz/gen_corpus.py`"
    );
    let mut seeds = 0;
    for path in &files {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Name the input in the panic message of a failing replay.
        let report = match std::panic::catch_unwind(|| harness(&data)) {
            Ok(report) => report,
            Err(panic) => {
                eprintln!("fuzz input {} failed", path.display());
                std::panic::resume_unwind(panic);
            }
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("found-") {
            continue;
        }
        let promise = PROMISES
            .iter()
            .find(|p| name.ends_with(p.suffix))
            .unwrap_or_else(|| panic!("seed {target}/{name}: its name promises nothing known"));
        assert!(
            (promise.holds)(&report),
            "seed {target}/{name} should show that {}, but saw: {report}",
            promise.says
        );
        seeds += 1;
    }
    seeds
}

#[test]
fn decode_corpus_replays_and_every_seed_does_what_its_name_says() {
    let n = replay(TARGETS[0].0, TARGETS[0].1);
    assert!(n >= 30, "only {n} decode seeds");
}

#[test]
fn state_machine_corpus_replays_and_every_seed_does_what_its_name_says() {
    let n = replay(TARGETS[1].0, TARGETS[1].1);
    assert!(n >= 30, "only {n} state machine seeds");
}

#[test]
fn custom_header_corpus_replays_and_every_seed_does_what_its_name_says() {
    let n = replay(TARGETS[2].0, TARGETS[2].1);
    assert!(n >= 30, "only {n} custom header seeds");
}

#[test]
fn every_corpus_folder_belongs_to_a_replayed_target() {
    for entry in fs::read_dir(corpus_root()).expect("fuzz/corpus exists") {
        let path = entry.expect("a readable directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/corpus/{name} is not replayed by this test"
        );
    }
}

#[test]
fn a_seed_whose_name_promises_an_error_it_does_not_show_is_caught() {
    // A clean stream named as if it ended in LengthTooLarge: the promise
    // table must reject it (the replay is not a test that asserts nothing).
    let clean = fuzz::decode_report(&[0x23, 0x04, 0x03, 0, 0, 0, 0, 0, 6, 0, 0, 0, 1, b'h', b'i']);
    let promise = PROMISES
        .iter()
        .find(|p| "node_too_large".ends_with(p.suffix))
        .expect("a promise for _too_large");
    assert!(clean.count(Seen::Request) == 1);
    assert!(!(promise.holds)(&clean));
}
