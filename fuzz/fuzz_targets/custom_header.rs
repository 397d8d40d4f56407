//! A frame format chosen by the input, written on `HeaderFormat`, through
//! the decode and state machine oracles.
//! See `framing_core::testkit::fuzz::custom_header`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    framing_core::testkit::fuzz::custom_header(data);
});
