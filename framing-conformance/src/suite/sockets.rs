//! Socket defaults (SPEC §5): the options on both ends of a real
//! connection, read back with `getsockopt`, and the default connect
//! timeout.
//!
//! The driver keeps its sockets to itself; the tests read them through
//! [`Spy`], the runtime under test keeping a duplicate descriptor of each
//! socket it connects or accepts (see [`crate::spy`]).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use framing_driver::{Bytes, Client, Config, ConnectError, Server};
use socket2::{SockRef, Socket};

use crate::peer::FullAcceptQueue;
use crate::spy::{take_client_socket, take_server_socket, Spy};
use crate::util::{assert_on_time, within, WAIT};
use crate::TestRuntime;

/// The options SPEC §5 sets, as `getsockopt` reads them.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    /// TCP_NODELAY.
    nodelay: bool,
    /// SO_KEEPALIVE.
    keepalive: bool,
    /// TCP_KEEPIDLE: idle time before the first keepalive probe (the
    /// kernel keeps it whether keepalive is on or not).
    keepalive_idle: Duration,
}

impl Options {
    fn of(sock: &Socket) -> io::Result<Options> {
        Ok(Options {
            nodelay: sock.tcp_nodelay()?,
            keepalive: sock.keepalive()?,
            keepalive_idle: sock.tcp_keepalive_time()?,
        })
    }
}

/// A framing echo server of the spied runtime with `config`, a client of
/// it with `client_config`, one call answered, then the options of the
/// client's socket and of the server's accepted socket.
async fn options_of_both_ends<R: TestRuntime>(
    server_config: Config,
    client_config: Config,
) -> (Options, Options) {
    let listener = R::bind_loopback().expect("binding 127.0.0.1:0");
    let server =
        Server::<Spy<R>>::serve_with(listener, server_config, |req: Bytes| async move { req });
    let addr: SocketAddr = server.local_addr().expect("a TCP server has an address");
    let client = within::<R, _>(
        WAIT,
        "connect",
        Client::<Spy<R>>::connect_with(addr, client_config),
    )
    .await
    .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    // Once answered, the server has accepted and configured its socket
    // (it does so before it reads a byte); the client did before
    // `connect_with` returned.
    let answer = within::<R, _>(WAIT, "an answer", client.call("options")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"options")));

    let client_sock = take_client_socket(addr).expect("the client's socket was kept");
    let server_sock = take_server_socket(addr).expect("the server's socket was kept");
    assert_eq!(
        client_sock.local_addr().expect("local_addr").as_socket(),
        server_sock.peer_addr().expect("peer_addr").as_socket(),
        "the two ends of one connection"
    );
    let options = (
        Options::of(&client_sock).expect("the client's socket options"),
        Options::of(&server_sock).expect("the server's socket options"),
    );
    drop((client_sock, server_sock));
    client.close();
    within::<R, _>(WAIT, "the server's shutdown", server.shutdown(WAIT)).await;
    options
}

/// With `Config::default()`, both ends of a connection, the client's
/// socket and the server's accepted one, have TCP_NODELAY on and
/// keepalive on with its first probe after 1 s idle (TCP_KEEPIDLE), as the
/// Node library's `setNoDelay(true)` and `setKeepAlive(true, 1000)`; a
/// plain socket has neither, so the driver set them.
pub async fn both_ends_have_nodelay_and_a_one_second_keepalive_by_default<R: TestRuntime>() {
    let plain_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let plain = std::net::TcpStream::connect(plain_listener.local_addr().expect("local_addr"))
        .expect("a plain connection");
    let plain = SockRef::from(&plain);
    assert!(
        !plain.tcp_nodelay().expect("TCP_NODELAY") && !plain.keepalive().expect("SO_KEEPALIVE"),
        "a plain socket has neither option on, so the checks below are not vacuous"
    );

    let (client, server) = options_of_both_ends::<R>(Config::default(), Config::default()).await;
    let expected = Options {
        nodelay: true,
        keepalive: true,
        keepalive_idle: Duration::from_secs(1),
    };
    assert_eq!(client, expected, "the client's socket");
    assert_eq!(server, expected, "the server's accepted socket");
}

/// Non-default settings reach the sockets: a client without TCP_NODELAY
/// and with its first keepalive probe after 7 s, a server without
/// keepalive.
pub async fn socket_options_follow_the_config<R: TestRuntime>() {
    let client_config = Config::builder()
        .nodelay(false)
        .keepalive(Some(Duration::from_secs(7)))
        .build()
        .expect("a valid config");
    let server_config = Config::builder()
        .keepalive(None)
        .build()
        .expect("a valid config");
    let (client, server) = options_of_both_ends::<R>(server_config, client_config).await;
    assert_eq!(
        client,
        Options {
            nodelay: false,
            keepalive: true,
            keepalive_idle: Duration::from_secs(7),
        },
        "the client's socket"
    );
    assert!(server.nodelay, "the server's TCP_NODELAY: {server:?}");
    assert!(
        !server.keepalive,
        "the server's keepalive is off: {server:?}"
    );
}

/// With `Config::default()`, a connect whose handshake never completes
/// (a full accept queue on loopback) fails with `TimedOut` after the
/// default 5 s, on time.
pub async fn a_connect_with_the_default_config_times_out_after_five_seconds<R: TestRuntime>() {
    let queue = FullAcceptQueue::new().expect("a listener with a full accept queue");
    let addr = queue.addr();
    let default = Duration::from_secs(5);
    assert_eq!(Config::default().connect_timeout(), default);

    let start = R::now();
    let result = within::<R, _>(WAIT, "connect to time out", Client::<R>::connect(addr)).await;
    match result {
        Err(ConnectError::TimedOut { addr: tried, after }) => {
            assert_eq!(tried, addr);
            assert_eq!(after, default);
            assert_on_time::<R>(
                "the default connect timeout",
                default,
                start..=start,
                R::now(),
            );
        }
        Err(other) => panic!("expected TimedOut, got {other:?}"),
        Ok(_) => panic!("connected through a full accept queue at {addr}"),
    }
    drop(queue);
}
