//! The server's side of misbehaving clients: its events, and the isolation
//! of one bad connection from the others.

use std::io::Write;

use framing_driver::{Bytes, DisconnectReason, EventKind, ProtocolError};

use crate::peer::{encode_frame, Peer};
use crate::util::{config, connect, echo_server, next_event, serve, within, WAIT};
use crate::TestRuntime;

/// A client sends a length above the maximum: the server raises
/// `ProtocolError` with that client's address and closes that connection;
/// another client on the same server is not affected.
pub async fn a_server_reports_a_bad_length_and_closes_only_that_connection<R: TestRuntime>() {
    let (server, addr) = echo_server::<R>();
    let mut events = server.events();
    let good = connect::<R>(addr).await;
    let answer = within::<R, _>(WAIT, "an answer", good.call("before")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"before")));

    let bad = Peer::connect(addr, |conn| {
        let mut header = 0x7fff_ffffu32.to_be_bytes().to_vec();
        header.extend_from_slice(&1u32.to_be_bytes());
        conn.write_raw(&header)?;
        conn.expect_eof()
    })
    .expect("raw client");
    let ev = next_event::<R>(&mut events, "the server's ProtocolError").await;
    assert_eq!(ev.peer, Some(bad.addr()));
    assert_eq!(
        ev.kind,
        EventKind::ProtocolError(ProtocolError::LengthTooLarge {
            length: 0x7fff_ffff,
            max: framing_core::DEFAULT_MAX_FRAME_LENGTH,
        })
    );
    bad.finished::<R>().await;

    let answer = within::<R, _>(WAIT, "an answer", good.call("after")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"after")));
}

/// A client sends half a request and closes: the server raises
/// `Disconnected` with `PeerClosedMidFrame` and that client's address.
pub async fn a_server_reports_a_client_closing_mid_frame<R: TestRuntime>() {
    let (server, addr) = echo_server::<R>();
    let mut events = server.events();
    let bad = Peer::connect(addr, |conn| {
        let mut partial = 104u32.to_be_bytes().to_vec();
        partial.extend_from_slice(&1u32.to_be_bytes());
        partial.extend_from_slice(&[0x55; 10]);
        conn.write_raw(&partial)?;
        conn.close_write()?;
        conn.expect_eof()
    })
    .expect("raw client");
    let ev = next_event::<R>(&mut events, "the server's Disconnected").await;
    assert_eq!(ev.peer, Some(bad.addr()));
    assert_eq!(
        ev.kind,
        EventKind::Disconnected {
            last_error: DisconnectReason::PeerClosedMidFrame { buffered: 18 }
        }
    );
    bad.finished::<R>().await;
}

/// A client that sends many requests and does not read the answers: the
/// server's unwritten answers pass `warn` (`Pause`, and the server stops
/// reading requests); once the client reads, `Resume`, and every request
/// is answered.
pub async fn a_server_pauses_for_a_client_that_stops_reading_then_resumes<R: TestRuntime>() {
    // More than loopback's socket buffers hold in both directions.
    const REQUESTS: u32 = 1024;
    const PAYLOAD: usize = 16 * 1024;
    const WARN: usize = 64 * 1024;
    let (server, addr) = serve::<R, _, _>(
        config(
            framing_core::Config::builder()
                .warn_buffer_bytes(WARN)
                .max_buffer_bytes(256 * 1024)
                .idle_timeout(None),
        ),
        |req: Bytes| async move { req },
    );
    let mut events = server.events();
    let client = Peer::connect(addr, |conn| {
        let mut writer = conn.try_clone_stream()?;
        let writing = std::thread::spawn(move || {
            for id in 0..REQUESTS {
                writer.write_all(&encode_frame(id, &[id as u8; PAYLOAD]))?;
            }
            Ok::<_, std::io::Error>(())
        });
        conn.wait_go()?;
        for id in 0..REQUESTS {
            let frame = conn.read_frame()?;
            if frame.id != id || frame.payload != [id as u8; PAYLOAD] {
                return Err(std::io::Error::other(format!(
                    "answer {id}: wrong frame (id {})",
                    frame.id
                )));
            }
        }
        writing
            .join()
            .map_err(|_| std::io::Error::other("the writer panicked"))?
    })
    .expect("raw client");

    let ev = next_event::<R>(&mut events, "the server's Pause").await;
    assert_eq!(ev.peer, Some(client.addr()));
    match ev.kind {
        EventKind::Pause { queued } => assert!(queued > WARN, "Pause at {queued} bytes"),
        other => panic!("expected Pause, got {other:?}"),
    }
    client.go();
    let ev = next_event::<R>(&mut events, "the server's Resume").await;
    assert_eq!(ev.kind, EventKind::Resume { queued: 0 });
    client.finished::<R>().await;
}
