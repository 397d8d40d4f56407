//! Errors, split as h11 splits them: what the peer did wrong
//! ([`ProtocolError`]), how a call ended or why it was refused
//! ([`CallError`]), how the connection ended ([`DisconnectReason`]), and
//! what was wrong with a configuration ([`ConfigError`]).

use alloc::sync::Arc;
use core::fmt;

use crate::RpcId;

/// The peer broke the wire format. The connection fails: every pending call
/// completes with [`CallError::Protocol`] and
/// [`Event::ProtocolError`](crate::Event::ProtocolError) says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The length field is smaller than the header parts it must count.
    LengthTooShort {
        /// The length the peer sent.
        length: u64,
        /// The smallest valid length.
        min: u64,
    },
    /// The length field exceeds the configured maximum frame length.
    LengthTooLarge {
        /// The length the peer sent.
        length: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The length field, read as a signed integer, is negative.
    NegativeLength {
        /// The length the peer sent, as read.
        length: i64,
    },
    /// A response carried an id that matches no pending call, and the
    /// connection is in strict mode.
    UnknownResponseId {
        /// The id the peer sent.
        id: RpcId,
    },
    /// A custom [`HeaderFormat`](crate::HeaderFormat) rejected a header.
    InvalidHeader {
        /// The custom format's explanation.
        reason: &'static str,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ProtocolError::LengthTooShort { length, min } => {
                write!(f, "frame length {length} is below the minimum {min}")
            }
            ProtocolError::LengthTooLarge { length, max } => {
                write!(f, "frame length {length} exceeds the maximum {max}")
            }
            ProtocolError::NegativeLength { length } => {
                write!(f, "frame length {length} is negative")
            }
            ProtocolError::UnknownResponseId { id } => {
                write!(f, "response id {id} matches no pending call (strict mode)")
            }
            ProtocolError::InvalidHeader { reason } => write!(f, "invalid frame header: {reason}"),
        }
    }
}

impl core::error::Error for ProtocolError {}

/// What an I/O failure looked like, for [`DisconnectReason::Io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoFailure {
    /// The peer reset the connection.
    Reset,
    /// The connection was aborted.
    Aborted,
    /// Writing to a connection the peer had closed.
    BrokenPipe,
    /// An operating-system timeout.
    TimedOut,
    /// Anything else.
    Other,
}

/// Why a connection ended without being closed by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The peer closed the stream cleanly between frames.
    PeerClosed,
    /// The peer closed the stream in the middle of a frame.
    PeerClosedMidFrame {
        /// Bytes of the unfinished frame that had arrived.
        buffered: usize,
    },
    /// Reading or writing failed.
    Io {
        /// The class of failure.
        kind: IoFailure,
        /// The operating system's message.
        message: Arc<str>,
    },
}

impl DisconnectReason {
    /// An I/O failure with a message.
    pub fn io(kind: IoFailure, message: impl Into<Arc<str>>) -> Self {
        DisconnectReason::Io {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::PeerClosed => f.write_str("peer closed the connection"),
            DisconnectReason::PeerClosedMidFrame { buffered } => write!(
                f,
                "peer closed the connection mid-frame ({buffered} bytes of an unfinished frame)"
            ),
            DisconnectReason::Io { kind, message } => write!(f, "i/o error ({kind:?}): {message}"),
        }
    }
}

impl core::error::Error for DisconnectReason {}

#[cfg(feature = "std")]
impl From<&std::io::Error> for DisconnectReason {
    fn from(e: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::ConnectionReset => IoFailure::Reset,
            K::ConnectionAborted => IoFailure::Aborted,
            K::BrokenPipe => IoFailure::BrokenPipe,
            K::TimedOut => IoFailure::TimedOut,
            K::UnexpectedEof => return DisconnectReason::PeerClosed,
            _ => IoFailure::Other,
        };
        DisconnectReason::io(kind, alloc::format!("{e}"))
    }
}

