//! Frame formats other than the default, end to end: little-endian
//! fields, a 2-byte length, no id (FIFO matching), and a custom
//! [`HeaderFormat`].
//!
//! Each test checks a codec twice over loopback TCP:
//!
//! - on the wire: the client's requests, byte for byte as written out by
//!   hand here, to a scripted [`Peer`] that answers with frames also
//!   written by hand (two ends sharing a wrong codec would still agree
//!   with each other);
//! - between a framing client and a framing server both using it: many
//!   calls in flight, answered out of order where frames carry ids and in
//!   request order where they do not, each call getting its own payload;
//!   the largest payload the codec allows round trips and one byte more
//!   is refused with `FrameTooLarge`.

use std::time::Duration;

use framing_core::{EncodeError, FrameHeader, HeaderFormat, ProtocolError};
use framing_driver::{Bytes, CallError, Codec, Endian, RpcId};
use futures_util::future::join_all;

use crate::peer::Peer;
use crate::util::{
    config, connect_with, delayed_calls_in_flight, position, serve, sleep, within, WAIT,
};
use crate::TestRuntime;

/// Calls in flight at once in the end-to-end half.
const CALLS: usize = 300;
/// Requests the raw client of the FIFO test pipelines; request `i`'s
/// handler waits `PIPELINED - 1 - i` ms.
const PIPELINED: u8 = 50;
/// The maximum frame length of the codecs that would otherwise allow
/// 8 MiB frames, so that the largest payload is quick to send.
const SMALL_MAX_FRAME: u64 = 64 * 1024;

/// One exchange on a codec's wire: the calls the client makes, the bytes
/// they must put on the wire, the frames the peer answers with, and what
/// each call must return.
struct Wire {
    /// Each call: the caller's id (`None`: the client picks, or the
    /// format has no id) and its payload.
    calls: Vec<(Option<u64>, &'static [u8])>,
    /// Every request frame, in order.
    requests: Vec<u8>,
    /// Every response frame, in order.
    responses: Vec<u8>,
    /// Each call's answer.
    answers: Vec<&'static [u8]>,
}

/// A frame: its header bytes then its payload.
fn frame(header: &[u8], payload: &[u8]) -> Vec<u8> {
    [header, payload].concat()
}

/// Checks both halves (see the module doc) for `codec`.
async fn check_codec<R: TestRuntime>(codec: Codec, wire: Wire) {
    check_wire::<R>(&codec, wire).await;
    check_calls_in_flight::<R>(&codec).await;
    check_largest_payload::<R>(&codec).await;
}

/// The client writes exactly `wire.requests` and matches `wire.responses`
/// to its calls.
async fn check_wire<R: TestRuntime>(codec: &Codec, wire: Wire) {
    let Wire {
        calls,
        requests,
        responses,
        answers,
    } = wire;
    let peer = Peer::spawn(move |conn| {
        let got = conn.read_raw(requests.len())?;
        if got != requests {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the client wrote {got:02x?}, expected {requests:02x?}"),
            ));
        }
        conn.write_raw(&responses)?;
        conn.expect_eof()
    })
    .expect("peer");
    let client = connect_with::<R>(
        peer.addr(),
        config(framing_core::Config::builder().codec(codec.clone())),
    )
    .await;
    let futures: Vec<_> = calls
        .iter()
        .map(|&(id, payload)| match id {
            Some(id) => client.call_with_id(RpcId(id), payload),
            None => client.call(payload),
        })
        .collect();
    let results = within::<R, _>(WAIT, "the peer's answers", join_all(futures)).await;
    client.close();
    // The peer's verdict on the request bytes first: it explains a failed
    // call better than the failure does.
    peer.finished::<R>().await;
    for (i, (result, answer)) in results.into_iter().zip(answers).enumerate() {
        assert_eq!(result, Ok(Bytes::from_static(answer)), "call {i}");
    }
}

