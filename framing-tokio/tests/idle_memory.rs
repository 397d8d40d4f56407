//! What an idle connection costs, in heap bytes, on each side: 1,000
//! connections each exchange one small frame and stay open; the bytes the
//! process holds per connection (every allocation: the core's buffers, the
//! driver's task, channels and timers, tokio's registration) must stay
//! under 8 KiB. A busy connection grows its buffers and gives them back
//! once it is quiet again: after small reads, or at its idle timeout when
//! it falls silent.
//!
//! The counts come from a counting global allocator in this test binary,
//! so the tests in this file run one at a time (a lock), each measuring
//! only itself.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use framing_tokio::{Bytes, Client, Config, CoreConfig, Server};

#[global_allocator]
static HEAP: framing_heapcount::Counting = framing_heapcount::Counting;

/// One measurement at a time: the counter is process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

const CONNS: usize = 1_000;
/// The bound per idle connection, each side (issue 12: tokio-util's
/// `Framed` costs ~9 KiB of RSS per idle connection).
const IDLE_BOUND: isize = 8 * 1024;

/// A runtime with two worker threads, as a small server would run.
fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn live() -> isize {
    framing_heapcount::live()
}

/// The default frame: 4-byte length, 4-byte id, payload.
fn frame(id: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(4 + payload.len() as u32).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Waits until the live count stops moving (tasks settle after their last
/// I/O), for at most a second.
async fn settled() -> isize {
    let mut last = live();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = live();
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

#[test]
fn an_idle_server_connection_holds_under_8_kib() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rt = two_workers();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::serve(listener, |req: Bytes| async move { req });
        let addr = server.local_addr().unwrap();
        let request = frame(7, b"0123456789");
        // Plain blocking sockets on the client side: they allocate nothing.
        let exchange = move |n: usize| {
            std::thread::spawn(move || {
                let mut socks = Vec::with_capacity(n);
                for _ in 0..n {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    s.write_all(&frame(7, b"0123456789")).unwrap();
                    let mut answer = [0u8; 18];
                    s.read_exact(&mut answer).unwrap();
                    socks.push(s);
                }
                socks
            })
        };
        // Warm up the runtime's own structures with a first batch.
        let warm = tokio::task::spawn_blocking(move || exchange(16).join().unwrap())
            .await
            .unwrap();
        let before = settled().await;
        let socks = tokio::task::spawn_blocking(move || exchange(CONNS).join().unwrap())
            .await
            .unwrap();
        let after = settled().await;
        let per_conn = (after - before) / CONNS as isize;
        println!("server: {per_conn} bytes per idle connection ({CONNS} connections)");
        assert_eq!(server.stats().active as usize, CONNS + warm.len());
        assert!(
            per_conn <= IDLE_BOUND,
            "{per_conn} bytes per idle server connection > {IDLE_BOUND}"
        );
        drop((socks, warm, request));
        server.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn an_idle_client_connection_holds_under_8_kib() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // A blocking echo peer on its own thread: one small answer per
    // connection, then it keeps the socket.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let mut socks = Vec::with_capacity(CONNS + 16);
        for _ in 0..CONNS + 16 {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut req = [0u8; 18];
            s.read_exact(&mut req).unwrap();
            s.write_all(&req).unwrap();
            socks.push(s);
        }
        socks
    });
    let rt = two_workers();
    rt.block_on(async {
        let mut warm = Vec::new();
        for _ in 0..16 {
            let c = Client::connect(addr).await.unwrap();
            c.call("0123456789").await.unwrap();
            warm.push(c);
        }
        let before = settled().await;
        let mut clients = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            let c = Client::connect(addr).await.unwrap();
            assert_eq!(&c.call("0123456789").await.unwrap()[..], b"0123456789");
            clients.push(c);
        }
        let after = settled().await;
        let per_conn = (after - before) / CONNS as isize;
        println!("client: {per_conn} bytes per idle connection ({CONNS} connections)");
        assert!(
            per_conn <= IDLE_BOUND,
            "{per_conn} bytes per idle client connection > {IDLE_BOUND}"
        );
        for c in clients.iter().chain(&warm) {
            c.close();
        }
    });
    drop(peer.join().unwrap());
}

/// A burst: 64 calls of 16 KiB in flight at once, both ways. Returns the
/// highest live heap seen while the answers came.
async fn burst(client: &Client) -> isize {
    let big = Bytes::from(vec![7u8; 16 * 1024]);
    let mut peak = live();
    let calls: Vec<_> = (0..64).map(|_| client.call(big.clone())).collect();
    for call in calls {
        assert_eq!(call.await.unwrap().len(), big.len());
        peak = peak.max(live());
    }
    peak
}

/// After a burst, the heap is back within 16 KiB of where it was idle.
fn assert_given_back(idle: isize, after: isize, when: &str) {
    assert!(
        after - idle < 16 * 1024,
        "the buffers should be given back {when}: {} B above idle",
        after - idle
    );
}

#[test]
fn a_busy_connection_grows_its_buffers_and_gives_them_back_when_quiet() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // One thread: the drivers' shared read buffer (one per thread) is made
    // by the warm-up call, not counted against the burst.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::serve(listener, |req: Bytes| async move { req });
        let client = Client::connect(server.local_addr().unwrap()).await.unwrap();
        client.call("warm").await.unwrap();
        let idle = settled().await;
        let peak = burst(&client).await.max(idle);
        // Quiet again: a few small exchanges let the buffers shrink back.
        for _ in 0..16 {
            client.call("small").await.unwrap();
        }
        let after = settled().await;
        println!("idle {idle} B, peak {peak} B, after the burst {after} B");
        assert!(
            peak - idle > 128 * 1024,
            "the burst should have grown the buffers: {} B",
            peak - idle
        );
        assert_given_back(idle, after, "after small reads");
        client.close();
        server.shutdown(Duration::from_secs(1)).await;
    });
}

#[test]
fn a_connection_silent_after_a_burst_gives_its_buffers_back_at_its_idle_timeout() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let idle_timeout = Duration::from_millis(300);
        let config = Config::builder()
            .core(
                CoreConfig::builder()
                    .idle_timeout(Some(idle_timeout))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::serve_with(listener, config.clone(), |req: Bytes| async move { req });
        let addr = server.local_addr().unwrap();
        let client = Client::connect_with(addr, config).await.unwrap();
        client.call("warm").await.unwrap();
        let idle = settled().await;
        burst(&client).await;
        // Nothing more is sent: no small read can shrink the room.
        let just_after = settled().await;
        tokio::time::sleep(idle_timeout * 2).await;
        let after = settled().await;
        println!(
            "idle {idle} B, just after the burst {just_after} B, after the idle timeout {after} B"
        );
        assert!(
            just_after - idle > 64 * 1024,
            "the burst should have left its rooms until the idle timeout: {} B",
            just_after - idle
        );
        assert_given_back(idle, after, "at the idle timeout");
        client.close();
        server.shutdown(Duration::from_secs(1)).await;
    });
}
