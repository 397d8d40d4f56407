//! [`TestRuntime`] for each runtime adapter.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use futures_io::{AsyncRead, AsyncWrite};
use futures_util::future::try_join;

use crate::{tls, TestRuntime};

pub use framing_tokio::Tokio;

impl TestRuntime for Tokio {
    const NAME: &'static str = "tokio";

    #[cfg(unix)]
    type UnixStream = tokio::net::UnixStream;
    type TlsClientStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;
    type TlsServerStream = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

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

    fn bind(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(listener)
    }

    #[cfg(unix)]
    fn unix_pair() -> io::Result<(tokio::net::UnixStream, tokio::net::UnixStream)> {
        tokio::net::UnixStream::pair()
    }

    /// `tokio-rustls` over tokio's `TcpStream`.
    async fn tls_pair() -> io::Result<(Self::TlsClientStream, Self::TlsServerStream)> {
        let listener = Self::bind_loopback()?;
        let addr = listener.local_addr()?;
        let (client, (server, _)) =
            try_join(tokio::net::TcpStream::connect(addr), listener.accept()).await?;
        let (server_config, client_config) = tls::configs();
        try_join(
            tokio_rustls::TlsConnector::from(client_config).connect(tls::server_name(), client),
            tokio_rustls::TlsAcceptor::from(server_config).accept(server),
        )
        .await
    }
}

pub use framing_smol::Smol;

impl TestRuntime for Smol {
    const NAME: &'static str = "smol";

    #[cfg(unix)]
    type UnixStream = smol::net::unix::UnixStream;
    type TlsClientStream = futures_rustls::client::TlsStream<smol::net::TcpStream>;
    type TlsServerStream = futures_rustls::server::TlsStream<smol::net::TcpStream>;

    /// `smol::block_on`; the driver's tasks run on smol's global executor.
    fn block_on<F: Future>(fut: F) -> F::Output {
        smol::block_on(fut)
    }

    fn bind_loopback() -> io::Result<smol::net::TcpListener> {
        smol::net::TcpListener::try_from(std::net::TcpListener::bind("127.0.0.1:0")?)
    }

    fn bind(addr: SocketAddr) -> io::Result<smol::net::TcpListener> {
        smol::net::TcpListener::try_from(std::net::TcpListener::bind(addr)?)
    }

    #[cfg(unix)]
    fn unix_pair() -> io::Result<(smol::net::unix::UnixStream, smol::net::unix::UnixStream)> {
        smol::net::unix::UnixStream::pair()
    }

    /// `futures-rustls` over smol's `TcpStream`.
    async fn tls_pair() -> io::Result<(Self::TlsClientStream, Self::TlsServerStream)> {
        let listener = Self::bind_loopback()?;
        let addr = listener.local_addr()?;
        let (client, (server, _)) =
            try_join(smol::net::TcpStream::connect(addr), listener.accept()).await?;
        futures_rustls_handshake(client, server).await
    }
}

pub use framing_async_std::AsyncStd;

impl TestRuntime for AsyncStd {
    const NAME: &'static str = "async-std";

    #[cfg(unix)]
    type UnixStream = async_std::os::unix::net::UnixStream;
    type TlsClientStream = futures_rustls::client::TlsStream<async_std::net::TcpStream>;
    type TlsServerStream = futures_rustls::server::TlsStream<async_std::net::TcpStream>;

    /// `async_std::task::block_on`.
    fn block_on<F: Future>(fut: F) -> F::Output {
        async_std::task::block_on(fut)
    }

    fn bind_loopback() -> io::Result<async_std::net::TcpListener> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        Ok(async_std::net::TcpListener::from(listener))
    }

    fn bind(addr: SocketAddr) -> io::Result<async_std::net::TcpListener> {
        let listener = std::net::TcpListener::bind(addr)?;
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

    /// `futures-rustls` over async-std's `TcpStream`.
    async fn tls_pair() -> io::Result<(Self::TlsClientStream, Self::TlsServerStream)> {
        let listener = Self::bind_loopback()?;
        let addr = listener.local_addr()?;
        let (client, (server, _)) =
            try_join(async_std::net::TcpStream::connect(addr), listener.accept()).await?;
        futures_rustls_handshake(client, server).await
    }
}

/// The TLS handshake of [`tls::configs`] over a connected pair of
/// futures-io streams, driven on both ends at once.
async fn futures_rustls_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    client: S,
    server: S,
) -> io::Result<(
    futures_rustls::client::TlsStream<S>,
    futures_rustls::server::TlsStream<S>,
)> {
    let (server_config, client_config) = tls::configs();
    try_join(
        futures_rustls::TlsConnector::from(client_config).connect(tls::server_name(), client),
        futures_rustls::TlsAcceptor::from(server_config).accept(server),
    )
    .await
}
