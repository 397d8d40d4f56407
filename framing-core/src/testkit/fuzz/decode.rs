//! [`decode_any`]: raw peer bytes, split arbitrarily, into both cores.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::{Codec, Config, Connection, Event, RpcId};

use super::reader::{codec_from, Reader};

/// The largest frame the codec lets through, header included.
pub(super) fn frame_limit(codec: &Codec) -> usize {
    let header = codec
        .standard()
        .map_or(crate::MAX_HEADER_LEN, |h| h.header_len());
    header.saturating_add(codec.max_payload_len())
}

/// A deterministic generator for chunk sizes, so that the payload part of
/// the input stays one contiguous stream the fuzzer can mutate.
struct Chunks {
    state: u32,
    max: usize,
}

impl Chunks {
    fn next(&mut self) -> usize {
        // xorshift32; the state is never 0.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        1 + self.state as usize % self.max
    }
}

/// What a server core made of a byte stream: the frames, re-encoded, and
/// whether it failed.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    wire: Vec<u8>,
    frames: usize,
    failed: bool,
}

/// Raw peer bytes into a client and a server core under an arbitrary codec.
///
/// The first four bytes choose the codec ([`codec_from`]) and how the rest
/// is split into reads. Panics if: a core panics; the server's frames
/// differ from those of a core fed the same bytes in one read; the frames,
/// re-encoded, are not exactly the bytes read; a core keeps more than one
/// frame's worth of unframed bytes; or the read buffer grows far beyond
/// what actually arrived (a declared length must never be allocated).
pub fn decode_any(data: &[u8]) {
    let mut r = Reader::new(data);
    let codec = codec_from(&mut r);
    let split = r.u16();
    let read_chunk = 64 + 64 * usize::from(split >> 12);
    let config = Config::builder()
        .codec(codec.clone())
        .read_chunk(read_chunk)
        .idle_timeout(None)
        .strict_unknown_ids(split & 0x200 != 0)
        .build()
        .expect("defaults with a valid codec");
    let stream = r.rest();
    let mut chunks = Chunks {
        state: u32::from(split) | 1 << 16,
        max: match split & 0xff {
            0 => stream.len().max(1),
            n => usize::from(n),
        },
    };
    let lend = split & 0x100 != 0;

    let now = Duration::ZERO;
    let mut server: Connection<Duration> = Connection::server(config.clone(), now);
    let mut client: Connection<Duration, u32> = Connection::client(config.clone(), now);
    // Pending calls for the client, so that some responses match.
    for ctx in 0..4 {
        let _ = client.call(now, Bytes::from_static(b"q"), ctx);
    }
    while client.poll_event().is_some() {}

    let limit = frame_limit(&codec);
    let mut got = Decoded {
        wire: Vec::new(),
        frames: 0,
        failed: false,
    };
    // The most unframed bytes each core has held at once.
    let mut peak = [0usize; 2];
    let mut completed = 0;
    let mut rest = stream;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(chunks.next().min(rest.len()));
        rest = tail;
        peak[0] = peak[0].max(server.buffered_bytes() + chunk.len());
        peak[1] = peak[1].max(client.buffered_bytes() + chunk.len());
        feed(&mut server, chunk, lend);
        feed(&mut client, chunk, !lend);
        drain_decoded(&mut server, &codec, &mut got);
        while let Some(ev) = client.poll_event() {
            assert!(!matches!(ev, Event::Request { .. }), "request on a client");
            completed += usize::from(matches!(ev, Event::Completed { .. }));
        }
        assert!(completed <= 4, "more completions than calls");
        for (name, buffered, cap, peak) in [
            (
                "server",
                server.buffered_bytes(),
                server.read_buffer_capacity(),
                peak[0],
            ),
            (
                "client",
                client.buffered_bytes(),
                client.read_buffer_capacity(),
                peak[1],
            ),
        ] {
            assert!(
                buffered <= limit,
                "{name}: {buffered} unframed bytes, frames are at most {limit}"
            );
            // Growth may double what is held, and lending adds a chunk.
            let bound = 4 * (peak + read_chunk) + 4096;
            assert!(
                cap <= bound,
                "{name}: read buffer of {cap} bytes after at most {peak} held"
            );
        }
    }

    // The same bytes in one read give the same frames.
    let mut whole: Connection<Duration> = Connection::server(config, now);
    whole.handle_read(now, stream);
    let mut once = Decoded {
        wire: Vec::new(),
        frames: 0,
        failed: false,
    };
    drain_decoded(&mut whole, &codec, &mut once);
    assert_eq!(got, once, "frames depend on how the bytes were split");
    // Frames re-encode to exactly the bytes they came from.
    assert!(stream.starts_with(&got.wire), "re-encoded frames differ");
    if !got.failed {
        assert_eq!(
            got.wire.len() + server.buffered_bytes(),
            stream.len(),
            "bytes lost without an error"
        );
    } else {
        assert!(server.is_closed() && server.buffered_bytes() == 0);
    }
}

fn feed<C>(conn: &mut Connection<Duration, C>, mut chunk: &[u8], lend: bool) {
    if !lend {
        conn.handle_read(Duration::ZERO, chunk);
        return;
    }
    while !chunk.is_empty() {
        let room = conn.recv_buffer();
        assert!(!room.is_empty(), "recv_buffer lent no room");
        let n = room.len().min(chunk.len());
        room[..n].copy_from_slice(&chunk[..n]);
        conn.handle_received(Duration::ZERO, n);
        chunk = &chunk[n..];
    }
}

fn drain_decoded(conn: &mut Connection<Duration>, codec: &Codec, out: &mut Decoded) {
    while let Some(ev) = conn.poll_event() {
        match ev {
            Event::Request { id, payload } => {
                assert!(payload.len() <= codec.max_payload_len());
                let wire_id = if codec.has_ids() { id } else { RpcId(0) };
                let mut header = [0u8; crate::MAX_HEADER_LEN];
                let n = codec
                    .encode_header(wire_id, payload.len(), &mut header)
                    .expect("a decoded frame re-encodes");
                out.wire.extend_from_slice(&header[..n]);
                out.wire.extend_from_slice(&payload);
                out.frames += 1;
            }
            Event::ProtocolError(_) => {
                assert!(!out.failed, "two protocol errors");
                assert!(conn.is_closed(), "a protocol error left the core open");
                out.failed = true;
            }
            other => panic!("unexpected server event {other:?}"),
        }
    }
}
