//! Arbitrary sequences of commands, peer bytes and time jumps against a
//! client and a server core, checked against a model after every step.
//! See `framing_core::testkit::fuzz::run_ops`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    framing_core::testkit::fuzz::run_ops(data);
});
