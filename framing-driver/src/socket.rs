//! Socket options from the [`Config`](crate::Config).

use std::io;

use socket2::{SockRef, TcpKeepalive};

use crate::Config;

/// Applies TCP_NODELAY and keepalive.
pub(crate) fn configure(sock: &SockRef<'_>, config: &Config) -> io::Result<()> {
    sock.set_tcp_nodelay(config.nodelay())?;
    match config.keepalive() {
        Some(after) => sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(after))?,
        None => sock.set_keepalive(false)?,
    }
    Ok(())
}
