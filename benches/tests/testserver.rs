//! The fault-injecting test server over loopback: its modes, its options
//! and its binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use framing_benches::testserver::{Mode, TestServer, UNKNOWN_ID_OFFSET};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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
