//! [`TestRuntime`] for each runtime adapter.

use std::future::Future;
use std::io;

use crate::TestRuntime;

pub use framing_tokio::Tokio;

impl TestRuntime for Tokio {
    const NAME: &'static str = "tokio";

    #[cfg(unix)]
    type UnixStream = tokio::net::UnixStream;

    /// A fresh multi-thread runtime with two workers per test, so that the
    /// driver, the server and the test really run in parallel.
    fn block_on<F: Future>(fut: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("building a tokio runtime")
            .block_on(fut)
    }

    fn bind_loopback() -> io::Result<tokio::net::TcpListener> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(listener)
    }

    #[cfg(unix)]
    fn unix_pair() -> io::Result<(tokio::net::UnixStream, tokio::net::UnixStream)> {
        tokio::net::UnixStream::pair()
    }
}

pub use framing_smol::Smol;

impl TestRuntime for Smol {
    const NAME: &'static str = "smol";

    #[cfg(unix)]
    type UnixStream = smol::net::unix::UnixStream;

    /// `smol::block_on`; the driver's tasks run on smol's global executor.
    fn block_on<F: Future>(fut: F) -> F::Output {
        smol::block_on(fut)
    }

    fn bind_loopback() -> io::Result<smol::net::TcpListener> {
        smol::net::TcpListener::try_from(std::net::TcpListener::bind("127.0.0.1:0")?)
    }

    #[cfg(unix)]
    fn unix_pair() -> io::Result<(smol::net::unix::UnixStream, smol::net::unix::UnixStream)> {
        smol::net::unix::UnixStream::pair()
    }
}

pub use framing_async_std::AsyncStd;

impl TestRuntime for AsyncStd {
    const NAME: &'static str = "async-std";

    #[cfg(unix)]
    type UnixStream = async_std::os::unix::net::UnixStream;

    /// `async_std::task::block_on`.
    fn block_on<F: Future>(fut: F) -> F::Output {
        async_std::task::block_on(fut)
    }

    fn bind_loopback() -> io::Result<async_std::net::TcpListener> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        Ok(async_std::net::TcpListener::from(listener))
    }

    #[cfg(unix)]
    fn unix_pair() -> io::Result<(
        async_std::os::unix::net::UnixStream,
        async_std::os::unix::net::UnixStream,
    )> {
        async_std::os::unix::net::UnixStream::pair()
    }
}
