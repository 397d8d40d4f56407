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

/// The error behind [`DisconnectReason::Io`]: its class, and the error
/// itself (with `std`, usually the driver's `std::io::Error`, kind and OS
/// code intact). Cheap to clone: clones share the error.
#[derive(Clone)]
pub struct IoError {
    kind: IoFailure,
    error: Arc<dyn core::error::Error + Send + Sync>,
}

impl IoError {
    /// An error of class `kind`; `error` is anything that converts into a
    /// boxed error, a message included.
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::{IoError, IoFailure};
    ///
    /// let e = IoError::new(IoFailure::Reset, "connection reset by peer");
    /// assert_eq!(e.kind(), IoFailure::Reset);
    /// assert_eq!(e.to_string(), "connection reset by peer");
    /// ```
    pub fn new(
        kind: IoFailure,
        error: impl Into<alloc::boxed::Box<dyn core::error::Error + Send + Sync>>,
    ) -> Self {
        IoError {
            kind,
            error: Arc::from(error.into()),
        }
    }

    /// The class of failure.
    pub fn kind(&self) -> IoFailure {
        self.kind
    }

    /// The error itself.
    pub fn get_ref(&self) -> &(dyn core::error::Error + Send + Sync + 'static) {
        &*self.error
    }

    /// The `std::io::Error` it was made from, if it was.
    #[cfg(feature = "std")]
    pub fn io_error(&self) -> Option<&std::io::Error> {
        self.error.downcast_ref()
    }
}

impl fmt::Debug for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoError")
            .field("kind", &self.kind)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

/// Two errors are equal when they are the same error, or of the same
/// class with the same message.
impl PartialEq for IoError {
    fn eq(&self, other: &Self) -> bool {
        use alloc::string::ToString;
        self.kind == other.kind
            && (Arc::ptr_eq(&self.error, &other.error)
                || self.error.to_string() == other.error.to_string())
    }
}

impl Eq for IoError {}

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
    /// Reading or writing failed; [`source`](core::error::Error::source)
    /// returns the error itself.
    Io(IoError),
    /// There has been no connection yet (a reconnecting client that has
    /// not connected: see [`WhileDisconnected`](crate::WhileDisconnected)).
    NotConnected,
}

impl DisconnectReason {
    /// An I/O failure of class `kind`.
    ///
    /// # Examples
    ///
    /// ```
    /// use framing_core::{DisconnectReason, IoFailure};
    ///
    /// let r = DisconnectReason::io(IoFailure::Reset, "connection reset by peer");
    /// assert_eq!(r.to_string(), "i/o error (Reset): connection reset by peer");
    /// ```
    pub fn io(
        kind: IoFailure,
        error: impl Into<alloc::boxed::Box<dyn core::error::Error + Send + Sync>>,
    ) -> Self {
        DisconnectReason::Io(IoError::new(kind, error))
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
            DisconnectReason::Io(e) => write!(f, "i/o error ({:?}): {e}", e.kind()),
            DisconnectReason::NotConnected => f.write_str("not connected yet"),
        }
    }
}

impl core::error::Error for DisconnectReason {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            DisconnectReason::Io(e) => Some(e.get_ref()),
            _ => None,
        }
    }
}

/// An I/O error ends the connection: its class is read from its kind, and
/// the error is kept whole as the reason's `source()`. An unexpected end of
/// stream is the peer closing.
#[cfg(feature = "std")]
impl From<std::io::Error> for DisconnectReason {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::ConnectionReset => IoFailure::Reset,
            K::ConnectionAborted => IoFailure::Aborted,
            K::BrokenPipe => IoFailure::BrokenPipe,
            K::TimedOut => IoFailure::TimedOut,
            K::UnexpectedEof => return DisconnectReason::PeerClosed,
            _ => IoFailure::Other,
        };
        DisconnectReason::io(kind, e)
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

/// A call refused at once, with everything handed back: by
/// [`Connection::call`](crate::Connection::call) (with the caller's
/// context) and by the adapters' `try_call` (with `C = ()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected<C = ()> {
    /// Why.
    pub error: CallError,
    /// The payload, untouched.
    pub payload: bytes::Bytes,
    /// The caller's context, untouched.
    pub ctx: C,
}

impl<C> fmt::Display for Rejected<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call refused: {}", self.error)
    }
}

impl<C: fmt::Debug> core::error::Error for Rejected<C> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.error)
    }
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
    /// A count of zero where a positive one is needed.
    Zero(&'static str),
    /// A reconnect backoff must grow: the largest delay at least the
    /// first, a multiplier of at least 1.
    Reconnect,
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
            ConfigError::Watermarks { low, warn, max } => write!(
                f,
                "watermarks must satisfy low < warn <= max, got low={low} warn={warn} max={max}"
            ),
            ConfigError::ZeroDuration(what) | ConfigError::Zero(what) => {
                write!(f, "{what} must be greater than zero")
            }
            ConfigError::Reconnect => f.write_str(
                "reconnect backoff: the largest delay must be at least the first, \
                 the multiplier at least 1",
            ),
        }
    }
}

impl core::error::Error for ConfigError {}
