//! A byte stream (raw, or built from valid frames and a bad header) under
//! an arbitrary codec, split into arbitrary reads, into a client and a
//! server core, each checked against exactly what the stream must give.
//! See `framing_core::testkit::fuzz::decode_any`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    framing_core::testkit::fuzz::decode_any(data);
});
