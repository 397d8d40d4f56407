//! `framing-smol`: length-prefixed RPC over smol — a client that matches
//! responses to requests by id, pushes back before memory runs away and
//! times out what never answers, and a server that answers many requests
//! per connection in any order. Wire-compatible with the Node.js
//! `framing-socket` library. The recommended successor of
//! `framing-async-std`.
//!
//! ```text
//! +-----------------+----------------+------------------+
//! | length (4 B)    | rpc id (4 B)   | payload (n B)    |
//! +-----------------+----------------+------------------+
//!   length = 4 + n, big-endian (configurable: see framing_core::Codec)
//! ```
//!
//! All framing, matching, deadlines and watermarks live in `framing-core`;
//! the one async driver in [`framing_driver`] runs it. This crate only
//! plugs smol in: its names and types are the same as `framing-tokio`'s
//! and `framing-async-std`'s. Tasks run on smol's global executor.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use framing_smol::{Bytes, CallError, CallOptions, Client, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! smol::block_on(async {
//!     // A server answering each request with its payload reversed.
//!     let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let server = Server::serve(listener, |req: Bytes| async move {
//!         Bytes::from(req.iter().rev().copied().collect::<Vec<u8>>())
//!     });
//!     let addr = server.local_addr().unwrap();
//!
//!     // A client: cheap to clone, usable from many tasks.
//!     let client = Client::connect(addr).await?;
//!     assert_eq!(&client.call("hello").await?[..], b"olleh");
//!
//!     // Per-call deadline.
//!     let opts = CallOptions::new().timeout(Duration::from_secs(1));
//!     assert_eq!(&client.call_with("abc", opts).await?[..], b"cba");
//!
//!     client.close();
//!     assert_eq!(client.call("late").await, Err(CallError::Closed));
//!     server.shutdown(Duration::from_secs(1)).await;
//!     Ok(())
//! })
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod runtime;

pub use runtime::Smol;

pub use framing_driver::api::*;

/// A framed RPC client on smol. See [`framing_driver::Client`].
pub type Client = framing_driver::Client<Smol>;

/// A framed RPC server on smol. See [`framing_driver::Server`].
pub type Server = framing_driver::Server<Smol>;

/// Clients of several hosts balanced by pending calls, on smol (feature
/// `tower`). See [`framing_driver::Pool`].
#[cfg(feature = "tower")]
pub type Pool<K = usize> = framing_driver::Pool<Smol, K>;
