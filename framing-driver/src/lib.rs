//! `framing-driver`: the one async driver behind `framing-tokio`,
//! `framing-async-std` and `framing-smol`.
//!
//! It moves bytes and time between a stream and a [`framing_core`]
//! connection and routes what comes out: completions to the waiting
//! callers, requests to the server's handler, events to subscribers. The
//! runtime sits behind the small [`Runtime`] trait (spawn, timer, TCP
//! connect and accept), as quinn does; each adapter crate implements it
//! and re-exports [`Client`] and [`Server`] for its runtime. No framing,
//! matching, timer or watermark logic lives here: that is the core's.
//!
//! Users normally depend on an adapter crate, not on this one.
//!
//! # How a call flows
//!
//! [`Client::call`] queues a command on a channel and returns a future
//! holding the receiving end of a one-shot reply. The connection's driver
//! task takes every queued command at once, hands each to the core (which
//! picks the id and frames the request), writes all the new frames with one
//! vectored write, reads whole batches of responses straight into the
//! core's buffer, and sends each completion down its one-shot channel.
//! Dropping the future cancels the call.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod clock;
mod config;
mod error;
mod event;
#[cfg(feature = "tower")]
mod pool;
mod pump;
pub mod runtime;
mod server;
mod socket;
mod stream_waker;
mod target;
mod timer;
#[cfg(feature = "tower")]
mod tower;

/// Membership changes of a [`Pool`]: tower's `Change`.
#[cfg(feature = "tower")]
pub use ::tower::discover::Change;
pub use client::{CallFuture, Client};
pub use config::{
    Config, ConfigBuilder, Reconnect, DEFAULT_CONNECT_TIMEOUT, DEFAULT_EVENT_CAPACITY,
    DEFAULT_KEEPALIVE, DEFAULT_MAX_IN_FLIGHT, DEFAULT_RECONNECT_INITIAL, DEFAULT_RECONNECT_MAX,
    DEFAULT_RECONNECT_MULTIPLIER, DEFAULT_SHUTDOWN_GRACE,
};
pub use error::ConnectError;
pub use event::{ConnectionEvent, EventKind, Events, ReconnectCause};
#[cfg(feature = "tower")]
pub use pool::{Key as PoolKey, Pool};
pub use runtime::{Runtime, WrapStream};
pub use server::{
    BoxError, ConnectionInfo, FnAnswer, FnHandler, Handler, MakeHandler, Request, Serve, Server,
    ServerStats,
};
#[cfg(feature = "tower")]
pub use server::{MakeService, ServiceHandler};
pub use target::{IntoTarget, Target};

#[doc(hidden)]
pub use socket2;

/// Everything a user of an adapter names, besides the adapter's own
/// `Client`, `Server` and runtime types: each adapter re-exports this
/// module whole (`pub use framing_driver::api::*`), so the three cannot
/// drift apart.
pub mod api {
    pub use crate::{
        BoxError, CallFuture, Config, ConfigBuilder, ConnectError, ConnectionEvent, ConnectionInfo,
        EventKind, Events, Handler, IntoTarget, MakeHandler, Reconnect, ReconnectCause, Request,
        ServerStats, Target,
    };
    pub use bytes::Bytes;
    /// The core's settings (framing, watermarks, limits, timeouts), the
    /// `core` of a [`Config`].
    pub use framing_core::Config as CoreConfig;
    /// The checked builder of [`CoreConfig`].
    pub use framing_core::ConfigBuilder as CoreConfigBuilder;
    pub use framing_core::{
        CallError, CallOptions, Codec, CodecBuilder, ConfigError, DisconnectReason, Endian,
        IoError, IoFailure, LengthCounts, ProtocolError, Rejected, RpcId, Stats,
    };
}
pub use api::*;
