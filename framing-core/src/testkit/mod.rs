//! Test kit (feature `testkit`): drive client and server cores against each
//! other in memory, with a virtual clock and control over how bytes are
//! chunked and delayed, plus proptest strategies for configs and frames,
//! so that protocols built on the core can be property-tested without
//! sockets.

pub mod fuzz;
pub mod pair;
pub mod strategies;
