//! Where a client connects: socket addresses, or a host name resolved on
//! the runtime (without blocking it) at every connection attempt.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::ConnectError;

/// Where to connect. Every address it resolves to is tried in turn.
///
/// Made from what `ToSocketAddrs`-style APIs take: a [`SocketAddr`], an
/// `(ip, port)` or `(host, port)` pair, a `"host:port"` string, or a list
/// of addresses.
///
/// # Examples
///
/// ```
/// use framing_driver::{IntoTarget, Target};
///
/// let t = "db.local:7000".into_target().unwrap();
/// assert_eq!(t.to_string(), "db.local:7000");
/// let t = "127.0.0.1:7000".into_target().unwrap();
/// assert_eq!(t.addrs(), Some(&["127.0.0.1:7000".parse().unwrap()][..]));
/// assert!("no port".into_target().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(Kind);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Addrs(Vec<SocketAddr>),
    Host { host: String, port: u16 },
}

impl Target {
    /// A host name and port, resolved at every connection attempt.
    pub fn host(host: impl Into<String>, port: u16) -> Self {
        let host = host.into();
        match host.parse::<IpAddr>() {
            Ok(ip) => Target(Kind::Addrs(vec![SocketAddr::new(ip, port)])),
            Err(_) => Target(Kind::Host { host, port }),
        }
    }

    /// The addresses, when the target is not a host name.
    pub fn addrs(&self) -> Option<&[SocketAddr]> {
        match &self.0 {
            Kind::Addrs(a) => Some(a),
            Kind::Host { .. } => None,
        }
    }

    /// The host name and port, when the target is one.
    pub fn host_port(&self) -> Option<(&str, u16)> {
        match &self.0 {
            Kind::Host { host, port } => Some((host, *port)),
            Kind::Addrs(_) => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Host { host, port } => write!(f, "{host}:{port}"),
            Kind::Addrs(addrs) => {
                for (i, a) in addrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{a}")?;
                }
                Ok(())
            }
        }
    }
}

/// What [`Client::connect`](crate::Client::connect) accepts; see [`Target`].
pub trait IntoTarget {
    /// The target.
    ///
    /// # Errors
    /// [`ConnectError::InvalidTarget`] for a string that is neither an
    /// address nor `host:port`, or an empty list.
    fn into_target(self) -> Result<Target, ConnectError>;
}

impl IntoTarget for Target {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(self)
    }
}

impl IntoTarget for SocketAddr {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target(Kind::Addrs(vec![self])))
    }
}

impl IntoTarget for (IpAddr, u16) {
    fn into_target(self) -> Result<Target, ConnectError> {
        SocketAddr::from(self).into_target()
    }
}

impl IntoTarget for (&str, u16) {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::host(self.0, self.1))
    }
}

impl IntoTarget for (String, u16) {
    fn into_target(self) -> Result<Target, ConnectError> {
        Ok(Target::host(self.0, self.1))
    }
}

impl IntoTarget for &str {
    fn into_target(self) -> Result<Target, ConnectError> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return addr.into_target();
        }
        let invalid = || ConnectError::InvalidTarget(self.to_owned());
        let (host, port) = self.rsplit_once(':').ok_or_else(invalid)?;
        let port = port.parse::<u16>().map_err(|_| invalid())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid());
        }
        Ok(Target::host(host, port))
    }
}

impl IntoTarget for String {
    fn into_target(self) -> Result<Target, ConnectError> {
        self.as_str().into_target()
    }
}

impl IntoTarget for &[SocketAddr] {
    fn into_target(self) -> Result<Target, ConnectError> {
        if self.is_empty() {
            return Err(ConnectError::InvalidTarget("an empty address list".into()));
        }
        Ok(Target(Kind::Addrs(self.to_vec())))
    }
}

impl IntoTarget for Vec<SocketAddr> {
    fn into_target(self) -> Result<Target, ConnectError> {
        self.as_slice().into_target()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_addresses_or_host_and_port() {
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!("[::1]:9".into_target().unwrap().addrs(), Some(&[v6][..]));
        assert_eq!(
            "localhost:7000".into_target().unwrap().host_port(),
            Some(("localhost", 7000))
        );
        assert_eq!(
            ("10.0.0.1", 5).into_target().unwrap().addrs(),
            Some(&["10.0.0.1:5".parse().unwrap()][..])
        );
        for bad in ["", "host", ":80", "host:port", "host:70000"] {
            assert!(
                matches!(bad.into_target(), Err(ConnectError::InvalidTarget(_))),
                "{bad:?}"
            );
        }
        assert!(Vec::<SocketAddr>::new().into_target().is_err());
    }
}