/// A framing server and client with `codec`; the server's handler waits
/// the first payload byte in milliseconds. [`CALLS`] calls in flight at
/// once, the first the slowest and the last the fastest: each gets its
/// own payload, and with ids the last completes before the first.
/// (Without ids, each call getting its own payload is the proof of order:
/// FIFO matching pairs the n-th answer with the n-th call.)
async fn check_calls_in_flight<R: TestRuntime>(codec: &Codec) {
    let core = || framing_core::Config::builder().codec(codec.clone());
    let (_server, addr) = serve::<R, _, _>(config(core()), |req: Bytes| async move {
        sleep::<R>(Duration::from_millis(u64::from(req[0]))).await;
        req
    });
    let client = connect_with::<R>(addr, config(core())).await;

    let order = delayed_calls_in_flight(&client, CALLS, 17, 150, 50).await;
    if codec.has_ids() {
        assert!(
            position(&order, CALLS - 1) < position(&order, 0),
            "with ids, the fastest call (sent last) completes before the slowest \
             (sent first): {order:?}"
        );
    }
    client.close();
}

/// The largest payload `codec` allows round trips between a framing
/// client and server; one byte more is refused at once.
async fn check_largest_payload<R: TestRuntime>(codec: &Codec) {
    let core = || framing_core::Config::builder().codec(codec.clone());
    let (_server, addr) = serve::<R, _, _>(config(core()), |req: Bytes| async move { req });
    let client = connect_with::<R>(addr, config(core())).await;
    let max = codec.max_payload_len();
    // First byte 0: no delay, as in the other half's handler.
    let largest = Bytes::from(vec![0u8; max]);
    let answer = within::<R, _>(WAIT, "the largest payload", client.call(largest.clone())).await;
    match answer {
        Ok(echo) => assert!(
            echo == largest,
            "a payload of {max} bytes came back changed"
        ),
        Err(e) => panic!("a payload of {max} bytes, the codec's largest: {e:?}"),
    }
    let over = within::<R, _>(WAIT, "a refusal", client.call(vec![0u8; max + 1])).await;
    assert!(
        matches!(over, Err(CallError::FrameTooLarge { .. })),
        "a payload of {} bytes, one more than the codec allows: {over:?}",
        max + 1
    );
    client.close();
}

/// Little-endian length and id fields (4 bytes each, the length counting
/// id and payload): on the wire and between framing ends.
pub async fn a_little_endian_codec_carries_calls_between_client_and_server<R: TestRuntime>() {
    let codec = Codec::builder()
        .length_endian(Endian::Little)
        .id_endian(Endian::Little)
        .max_frame_length(SMALL_MAX_FRAME)
        .build()
        .expect("a valid codec");
    let header = [7, 0, 0, 0, 0x0d, 0x0c, 0x0b, 0x0a];
    let wire = Wire {
        calls: vec![(Some(0x0a0b_0c0d), b"abc")],
        requests: frame(&header, b"abc"),
        responses: frame(&header, b"xyz"),
        answers: vec![b"xyz"],
    };
    check_codec::<R>(codec, wire).await;
}

/// A 2-byte length field (big-endian, signed: payloads up to 32,763
/// bytes with the 4-byte id): on the wire and between framing ends.
pub async fn a_two_byte_length_codec_carries_calls_between_client_and_server<R: TestRuntime>() {
    let codec = Codec::builder()
        .length_field_len(2)
        .build()
        .expect("a valid codec");
    assert_eq!(codec.max_payload_len(), 0x7fff - 4);
    let header = [0, 7, 0x0a, 0x0b, 0x0c, 0x0d];
    let wire = Wire {
        calls: vec![(Some(0x0a0b_0c0d), b"abc")],
        requests: frame(&header, b"abc"),
        responses: frame(&header, b"xyz"),
        answers: vec![b"xyz"],
    };
    check_codec::<R>(codec, wire).await;
}