/// How a call ended, or why it was refused.
///
/// The first group is returned at once by
/// [`Connection::call`](crate::Connection::call) (inside [`Rejected`]); the
/// second group arrives in [`Event::Completed`](crate::Event::Completed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    // ---- refused at once ----
    /// More than `max_buffer_bytes` are waiting to be written.
    BufferFull {
        /// Unwritten bytes when the call was made.
        queued: usize,
        /// The configured limit.
        max: usize,
    },
    /// The caller's id is already pending.
    DuplicateRpcId(RpcId),
    /// The caller's id does not fit the id field.
    IdOutOfRange {
        /// The id requested.
        id: RpcId,
        /// The largest id the field holds.
        max: u64,
    },
    /// Every id of the (small) id field is pending.
    NoFreeId,
    /// A caller-chosen id on a format without an id field (FIFO matching).
    IdsNotSupported,
    /// The payload is larger than a frame may be.
    FrameTooLarge {
        /// The length field the frame would need.
        length: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A graceful shutdown is under way: no new calls.
    ShuttingDown,
    /// Calls are made on client connections only.
    WrongRole,
    // ---- completions ----
    /// The per-call deadline passed before the response arrived.
    DeadlineExceeded,
    /// The user closed the connection (or a graceful shutdown's deadline
    /// passed) before the response arrived. Also refuses calls made after.
    Closed,
    /// The connection ended unexpectedly.
    Disconnected(DisconnectReason),
    /// [`Connection::fail_pending`](crate::Connection::fail_pending) was called.
    FailedByUser,
    /// The peer broke the protocol.
    Protocol(ProtocolError),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::BufferFull { queued, max } => write!(
                f,
                "write buffer full: {queued} bytes unwritten, limit {max}"
            ),
            CallError::DuplicateRpcId(id) => write!(f, "rpc id {id} is already pending"),
            CallError::IdOutOfRange { id, max } => {
                write!(f, "rpc id {id} does not fit the id field (max {max})")
            }
            CallError::NoFreeId => f.write_str("every rpc id is in use"),
            CallError::IdsNotSupported => {
                f.write_str("the frame format has no id field, so calls cannot choose ids")
            }
            CallError::FrameTooLarge { length, max } => {
                write!(f, "frame length {length} exceeds the maximum {max}")
            }
            CallError::ShuttingDown => f.write_str("connection is shutting down"),
            CallError::WrongRole => f.write_str("calls are made on client connections only"),
            CallError::DeadlineExceeded => f.write_str("deadline exceeded"),
            CallError::Closed => f.write_str("connection closed"),
            CallError::Disconnected(r) => write!(f, "disconnected: {r}"),
            CallError::FailedByUser => f.write_str("failed by user"),
            CallError::Protocol(p) => write!(f, "protocol error: {p}"),
        }
    }
}

impl core::error::Error for CallError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            CallError::Disconnected(r) => Some(r),
            CallError::Protocol(p) => Some(p),
            _ => None,
        }
    }
}

/// A call the connection refused, with everything handed back.
#[derive(Debug)]
pub struct Rejected<C> {
    /// Why.
    pub error: CallError,
    /// The payload, untouched.
    pub payload: bytes::Bytes,
    /// The caller's context, untouched.
    pub ctx: C,
}

/// Why [`Connection::respond`](crate::Connection::respond) refused a response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RespondError {
    /// Responses are sent on server connections only.
    WrongRole,
    /// The id does not fit the id field.
    IdOutOfRange {
        /// The id given.
        id: RpcId,
        /// The largest id the field holds.
        max: u64,
    },
    /// With a 0-byte id field: no request with this sequence number awaits
    /// a response (already answered, or never received).
    UnknownRequest(RpcId),
    /// The payload is larger than a frame may be.
    FrameTooLarge {
        /// The length field the frame would need.
        length: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The connection is closed.
    Closed,
}

impl fmt::Display for RespondError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespondError::WrongRole => f.write_str("responses are sent on server connections only"),
            RespondError::IdOutOfRange { id, max } => {
                write!(f, "rpc id {id} does not fit the id field (max {max})")
            }
            RespondError::UnknownRequest(id) => write!(f, "no request {id} awaits a response"),
            RespondError::FrameTooLarge { length, max } => {
                write!(f, "frame length {length} exceeds the maximum {max}")
            }
            RespondError::Closed => f.write_str("connection closed"),
        }
    }
}

impl core::error::Error for RespondError {}

/// A configuration the builders refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The length field must be 1 to 8 bytes.
    LengthFieldLen(usize),
    /// The id field must be 0 to 8 bytes.
    IdFieldLen(usize),
    /// The maximum frame length is too small to hold the header parts the
    /// length counts.
    MaxFrameLengthTooSmall {
        /// The requested maximum.
        max: u64,
        /// The smallest usable maximum.
        min: u64,
    },
    /// A custom header format declared a header longer than
    /// [`MAX_HEADER_LEN`](crate::MAX_HEADER_LEN).
    HeaderTooLong(usize),
    /// Watermarks must satisfy `low < warn <= max`.
    Watermarks {
        /// The low watermark (resume).
        low: usize,
        /// The warning watermark (pause).
        warn: usize,
        /// The hard limit (reject).
        max: usize,
    },
    /// A duration of zero where a positive one is needed.
    ZeroDuration(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::LengthFieldLen(n) => {
                write!(f, "length field must be 1 to 8 bytes, got {n}")
            }
            ConfigError::IdFieldLen(n) => write!(f, "rpc id field must be 0 to 8 bytes, got {n}"),
            ConfigError::MaxFrameLengthTooSmall { max, min } => {
                write!(f, "max frame length {max} is below the minimum {min}")
            }
            ConfigError::HeaderTooLong(n) => write!(
                f,
                "custom header of {n} bytes exceeds {} bytes",
                crate::MAX_HEADER_LEN
            ),
            ConfigError::Watermarks { low, warn, max } => write!(
                f,
                "watermarks must satisfy low < warn <= max, got low={low} warn={warn} max={max}"
            ),
            ConfigError::ZeroDuration(what) => write!(f, "{what} must be greater than zero"),
        }
    }
}

impl core::error::Error for ConfigError {}
