//! The suite: one async function per behaviour, generic over the runtime.
//! [`conformance_suite!`](crate::conformance_suite) turns each into a
//! `#[test]` of the same name.

mod calls;
mod codecs;
mod failures;
mod flow;
mod lifecycle;
mod pool;
mod reconnect;
mod server;
mod server_limits;
mod server_model;
mod sockets;
mod streams;
mod timing;

pub use calls::*;
pub use codecs::*;
pub use failures::*;
pub use flow::*;
pub use lifecycle::*;
pub use pool::*;
pub use reconnect::*;
pub use server::*;
pub use server_limits::*;
pub use server_model::*;
pub use sockets::*;
pub use streams::*;
pub use timing::*;
