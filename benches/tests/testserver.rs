//! The fault-injecting test server over loopback: its modes, its options
//! and its binary.

mod common;
use common::spawn_testserver;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use framing_benches::testserver::{
    Mode, RequestBuffer, TestServer, TestServerOptions, MAX_REQUEST, UNKNOWN_ID_OFFSET,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const BOUND: Duration = Duration::from_secs(5);

fn request(id: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(4 + payload.len() as u32).to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

async fn connect(mode: Mode) -> (TestServer, TcpStream) {
    let server = TestServer::start(mode).await.unwrap();
    let sock = TcpStream::connect(server.local_addr()).await.unwrap();
    (server, sock)
}

/// Reads until `n` bytes arrived, EOF, or 300 ms of silence.
async fn read_some(sock: &mut TcpStream, n: usize) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < n {
        match timeout(Duration::from_millis(300), sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(k)) => out.extend_from_slice(&buf[..k]),
            Err(_) => break,
        }
    }
    (out, false)
}

#[tokio::test]
async fn echo_mode_answers_with_the_same_frame() {
    let (_s, mut sock) = connect(Mode::Echo).await;
    let req = request(7, b"hello");
    sock.write_all(&req).await.unwrap();
    let (got, _) = timeout(BOUND, read_some(&mut sock, req.len()))
        .await
        .unwrap();
    assert_eq!(got, req);
}

