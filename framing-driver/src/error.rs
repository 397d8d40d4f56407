//! Connection errors (call errors are [`framing_core::CallError`]).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Why `connect` failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// Nothing listens there, or it cannot be reached (refused,
    /// unreachable, reset during the handshake).
    HostUnavailable {
        /// The address tried.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// The connection was not established within the connect timeout.
    TimedOut {
        /// The address tried.
        addr: SocketAddr,
        /// The timeout.
        after: Duration,
    },
    /// The configuration is invalid.
    Config(framing_core::ConfigError),
    /// Any other I/O error.
    Io(io::Error),
}

impl ConnectError {
    pub(crate) fn from_io(addr: SocketAddr, e: io::Error) -> Self {
        use io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::AddrNotAvailable
            | K::NotConnected => ConnectError::HostUnavailable { addr, source: e },
            K::TimedOut => ConnectError::TimedOut {
                addr,
                after: Duration::ZERO,
            },
            _ => ConnectError::Io(e),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::HostUnavailable { addr, source } => {
                write!(f, "host unavailable: {addr}: {source}")
            }
            ConnectError::TimedOut { addr, after } => {
                write!(f, "connect to {addr} timed out after {after:?}")
            }
            ConnectError::Config(e) => write!(f, "invalid configuration: {e}"),
            ConnectError::Io(e) => write!(f, "connect failed: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::HostUnavailable { source, .. } => Some(source),
            ConnectError::Config(e) => Some(e),
            ConnectError::Io(e) => Some(e),
            ConnectError::TimedOut { .. } => None,
        }
    }
}

impl From<ConnectError> for io::Error {
    fn from(e: ConnectError) -> Self {
        let kind = match &e {
            ConnectError::HostUnavailable { source, .. } => source.kind(),
            ConnectError::TimedOut { .. } => io::ErrorKind::TimedOut,
            ConnectError::Config(_) => io::ErrorKind::InvalidInput,
            ConnectError::Io(e) => e.kind(),
        };
        io::Error::new(kind, e)
    }
}
