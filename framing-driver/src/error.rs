//! Connection errors (call errors are [`framing_core::CallError`]).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Why `connect` (or a reconnection attempt) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// Nothing listens there, or it cannot be reached (refused,
    /// unreachable, reset during the handshake).
    HostUnavailable {
        /// The address tried (the last one, when a name resolved to
        /// several).
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// The connection was not established within the connect timeout.
    TimedOut {
        /// The address tried (the last one, when a name resolved to
        /// several).
        addr: SocketAddr,
        /// The timeout.
        after: Duration,
    },
    /// The host name could not be resolved, or resolved to no address.
    Resolve {
        /// The name.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The target is neither an address nor `host:port`.
    InvalidTarget(String),
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
            ConnectError::Resolve { host, source } => {
                write!(f, "cannot resolve {host}: {source}")
            }
            ConnectError::InvalidTarget(t) => {
                write!(f, "not an address or host:port: {t:?}")
            }
            ConnectError::Io(e) => write!(f, "connect failed: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::HostUnavailable { source, .. } | ConnectError::Resolve { source, .. } => {
                Some(source)
            }
            ConnectError::Io(e) => Some(e),
            ConnectError::TimedOut { .. } | ConnectError::InvalidTarget(_) => None,
        }
    }
}

/// Equal when of the same kind, for the same address or name, with I/O
/// errors of the same kind (so that events carrying one compare).
impl PartialEq for ConnectError {
    fn eq(&self, other: &Self) -> bool {
        use ConnectError as E;
        match (self, other) {
            (E::HostUnavailable { addr, source }, E::HostUnavailable { addr: a, source: s }) => {
                addr == a && source.kind() == s.kind()
            }
            (E::TimedOut { addr, after }, E::TimedOut { addr: a, after: t }) => {
                addr == a && after == t
            }
            (E::Resolve { host, source }, E::Resolve { host: h, source: s }) => {
                host == h && source.kind() == s.kind()
            }
            (E::InvalidTarget(a), E::InvalidTarget(b)) => a == b,
            (E::Io(a), E::Io(b)) => a.kind() == b.kind(),
            _ => false,
        }
    }
}

impl Eq for ConnectError {}

impl From<ConnectError> for io::Error {
    fn from(e: ConnectError) -> Self {
        let kind = match &e {
            ConnectError::HostUnavailable { source, .. } | ConnectError::Resolve { source, .. } => {
                source.kind()
            }
            ConnectError::TimedOut { .. } => io::ErrorKind::TimedOut,
            ConnectError::InvalidTarget(_) => io::ErrorKind::InvalidInput,
            ConnectError::Io(e) => e.kind(),
        };
        io::Error::new(kind, e)
    }
}
