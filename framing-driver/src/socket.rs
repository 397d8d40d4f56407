//! Socket options from the [`Config`](crate::Config).

use std::io;

use socket2::{SockRef, TcpKeepalive};

use crate::Config;

/// Applies TCP_NODELAY, keepalive and (on Linux) TCP_USER_TIMEOUT.
pub(crate) fn configure(sock: &SockRef<'_>, config: &Config) -> io::Result<()> {
    sock.set_tcp_nodelay(config.nodelay())?;
    match config.keepalive() {
        Some(after) => sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(after))?,
        None => sock.set_keepalive(false)?,
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(t) = config.user_timeout() {
        sock.set_tcp_user_timeout(Some(t))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_config_reaches_the_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let config = Config::builder()
            .keepalive(Some(Duration::from_secs(3)))
            .user_timeout(Some(Duration::from_secs(7)))
            .build()
            .unwrap();
        let sock = SockRef::from(&stream);
        configure(&sock, &config).unwrap();
        assert!(sock.tcp_nodelay().unwrap());
        assert!(sock.keepalive().unwrap());
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            assert_eq!(sock.tcp_keepalive_time().unwrap(), Duration::from_secs(3));
            assert_eq!(
                sock.tcp_user_timeout().unwrap(),
                Some(Duration::from_secs(7))
            );
        }
    }
}
