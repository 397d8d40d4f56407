//! `framing-core`: length-prefixed framing, RPC id matching, write
//! watermarks and deadlines as a deterministic state machine, without I/O.
//!
//! The core never touches a socket, reads a clock, sleeps, spawns, or
//! locks. Bytes and the current time go in; frames, call completions,
//! watermark transitions, timeouts and bytes to write come out. The same
//! input always gives the same output, so it can be driven by hand, by a
//! custom `epoll`/`mio` loop, by the `framing-tokio`, `framing-async-std`
//! and `framing-smol` adapters, or by a simulation in a test. It is
//! `no_std` (with `alloc`) when the default `std` feature is off.
//!
//! # Wire format
//!
//! The default is the Node.js `framing-socket` format, all integers
//! big-endian:
//!
//! ```text
//! +-----------------+----------------+------------------+
//! | length (4 B)    | rpc id (4 B)   | payload (n B)    |
//! +-----------------+----------------+------------------+
//!   length = 4 + n: it counts the rpc id and the payload, not itself
//! ```
//!
//! A response carries the id of its request. [`Codec::builder`] sets the
//! field sizes (length 1–8 bytes, id 0–8 bytes), byte orders, what the
//! length counts and the maximum frame length (8 MiB by default); with a
//! 0-byte id field responses complete calls in order (pipelining).
//! [`Codec::custom`] takes any [`HeaderFormat`].
//!
//! # The run loop
//!
//! 1. Feed inputs: bytes read ([`Connection::handle_read`]), end of stream
//!    ([`Connection::handle_eof`]), the time ([`Connection::handle_timeout`]),
//!    and commands ([`Connection::call`], [`Connection::respond`], ...).
//! 2. Drain [`Connection::poll_event`] until `None`: completions,
//!    requests, `Pause`/`Resume`, `IdleTimeout`, errors.
//! 3. Write what [`Connection::poll_transmit`] hands out, a [`bytes::Buf`]
//!    (vectored: many frames in one write), and `advance` it by the count
//!    written.
//! 4. Wait for the socket or until [`Connection::poll_timeout`].
//!
//! # Example: a client and a server without any socket
//!
//! ```
//! use bytes::{Buf, Bytes};
//! use core::time::Duration;
//! use framing_core::{Config, Connection, Event};
//!
//! let t0 = Duration::ZERO; // any Timestamp: here, time since the start
//! let mut client: Connection<Duration, &str> = Connection::client(Config::default(), t0);
//! let mut server: Connection<Duration> = Connection::server(Config::default(), t0);
//!
//! let id = client.call(t0, "ping", "my call").unwrap();
//!
//! // Move the client's bytes to the server (as if a socket took them all).
//! let mut out = client.poll_transmit(t0).unwrap();
//! let wire = out.copy_to_bytes(out.remaining());
//! assert_eq!(&wire[..8], &[0, 0, 0, 8, 0, 0, 0, id.0 as u8]);
//! server.handle_read(t0, &wire);
//!
//! // The server answers.
//! let Some(Event::Request { id: req, payload }) = server.poll_event() else { panic!() };
//! assert_eq!(&payload[..], b"ping");
//! server.respond(req, "pong").unwrap();
//! let mut out = server.poll_transmit(t0).unwrap();
//! let wire = out.copy_to_bytes(out.remaining());
//! client.handle_read(t0, &wire);
//!
//! match client.poll_event() {
//!     Some(Event::Completed { ctx, result, .. }) => {
//!         assert_eq!(ctx, "my call");
//!         assert_eq!(&result.unwrap()[..], b"pong");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```
//!
//! # Example: a hand-written event loop over a blocking `TcpStream`
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::time::{Duration, Instant};
//! use bytes::{Buf, Bytes};
//! use framing_core::{Config, Connection, Event};
//!
//! // A one-connection echo server on its own thread, driven the same way.
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = std::thread::spawn(move || {
//!     let (mut sock, _) = listener.accept().unwrap();
//!     let mut conn: Connection<Instant> = Connection::server(Config::default(), Instant::now());
//!     let mut buf = [0u8; 4096];
//!     loop {
//!         let n = sock.read(&mut buf).unwrap();
//!         if n == 0 { break; }
//!         conn.handle_read(Instant::now(), &buf[..n]);
//!         while let Some(ev) = conn.poll_event() {
//!             if let Event::Request { id, payload } = ev {
//!                 conn.respond(id, payload).unwrap();
//!             }
//!         }
//!         if let Some(mut out) = conn.poll_transmit(Instant::now()) {
//!             while out.has_remaining() {
//!                 let n = sock.write(out.chunk()).unwrap();
//!                 out.advance(n);
//!             }
//!         }
//!     }
//! });
//!
//! let mut sock = TcpStream::connect(addr).unwrap();
//! sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
//! let mut conn: Connection<Instant, usize> = Connection::client(Config::default(), Instant::now());
//! for i in 0..3 {
//!     conn.call(Instant::now(), Bytes::from(format!("hello {i}")), i).unwrap();
//! }
//! // One vectored write carries all three frames.
//! let mut out = conn.poll_transmit(Instant::now()).unwrap();
//! let mut slices = [std::io::IoSlice::new(&[]); 16];
//! let n = out.chunks_vectored(&mut slices);
//! let written = sock.write_vectored(&slices[..n]).unwrap();
//! out.advance(written);
//! assert!(conn.poll_transmit(Instant::now()).is_none(), "loopback takes 51 bytes at once");
//!
//! let mut answers = Vec::new();
//! while answers.len() < 3 {
//!     let room = conn.recv_buffer(); // read straight into the core's buffer
//!     let n = sock.read(room).unwrap();
//!     conn.handle_received(Instant::now(), n);
//!     while let Some(ev) = conn.poll_event() {
//!         if let Event::Completed { ctx, result, .. } = ev {
//!             answers.push((ctx, result.unwrap()));
//!         }
//!     }
//! }
//! answers.sort();
//! assert_eq!(&answers[2].1[..], b"hello 2");
//! conn.close();
//! drop(sock);
//! server.join().unwrap();
//! ```

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

mod call;
mod codec;
mod config;
mod connection;
mod error;
mod event;
mod id;
mod pending;
mod stats;
mod time;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use call::CallOptions;
pub use codec::{
    Codec, CodecBuilder, EncodeError, Endian, FrameHeader, HeaderFormat, LengthCounts,
    StandardHeader, DEFAULT_MAX_FRAME_LENGTH, MAX_HEADER_LEN,
};
pub use config::{
    Config, ConfigBuilder, DEFAULT_IDLE_TIMEOUT, DEFAULT_LATE_MEMORY, DEFAULT_LOW_BUFFER_BYTES,
    DEFAULT_MAX_BUFFER_BYTES, DEFAULT_WARN_BUFFER_BYTES,
};
pub use connection::{Connection, State, Transmit, WhileDisconnected};
pub use error::{
    CallError, ConfigError, DisconnectReason, IoError, IoFailure, ProtocolError, Rejected,
    RespondError,
};
pub use event::Event;
pub use id::RpcId;
pub use stats::Stats;
pub use time::Timestamp;
