//! The conformance suite on smol.
framing_conformance::conformance_suite!(framing_conformance::runtimes::Smol);