#[tokio::test]
async fn random_mode_answers_50_to_199_bytes_with_the_request_id() {
    let (_s, mut sock) = connect(Mode::Random).await;
    for id in 0..20u32 {
        sock.write_all(&request(id, b"x")).await.unwrap();
        let mut head = [0u8; 8];
        timeout(BOUND, sock.read_exact(&mut head))
            .await
            .unwrap()
            .unwrap();
        let len = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
        assert_eq!(u32::from_be_bytes(head[4..].try_into().unwrap()), id);
        assert!((54..=203).contains(&len), "length {len}");
        let mut body = vec![0u8; len - 4];
        timeout(BOUND, sock.read_exact(&mut body))
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn stall_mode_never_answers_and_keeps_the_connection() {
    let (_s, mut sock) = connect(Mode::Stall).await;
    sock.write_all(&request(1, b"hello")).await.unwrap();
    let (got, eof) = read_some(&mut sock, 1).await;
    assert!(got.is_empty() && !eof);
}

#[tokio::test]
async fn stall_partial_mode_sends_half_a_frame_then_nothing() {
    let (_s, mut sock) = connect(Mode::StallPartial).await;
    let req = request(3, b"0123456789");
    sock.write_all(&req).await.unwrap();
    let (got, eof) = read_some(&mut sock, req.len()).await;
    assert_eq!(got, req[..req.len() / 2]);
    assert!(!eof);
}

#[tokio::test]
async fn close_mid_frame_mode_sends_half_a_frame_then_closes() {
    let (_s, mut sock) = connect(Mode::CloseMidFrame).await;
    let req = request(3, b"0123456789");
    sock.write_all(&req).await.unwrap();
    let (got, eof) = read_some(&mut sock, req.len() + 1).await;
    assert_eq!(got, req[..req.len() / 2]);
    assert!(eof);
}

#[tokio::test]
async fn bad_length_mode_answers_length_ffffffff() {
    let (_s, mut sock) = connect(Mode::BadLength).await;
    sock.write_all(&request(9, b"abc")).await.unwrap();
    let (got, _) = read_some(&mut sock, 8).await;
    assert_eq!(&got[..8], &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 9]);
}

#[tokio::test]
async fn unknown_id_mode_answers_a_foreign_id_then_the_echo() {
    let (_s, mut sock) = connect(Mode::UnknownId).await;
    let req = request(5, b"abc");
    sock.write_all(&req).await.unwrap();
    let (got, _) = read_some(&mut sock, 2 * req.len()).await;
    assert_eq!(got[..req.len()], request(5 + UNKNOWN_ID_OFFSET, b"abc")[..]);
    assert_eq!(got[req.len()..], req[..]);
}

#[test]
fn testserver_binary_prints_its_address_first() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_framing-testserver"))
        .args(["--listen", "127.0.0.1:0", "--mode", "echo"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    let connected = std::net::TcpStream::connect_timeout(&addr, BOUND);
    child.kill().unwrap();
    child.wait().unwrap();
    connected.unwrap();
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn connect_with(options: TestServerOptions) -> (TestServer, TcpStream) {
    let server = TestServer::start_with(options).await.unwrap();
    let sock = TcpStream::connect(server.local_addr()).await.unwrap();
    (server, sock)
}

/// Reads one whole frame (length field included).
async fn read_frame(sock: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    sock.read_exact(&mut head).await?;
    let mut frame = head.to_vec();
    frame.resize(4 + u32::from_be_bytes(head) as usize, 0);
    sock.read_exact(&mut frame[4..]).await?;
    Ok(frame)
}

/// Reads until the server closes (end-of-stream or a reset); returns the
/// bytes that came first.
async fn read_until_closed(sock: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn options_default_to_echo_with_the_npm_servers_timers() {
    let expected = TestServerOptions {
        mode: Mode::Echo,
        idle_timeout: Some(Duration::from_secs(60)),
        stuck: Some(Duration::from_secs(30)),
        close_every: None,
    };
    assert_eq!(TestServerOptions::default(), expected);
    assert_eq!(
        TestServerOptions::new(Mode::Stall),
        TestServerOptions {
            mode: Mode::Stall,
            ..expected
        }
    );
}

#[tokio::test]
async fn stall_mode_answers_with_the_echo_after_stuck_ms() {
    let (_s, mut sock) = connect_with(TestServerOptions {
        stuck: Some(ms(200)),
        ..TestServerOptions::new(Mode::Stall)
    })
    .await;
    let req = request(4, b"late");
    let start = Instant::now();
    sock.write_all(&req).await.unwrap();
    let got = timeout(BOUND, read_frame(&mut sock))
        .await
        .unwrap()
        .unwrap();
    let waited = start.elapsed();
    assert_eq!(got, req);
    assert!(waited >= ms(200) && waited <= ms(1200), "{waited:?}");
}

#[tokio::test]
async fn stall_mode_counts_stuck_ms_from_each_requests_arrival() {
    let (_s, mut sock) = connect_with(TestServerOptions {
        stuck: Some(ms(200)),
        ..TestServerOptions::new(Mode::Stall)
    })
    .await;
    let start = Instant::now();
    sock.write_all(&request(1, b"a")).await.unwrap();
    tokio::time::sleep(ms(100)).await;
    sock.write_all(&request(2, b"b")).await.unwrap();
    let first = timeout(BOUND, read_frame(&mut sock)).await.unwrap();
    let first_at = start.elapsed();
    let second = timeout(BOUND, read_frame(&mut sock)).await.unwrap();
    let second_at = start.elapsed();
    assert_eq!(first.unwrap(), request(1, b"a"));
    assert_eq!(second.unwrap(), request(2, b"b"));
    assert!(first_at >= ms(200), "{first_at:?}");
    assert!(second_at >= ms(300), "{second_at:?}");
}

#[test]
fn testserver_binary_stall_mode_answers_after_stuck_ms() {
    let (_server, addr) = spawn_testserver(&["--mode", "stall", "--stuck-ms", "200"]);
    let mut sock = std::net::TcpStream::connect_timeout(&addr, BOUND).unwrap();
    sock.set_read_timeout(Some(BOUND)).unwrap();
    let req = request(9, b"from the binary");
    let start = Instant::now();
    sock.write_all(&req).unwrap();
    let mut got = vec![0u8; req.len()];
    sock.read_exact(&mut got).unwrap();
    let waited = start.elapsed();
    assert_eq!(got, req);
    assert!(waited >= ms(200) && waited <= ms(1200), "{waited:?}");
}

#[test]
fn testserver_binary_refuses_close_every_ms_0() {
    let status = Command::new(env!("CARGO_BIN_EXE_framing-testserver"))
        .args(["--close-every-ms", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
}

#[tokio::test]
async fn stall_partial_mode_finishes_the_frame_after_stuck_ms() {
    let (_s, mut sock) = connect_with(TestServerOptions {
        stuck: Some(ms(200)),
        ..TestServerOptions::new(Mode::StallPartial)
    })
    .await;
    let req = request(3, b"0123456789");
    let start = Instant::now();
    sock.write_all(&req).await.unwrap();
    let mut half = vec![0u8; req.len() / 2];
    timeout(BOUND, sock.read_exact(&mut half))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(half, req[..req.len() / 2]);
    let mut rest = vec![0u8; req.len() - half.len()];
    timeout(BOUND, sock.read_exact(&mut rest))
        .await
        .unwrap()
        .unwrap();
    let waited = start.elapsed();
    assert_eq!([half, rest].concat(), req);
    assert!(waited >= ms(200) && waited <= ms(1200), "{waited:?}");
}

#[tokio::test]
async fn stall_partial_mode_sends_one_frame_at_a_time() {
    let (_s, mut sock) = connect_with(TestServerOptions {
        stuck: Some(ms(150)),
        ..TestServerOptions::new(Mode::StallPartial)
    })
    .await;
    let start = Instant::now();
    sock.write_all(&[request(1, b"first"), request(2, b"second")].concat())
        .await
        .unwrap();
    let first = timeout(BOUND, read_frame(&mut sock)).await.unwrap();
    let second = timeout(BOUND, read_frame(&mut sock)).await.unwrap();
    let waited = start.elapsed();
    assert_eq!(first.unwrap(), request(1, b"first"));
    assert_eq!(second.unwrap(), request(2, b"second"));
    // The second answer started only once the first was whole.
    assert!(waited >= ms(300), "{waited:?}");
}

#[tokio::test]
async fn idle_timeout_closes_a_silent_connection() {
    let start = Instant::now();
    let (_s, mut sock) = connect_with(TestServerOptions {
        idle_timeout: Some(ms(300)),
        ..TestServerOptions::new(Mode::Echo)
    })
    .await;
    let mut buf = [0u8; 16];
    let read = timeout(ms(1000), sock.read(&mut buf)).await;
    let waited = start.elapsed();
    assert_eq!(read.unwrap().unwrap(), 0, "end-of-stream");
    assert!(waited >= ms(300), "{waited:?}");
}

#[tokio::test]
async fn idle_timeout_spares_a_connection_that_sends_every_100_ms() {
    let (_s, mut sock) = connect_with(TestServerOptions {
        idle_timeout: Some(ms(300)),
        ..TestServerOptions::new(Mode::Echo)
    })
    .await;
    for id in 0..10 {
        tokio::time::sleep(ms(100)).await;
        let req = request(id, b"still here");
        sock.write_all(&req).await.unwrap();
        let got = timeout(BOUND, read_frame(&mut sock)).await.unwrap();
        assert_eq!(got.unwrap(), req, "call {id}");
    }
    // Once silent, it goes.
    let mut buf = [0u8; 16];
    let read = timeout(ms(1000), sock.read(&mut buf)).await;
    assert_eq!(read.unwrap().unwrap(), 0, "end-of-stream");
}

#[tokio::test]
async fn idle_timeout_counts_writes_as_traffic() {
    // The answer leaves 300 ms after the request and starts the 400 ms
    // wait anew: the close comes at 700 ms, not at 400.
    let (_s, mut sock) = connect_with(TestServerOptions {
        idle_timeout: Some(ms(400)),
        stuck: Some(ms(300)),
        ..TestServerOptions::new(Mode::Stall)
    })
    .await;
    let req = request(1, b"slow");
    let start = Instant::now();
    sock.write_all(&req).await.unwrap();
    let got = timeout(BOUND, read_frame(&mut sock)).await.unwrap();
    assert_eq!(got.unwrap(), req);
    let rest = timeout(BOUND, read_until_closed(&mut sock)).await.unwrap();
    let closed_at = start.elapsed();
    assert!(rest.is_empty());
    assert!(closed_at >= ms(700), "{closed_at:?}");
}

#[tokio::test]
async fn close_every_closes_one_of_three_connections_within_a_second() {
    let server = TestServer::start_with(TestServerOptions {
        close_every: Some(ms(100)),
        ..TestServerOptions::new(Mode::Echo)
    })
    .await
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..3 {
        let mut sock = TcpStream::connect(server.local_addr()).await.unwrap();
        let tx = tx.clone();
        tokio::spawn(async move {
            read_until_closed(&mut sock).await;
            let _ = tx.send(i);
        });
    }
    let closed = timeout(ms(1000), rx.recv()).await;
    assert!(matches!(closed, Ok(Some(_))), "{closed:?}");
}

#[tokio::test]
async fn close_every_closes_between_whole_frames() {
    let (_s, mut sock) = connect_with(TestServerOptions {
        close_every: Some(ms(100)),
        ..TestServerOptions::new(Mode::Echo)
    })
    .await;
    let payload = vec![0xA5u8; 64 * 1024];
    let closed = timeout(BOUND, async {
        for id in 0.. {
            let req = request(id, &payload);
            if sock.write_all(&req).await.is_err() {
                return;
            }
            // A whole answer, or nothing before the close.
            let mut got = Vec::new();
            let mut buf = vec![0u8; 16 * 1024];
            while got.len() < req.len() {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        assert!(got.is_empty(), "cut after {} bytes", got.len());
                        return;
                    }
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            assert_eq!(got, req);
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection was never closed");
}

#[tokio::test]
async fn echo_mode_answers_a_large_request_sent_in_pieces() {
    let (_s, mut sock) = connect(Mode::Echo).await;
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let req = request(77, &payload);
    let (mut rd, mut wr) = sock.split();
    let write = async {
        for piece in req.chunks(100_000) {
            wr.write_all(piece).await.unwrap();
            tokio::time::sleep(ms(5)).await;
        }
    };
    let read = async {
        let mut got = vec![0u8; req.len()];
        rd.read_exact(&mut got).await.unwrap();
        got
    };
    let ((), got) = timeout(BOUND, async { tokio::join!(write, read) })
        .await
        .unwrap();
    assert!(got == req, "the echo differs");
}

#[tokio::test]
async fn a_request_longer_than_8_mib_ends_the_connection() {
    let (_s, mut sock) = connect(Mode::Echo).await;
    let too_long = (MAX_REQUEST as u32 + 1).to_be_bytes();
    sock.write_all(&[&too_long[..], &[0, 0, 0, 1]].concat())
        .await
        .unwrap();
    let rest = timeout(BOUND, read_until_closed(&mut sock)).await.unwrap();
    assert!(rest.is_empty());
}

/// The server's decoder ([`RequestBuffer`], what each connection reads
/// with), fed over loopback by a peer that declares 8 MiB and sends 8
/// bytes, holds kilobytes.
#[tokio::test]
async fn a_declared_8_mib_request_with_8_bytes_sent_holds_no_megabytes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut peer = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (mut conn, _) = listener.accept().await.unwrap();
    let mut head = (MAX_REQUEST as u32).to_be_bytes().to_vec();
    head.extend_from_slice(&5u32.to_be_bytes());
    peer.write_all(&head).await.unwrap();

    let mut buf = RequestBuffer::new();
    while buf.len() < 8 {
        let n = timeout(BOUND, buf.read_from(&mut conn))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(n, 0);
    }
    assert!(buf.next_request().unwrap().is_none());
    assert_eq!(buf.len(), 8);
    assert!(
        buf.capacity() <= 2 * RequestBuffer::CHUNK,
        "capacity {}",
        buf.capacity()
    );
}

#[tokio::test]
async fn request_buffer_grows_only_with_the_bytes_that_arrive() {
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i % 253) as u8).collect();
    let req = request(42, &payload);
    let mut buf = RequestBuffer::new();
    for mut piece in req.chunks(100_000) {
        while buf.read_from(&mut piece).await.unwrap() > 0 {}
        let bound = 2 * (buf.len() + RequestBuffer::CHUNK);
        assert!(
            buf.capacity() <= bound,
            "capacity {} holding {}",
            buf.capacity(),
            buf.len()
        );
        if buf.len() < req.len() {
            assert!(buf.next_request().unwrap().is_none());
        }
    }
    let (id, got) = buf.next_request().unwrap().unwrap();
    assert_eq!(id, 42);
    assert!(got == payload, "the payload differs");
    assert!(buf.is_empty());
}

#[tokio::test]
async fn request_buffer_refuses_lengths_outside_4_to_8_mib() {
    for len in [0u32, 3, MAX_REQUEST as u32 + 1, u32::MAX] {
        let mut buf = RequestBuffer::new();
        let bytes = [&len.to_be_bytes()[..], &[0, 0, 0, 1]].concat();
        buf.read_from(&mut &bytes[..]).await.unwrap();
        let err = buf.next_request().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "length {len}");
    }
    let mut buf = RequestBuffer::new();
    buf.read_from(&mut &[0, 0, 0, 4, 0, 0, 0, 9][..])
        .await
        .unwrap();
    let (id, payload) = buf.next_request().unwrap().unwrap();
    assert_eq!((id, payload.len()), (9, 0));
}
