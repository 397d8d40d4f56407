//! Streams other than plain TCP, through `Client::from_stream` and
//! `Server::serve_stream`: a Unix socket pair, TLS over loopback TCP, and
//! an in-memory stream that keeps one waker for both of its sides.

use framing_driver::{Bytes, Client, Config, DisconnectReason, EventKind, Server, WrapStream};
use futures_util::future::join_all;

use crate::memory::{one_slot_pair, OneSlotStream};
use crate::util::{config, next_event, within, WAIT};
use crate::TestRuntime;

/// `Client::from_stream` and `Server::serve_stream` over a Unix socket
/// pair: calls round trip, events carry no address, and the client sees
/// the server go away.
#[cfg(unix)]
pub async fn a_client_and_server_work_over_a_unix_socket_pair<R>()
where
    R: TestRuntime + framing_driver::WrapStream<<R as TestRuntime>::UnixStream>,
{
    let (client_end, server_end) = R::unix_pair().expect("a unix socket pair");
    let server = Server::<R>::serve_stream(
        server_end,
        Config::default(),
        |req: Bytes| async move { req },
    );
    let client = Client::<R>::from_stream(client_end, Config::default());
    assert_eq!(client.peer_addr(), None);
    let mut events = client.events();

    let calls: Vec<_> = (0..100).map(|i| client.call(format!("unix {i}"))).collect();
    let results = within::<R, _>(WAIT, "the answers", join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result, Ok(Bytes::from(format!("unix {i}"))), "call {i}");
    }

    within::<R, _>(WAIT, "the server's shutdown", server.shutdown(WAIT)).await;
    let ev = next_event::<R>(&mut events, "Disconnected").await;
    assert_eq!(ev.peer, None);
    assert_eq!(
        ev.kind,
        EventKind::Disconnected {
            last_error: DisconnectReason::PeerClosed
        }
    );
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
    let server = Server::<R>::serve_stream(
        server_end,
        Config::default(),
        |req: Bytes| async move { req },
    );
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

    let mut rng = fastrand::Rng::with_seed(11);
    let payloads: Vec<Bytes> = (0..200)
        .map(|i| {
            let len = rng.usize(0..=64 << 10);
            Bytes::from(vec![(i % 251) as u8; len])
        })
        .collect();
    let calls: Vec<_> = payloads.iter().map(|p| client.call(p.clone())).collect();
    let results = within::<R, _>(WAIT, "every answer", join_all(calls)).await;
    for (i, (result, sent)) in results.into_iter().zip(&payloads).enumerate() {
        match result {
            Ok(answer) => assert!(answer == *sent, "call {i}: wrong answer"),
            Err(e) => panic!("call {i}: {e:?}"),
        }
    }

    within::<R, _>(WAIT, "the server's shutdown", server.shutdown(WAIT)).await;
    let ev = next_event::<R>(&mut events, "Disconnected").await;
    assert_eq!(ev.peer, None);
    assert_eq!(
        ev.kind,
        EventKind::Disconnected {
            last_error: DisconnectReason::PeerClosed
        }
    );
}

/// Over a stream that keeps one waker per end for reading and writing
/// together (the last side to return `Pending` owns it), with 1 KiB of
/// buffer per direction so that both sides of both ends wait often, 500
/// calls of 0 to 8 KiB in flight at once are all answered right: the
/// driver never skips a side because it guessed which side a wake-up was
/// for.
pub async fn a_stream_with_one_waker_for_both_sides_carries_every_call<R>()
where
    R: TestRuntime + WrapStream<OneSlotStream>,
{
    let (client_end, server_end) = one_slot_pair(1024);
    let server = Server::<R>::serve_stream(
        server_end,
        Config::default(),
        |req: Bytes| async move { req },
    );
    // 500 calls of up to 8 KiB may all be queued at once: lift the 1 MiB
    // default so none is refused with `BufferFull`.
    let client = Client::<R>::from_stream(
        client_end,
        config(framing_core::Config::builder().max_buffer_bytes(16 << 20)),
    );

    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..2 {
        let payloads: Vec<Bytes> = (0..500)
            .map(|i| {
                let len = rng.usize(0..=8192);
                Bytes::from(vec![(i % 251) as u8; len])
            })
            .collect();
        let calls: Vec<_> = payloads.iter().map(|p| client.call(p.clone())).collect();
        let results = within::<R, _>(WAIT, "every answer", join_all(calls)).await;
        for (i, (result, sent)) in results.into_iter().zip(&payloads).enumerate() {
            match result {
                Ok(answer) => assert!(answer == *sent, "round {round}, call {i}: wrong answer"),
                Err(e) => panic!("round {round}, call {i}: {e:?}"),
            }
        }
    }
    let stats = client.stats().await.expect("the connection is open");
    assert_eq!(stats.responses, 1000);
    client.close();
    within::<R, _>(WAIT, "the server's shutdown", server.shutdown(WAIT)).await;
}
