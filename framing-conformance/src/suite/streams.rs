//! Streams other than plain TCP, through `Client::from_stream` and
//! `Server::serve_stream`: a Unix socket pair, TLS over loopback TCP, and
//! an in-memory stream that keeps one waker for both of its sides.

use framing_driver::{
    Bytes, Client, Config, DisconnectReason, EventKind, Events, Server, WrapStream,
};
use futures_util::future::join_all;

use crate::memory::{one_slot_pair, OneSlotStream};
use crate::util::{config, next_event, within, WAIT};
use crate::TestRuntime;

/// An echo server over one stream.
fn echo_over<R: TestRuntime + WrapStream<S>, S>(stream: S) -> Server<R> {
    Server::<R>::serve_stream(stream, Config::default(), |req: Bytes| async move { req })
}

/// `n` payloads of 0 to `max_len` bytes, the same for the same `seed`.
fn random_payloads(seed: u64, n: usize, max_len: usize) -> Vec<Bytes> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|i| Bytes::from(vec![(i % 251) as u8; rng.usize(0..=max_len)]))
        .collect()
}

/// Calls with every payload at once; each must come back as it went.
async fn expect_echoes<R: TestRuntime>(client: &Client<R>, payloads: &[Bytes]) {
    let calls: Vec<_> = payloads.iter().map(|p| client.call(p.clone())).collect();
    let results = within::<R, _>(WAIT, "every answer", join_all(calls)).await;
    for (i, (result, sent)) in results.into_iter().zip(payloads).enumerate() {
        match result {
            Ok(answer) => assert!(answer == *sent, "call {i}: wrong answer"),
            Err(e) => panic!("call {i}: {e:?}"),
        }
    }
}

/// Shuts the server down; the client sees it go away, with no address.
async fn expect_server_gone<R: TestRuntime>(server: Server<R>, events: &mut Events) {
    within::<R, _>(WAIT, "the server's shutdown", server.shutdown(WAIT)).await;
    let ev = next_event::<R>(events, "Disconnected").await;
    assert_eq!(ev.peer, None);
    assert_eq!(
        ev.kind,
        EventKind::Disconnected {
            last_error: DisconnectReason::PeerClosed
        }
    );
}

/// `Client::from_stream` and `Server::serve_stream` over a Unix socket
/// pair: calls round trip, events carry no address, and the client sees
/// the server go away.
#[cfg(unix)]
pub async fn a_client_and_server_work_over_a_unix_socket_pair<R>()
where
    R: TestRuntime + WrapStream<<R as TestRuntime>::UnixStream>,
{
    let (client_end, server_end) = R::unix_pair().expect("a unix socket pair");
    let server = echo_over::<R, _>(server_end);
    let client = Client::<R>::from_stream(client_end, Config::default());
    assert_eq!(client.peer_addr(), None);
    let mut events = client.events();

    let payloads: Vec<Bytes> = (0..100).map(|i| format!("unix {i}").into()).collect();
    expect_echoes(&client, &payloads).await;
    expect_server_gone(server, &mut events).await;
}

/// `Client::from_stream` and `Server::serve_stream` over TLS (rustls, its
/// handshake done on both ends first) over loopback TCP: 200 calls of 0 to
/// 64 KiB in flight at once are each answered with their own payload, and
/// the client sees the server go away.
pub async fn a_client_and_server_work_over_tls<R>()
where
    R: TestRuntime
        + WrapStream<<R as TestRuntime>::TlsClientStream>
        + WrapStream<<R as TestRuntime>::TlsServerStream>,
{
    let (client_end, server_end) = within::<R, _>(WAIT, "the TLS handshake", R::tls_pair())
        .await
        .expect("a TLS connection over loopback");
    let server = echo_over::<R, _>(server_end);
    // 200 calls of up to 64 KiB may all be queued at once: lift the 1 MiB
    // limit so none is refused with `BufferFull`, and the 512 KiB warning
    // with it so no `Pause` comes before the `Disconnected` checked below.
    let client = Client::<R>::from_stream(
        client_end,
        config(
            framing_core::Config::builder()
                .warn_buffer_bytes(16 << 20)
                .max_buffer_bytes(16 << 20),
        ),
    );
    assert_eq!(client.peer_addr(), None);
    let mut events = client.events();

    expect_echoes(&client, &random_payloads(11, 200, 64 << 10)).await;
    expect_server_gone(server, &mut events).await;
}

/// Over a stream that keeps one waker per end for reading and writing
/// together (the last side to return `Pending` owns it), with 1 KiB of
/// buffer per direction so that both sides of both ends wait often, 500
/// calls of 0 to 8 KiB in flight at once are all answered right, twice:
/// the driver never skips a side because it guessed which side a wake-up
/// was for.
pub async fn a_stream_with_one_waker_for_both_sides_carries_every_call<R>()
where
    R: TestRuntime + WrapStream<OneSlotStream>,
{
    let (client_end, server_end) = one_slot_pair(1024);
    let server = echo_over::<R, _>(server_end);
    // 500 calls of up to 8 KiB may all be queued at once: lift the 1 MiB
    // default so none is refused with `BufferFull`.
    let client = Client::<R>::from_stream(
        client_end,
        config(framing_core::Config::builder().max_buffer_bytes(16 << 20)),
    );

    for seed in [7, 8] {
        expect_echoes(&client, &random_payloads(seed, 500, 8192)).await;
    }
    let stats = client.stats();
    assert_eq!(stats.responses, 1000);
    client.close();
    within::<R, _>(WAIT, "the server's shutdown", server.shutdown(WAIT)).await;
}