/// No id field: frames are a length and a payload, the server answers in
/// request order whatever order its handlers finish in (read on the wire
/// by a raw client), and the client matches answers to calls in order
/// (FIFO, as Redis or HTTP/1.1 pipelining). A caller cannot choose an id.
pub async fn a_codec_without_ids_answers_calls_in_request_order<R: TestRuntime>() {
    let codec = Codec::builder()
        .id_field_len(0)
        .max_frame_length(SMALL_MAX_FRAME)
        .build()
        .expect("a valid codec");
    let wire = Wire {
        calls: vec![(None, b"abc"), (None, b"de")],
        requests: [frame(&[0, 0, 0, 3], b"abc"), frame(&[0, 0, 0, 2], b"de")].concat(),
        responses: [frame(&[0, 0, 0, 1], b"1"), frame(&[0, 0, 0, 2], b"22")].concat(),
        answers: vec![b"1", b"22"],
    };
    check_codec::<R>(codec.clone(), wire).await;

    let core = || framing_core::Config::builder().codec(codec.clone());
    let (_server, addr) = serve::<R, _, _>(config(core()), |req: Bytes| async move {
        sleep::<R>(Duration::from_millis(u64::from(req[0]))).await;
        req
    });
    let client = connect_with::<R>(addr, config(core())).await;
    let chosen = within::<R, _>(WAIT, "a refusal", client.call_with_id(RpcId(1), "x")).await;
    assert_eq!(chosen, Err(CallError::IdsNotSupported));
    client.close();

    // A raw client pipelines requests whose handlers finish in reverse
    // order (the first waits longest); the answers, echoes, come back in
    // request order, byte for byte.
    let requests: Vec<Vec<u8>> = (0..PIPELINED)
        .map(|i| frame(&[0, 0, 0, 2], &[PIPELINED - 1 - i, i]))
        .collect();
    let raw = Peer::connect(addr, move |conn| {
        conn.write_raw(&requests.concat())?;
        for (i, request) in requests.iter().enumerate() {
            let answer = conn.read_raw(request.len())?;
            if answer != *request {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "answer {i} is {answer:02x?}, the echo of request {i} is {request:02x?}"
                    ),
                ));
            }
        }
        Ok(())
    })
    .expect("a raw client");
    raw.finished::<R>().await;
}

/// A custom header: a 2-byte little-endian payload length, then an 8-byte
/// little-endian id.
#[derive(Debug)]
struct ShortLengthLongId;

impl ShortLengthLongId {
    const LEN: usize = 10;
}

impl HeaderFormat for ShortLengthLongId {
    fn max_id(&self) -> Option<u64> {
        Some(u64::MAX)
    }

    fn max_payload_len(&self) -> usize {
        usize::from(u16::MAX)
    }

    fn decode(&self, buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
        let Some(header) = buf.get(..Self::LEN) else {
            return Ok(None);
        };
        let mut id = [0u8; 8];
        id.copy_from_slice(&header[2..]);
        Ok(Some(FrameHeader {
            header_len: Self::LEN,
            payload_len: usize::from(u16::from_le_bytes([header[0], header[1]])),
            id: RpcId(u64::from_le_bytes(id)),
        }))
    }

    fn encode(&self, id: RpcId, payload_len: usize, out: &mut [u8]) -> Result<usize, EncodeError> {
        let len = u16::try_from(payload_len).map_err(|_| EncodeError::FrameTooLarge {
            length: payload_len as u64,
            max: u64::from(u16::MAX),
        })?;
        out[..2].copy_from_slice(&len.to_le_bytes());
        out[2..Self::LEN].copy_from_slice(&id.0.to_le_bytes());
        Ok(Self::LEN)
    }
}

/// A custom [`HeaderFormat`] (a 2-byte little-endian payload length, an
/// 8-byte little-endian id) used by both client and server: on the wire,
/// with an id wider than 32 bits, and between framing ends, where a call
/// with an id using all 64 bits is answered too.
pub async fn a_custom_header_with_an_eight_byte_id_carries_calls_between_client_and_server<
    R: TestRuntime,
>() {
    const WIDE: u64 = 0x0102_0304_0506_0708;
    let header = [3, 0, 8, 7, 6, 5, 4, 3, 2, 1];
    let wire = Wire {
        calls: vec![(Some(WIDE), b"abc")],
        requests: frame(&header, b"abc"),
        responses: frame(&header, b"xyz"),
        answers: vec![b"xyz"],
    };
    check_codec::<R>(Codec::custom(ShortLengthLongId), wire).await;

    let core = || framing_core::Config::builder().codec(Codec::custom(ShortLengthLongId));
    let (_server, addr) = serve::<R, _, _>(config(core()), |req: Bytes| async move { req });
    let client = connect_with::<R>(addr, config(core())).await;
    let top = RpcId(0xfedc_ba98_7654_3210);
    let answer = within::<R, _>(WAIT, "an answer", client.call_with_id(top, "top")).await;
    assert_eq!(answer, Ok(Bytes::from_static(b"top")));
    client.close();
}
