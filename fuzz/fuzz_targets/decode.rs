//! Raw peer bytes into the decoder under an arbitrary codec, split into
//! arbitrary reads, into a client and a server core.
//! See `framing_core::testkit::fuzz::decode_any`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    framing_core::testkit::fuzz::decode_any(data);
});
