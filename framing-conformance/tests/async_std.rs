//! The conformance suite on async-std.
framing_conformance::conformance_suite!(framing_conformance::runtimes::AsyncStd);
