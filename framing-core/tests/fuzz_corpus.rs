//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through the
//! same harness functions the `cargo fuzz` targets call, so that every seed
//! and every crash ever found and checked in stays fixed under plain
//! `cargo test`, on stable, without cargo-fuzz.

#![cfg(feature = "testkit")]

use std::fs;
use std::path::{Path, PathBuf};

use framing_core::testkit::fuzz;

/// A harness: panics when an invariant breaks on this input.
type Harness = fn(&[u8]);

/// The corpus folder of each fuzz target, and the harness it runs.
const TARGETS: [(&str, Harness); 2] = [
    ("decode", fuzz::decode_any),
    ("state_machine", fuzz::run_ops),
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

fn replay(target: &str, harness: Harness) -> usize {
    let files = corpus(target);
    assert!(
        !files.is_empty(),
        "the {target} corpus is empty: regenerate it with `python3 fuzz/gen_corpus.py`"
    );
    for path in &files {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Name the input in the panic message of a failing replay.
        let run = std::panic::catch_unwind(|| harness(&data));
        if let Err(panic) = run {
            eprintln!("fuzz input {} failed", path.display());
            std::panic::resume_unwind(panic);
        }
    }
    files.len()
}

#[test]
fn decode_corpus_replays_without_a_broken_invariant() {
    let n = replay(TARGETS[0].0, TARGETS[0].1);
    assert!(n >= 10, "only {n} decode inputs");
}

#[test]
fn state_machine_corpus_replays_without_a_broken_invariant() {
    let n = replay(TARGETS[1].0, TARGETS[1].1);
    assert!(n >= 10, "only {n} state machine inputs");
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
