//! `framing-tokio`: length-prefixed RPC over tokio — a client that matches
//! responses to requests by id, pushes back before memory runs away and
//! times out what never answers, and a server that answers many requests
//! per connection in any order. Wire-compatible with the Node.js
//! `framing-socket` library.
//!
//! ```text
//! +-----------------+----------------+------------------+
//! | length (4 B)    | rpc id (4 B)   | payload (n B)    |
//! +-----------------+----------------+------------------+
//!   length = 4 + n, big-endian (configurable: see framing_core::Codec)
//! ```
//!
//! All framing, matching, deadlines and watermarks live in
//! [`framing_core`]; the one async driver in [`framing_driver`] runs it.
//! This crate only plugs tokio in: its names and types are the same as
//! `framing-async-std`'s and `framing-smol`'s.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use framing_tokio::{Bytes, CallError, CallOptions, Client, Server};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A server answering each request with its payload reversed.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = Server::serve(listener, |req: Bytes| async move {
//!     Bytes::from(req.iter().rev().copied().collect::<Vec<u8>>())
//! });
//! let addr = server.local_addr().unwrap();
//!
//! // A client: cheap to clone, usable from many tasks.
//! let client = Client::connect(addr).await?;
//! let answer = client.call("hello").await?;
//! assert_eq!(&answer[..], b"olleh");
//!
//! // Per-call deadline.
//! let opts = CallOptions::new().timeout(Duration::from_secs(1));
//! assert_eq!(&client.call_with("abc", opts).await?[..], b"cba");
//!
//! client.close();
//! assert_eq!(client.call("late").await, Err(CallError::Closed));
//! server.shutdown(Duration::from_secs(1)).await;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod runtime;

pub use runtime::{Tokio, TokioIo, TokioTimer};

pub use framing_driver::api::*;

/// A framed RPC client on tokio. See [`framing_driver::Client`].
pub type Client = framing_driver::Client<Tokio>;

/// A framed RPC server on tokio. See [`framing_driver::Server`].
pub type Server = framing_driver::Server<Tokio>;

/// Clients of several hosts balanced by pending calls, on tokio (feature
/// `tower`). See [`framing_driver::Pool`].
#[cfg(feature = "tower")]
pub type Pool<K = usize> = framing_driver::Pool<Tokio, K>;
