//! The conformance suite on tokio.
framing_conformance::conformance_suite!(framing_conformance::runtimes::Tokio);
