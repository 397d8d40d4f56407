//! `framing-async-std`: length-prefixed RPC over async-std, with the same
//! names, types and behaviour as `framing-tokio` and `framing-smol`.
//!
//! **async-std is discontinued upstream** (its crate says so, and advisory
//! RUSTSEC-2025-0052 marks it unmaintained). This crate is kept for
//! programs that still run on it; new code should use **`framing-smol`**,
//! its successor, which has the identical API. Both sit on the same
//! futures-io traits and async-io reactor, so this crate is only the
//! ~60-line [`Runtime`](framing_driver::Runtime) implementation in
//! `runtime.rs`; all framing, matching, deadlines and watermarks live in
//! `framing-core`, run by [`framing_driver`].
//!
//! ```text
//! +-----------------+----------------+------------------+
//! | length (4 B)    | rpc id (4 B)   | payload (n B)    |
//! +-----------------+----------------+------------------+
//!   length = 4 + n, big-endian (configurable: see framing_core::Codec)
//! ```
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use framing_async_std::{Bytes, CallError, CallOptions, Client, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! async_std::task::block_on(async {
//!     // A server answering each request with its payload reversed.
//!     let listener = async_std::net::TcpListener::bind("127.0.0.1:0").await?;
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

pub use runtime::AsyncStd;

pub use framing_driver::api::*;

/// A framed RPC client on async-std. See [`framing_driver::Client`].
pub type Client = framing_driver::Client<AsyncStd>;

/// A framed RPC server on async-std. See [`framing_driver::Server`].
pub type Server = framing_driver::Server<AsyncStd>;

/// Clients of several hosts balanced by pending calls, on async-std (feature
/// `tower`). See [`framing_driver::Pool`].
#[cfg(feature = "tower")]
pub type Pool<K = usize> = framing_driver::Pool<AsyncStd, K>;
