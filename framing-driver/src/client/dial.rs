//! Opening a connection: resolve the target on the runtime, try each
//! address in turn (each bounded by the connect timeout), apply the socket
//! options.

use std::net::SocketAddr;

use futures_util::future::{select, Either};

use crate::runtime::{BoxFuture, Runtime};
use crate::socket::configure;
use crate::{Config, ConnectError, Target};

/// A way to open the next connection, called at every attempt.
pub(crate) type Dial<S> =
    Box<dyn FnMut() -> BoxFuture<'static, Result<(S, SocketAddr), ConnectError>> + Send>;

/// A [`Dial`] that connects over TCP to `target`.
pub(crate) fn tcp<R: Runtime>(rt: R, target: Target, config: Config) -> Dial<R::TcpStream> {
    Box::new(move || Box::pin(dial(rt.clone(), target.clone(), config.clone())))
}

/// Connects to the first address of `target` that answers.
///
/// # Errors
/// The name's resolution error, or the last address's connect error.
pub(crate) async fn dial<R: Runtime>(
    rt: R,
    target: Target,
    config: Config,
) -> Result<(R::TcpStream, SocketAddr), ConnectError> {
    let addrs = match (target.addrs(), target.host_port()) {
        (Some(addrs), _) => addrs.to_vec(),
        (None, Some((host, port))) => {
            let resolved = rt.resolve(host.to_owned(), port).await;
            match resolved {
                Ok(addrs) if !addrs.is_empty() => addrs,
                Ok(_) => {
                    return Err(ConnectError::Resolve {
                        host: host.to_owned(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "the name resolved to no address",
                        ),
                    })
                }
                Err(source) => {
                    return Err(ConnectError::Resolve {
                        host: host.to_owned(),
                        source,
                    })
                }
            }
        }
        (None, None) => unreachable!("a target is addresses or a host"),
    };
    let mut last = None;
    for addr in addrs {
        match connect_one(&rt, addr, &config).await {
            Ok(stream) => return Ok((stream, addr)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("a target has at least one address"))
}

async fn connect_one<R: Runtime>(
    rt: &R,
    addr: SocketAddr,
    config: &Config,
) -> Result<R::TcpStream, ConnectError> {
    let timer = rt.timer(R::now() + config.connect_timeout());
    let stream = match select(rt.connect(addr), timer).await {
        Either::Left((result, _)) => result.map_err(|e| ConnectError::from_io(addr, e))?,
        Either::Right(_) => {
            return Err(ConnectError::TimedOut {
                addr,
                after: config.connect_timeout(),
            })
        }
    };
    if let Some(sock) = R::socket(&stream) {
        configure(&sock, config).map_err(ConnectError::Io)?;
    }
    Ok(stream)
}
