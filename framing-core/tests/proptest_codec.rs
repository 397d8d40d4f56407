//! Property tests of the wire format over every codec configuration:
//! (a) any chunking of the byte stream gives the same frames as one big
//! chunk, and (b) what one core encodes, the other decodes to the same ids
//! and payloads, in both directions.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use framing_core::testkit::pair::Chunker;
use framing_core::testkit::strategies::{chunk_sizes, codec, payload_for, rpc_id_for};
use framing_core::testkit::{peek_transmit, take_transmit};
use framing_core::{CallOptions, Codec, Config, Connection, Event, RpcId, MAX_HEADER_LEN};
use proptest::collection::vec;
use proptest::prelude::*;

const T0: Duration = Duration::ZERO;

fn config(codec: &Codec) -> Config {
    Config::builder().codec(codec.clone()).build().unwrap()
}

/// Feeds `wire` to `conn` in the pieces `chunker` cuts, each piece through
/// `handle_read` or, where `lend` says so, through the lent buffer.
fn feed<C>(conn: &mut Connection<Duration, C>, wire: &[u8], chunker: &mut Chunker, lend: &[bool]) {
    for (i, piece) in chunker.split(wire).into_iter().enumerate() {
        if lend.get(i % lend.len().max(1)).copied().unwrap_or(false) {
            let mut rest = piece;
            while !rest.is_empty() {
                let room = conn.recv_buffer();
                assert!(!room.is_empty(), "the lent buffer is never empty");
                let n = room.len().min(rest.len());
                room[..n].copy_from_slice(&rest[..n]);
                conn.handle_received(T0, n);
                rest = &rest[n..];
            }
        } else {
            conn.handle_read(T0, piece);
        }
    }
}

fn requests(server: &mut Connection<Duration>) -> Vec<(RpcId, Bytes)> {
    let mut out = Vec::new();
    while let Some(ev) = server.poll_event() {
        match ev {
            Event::Request { id, payload } => out.push((id, payload)),
            other => panic!("unexpected server event {other:?}"),
        }
    }
    out
}

fn codec_and_payloads() -> impl Strategy<Value = (Codec, Vec<Bytes>)> {
    codec().prop_flat_map(|c| {
        let p = vec(payload_for(&c), 0..12);
        (Just(c), p)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (a) Chunking invariance.
    #[test]
    fn any_chunking_of_the_stream_gives_the_same_requests_as_one_chunk(
        (codec, payloads) in codec_and_payloads(),
        sizes in chunk_sizes(),
        lend in vec(any::<bool>(), 1..8),
    ) {
        let mut client: Connection<Duration, usize> = Connection::client(config(&codec), T0);
        let mut ids = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            ids.push(client.call(T0, p.clone(), i).unwrap());
        }
        let wire = peek_transmit(&mut client, T0);
        prop_assert_eq!(wire.len(), client.queued_bytes());
        let header_len = codec.standard().unwrap().header_len();
        let expected_len: usize = payloads.iter().map(|p| header_len + p.len()).sum();
        prop_assert_eq!(wire.len(), expected_len);

        let mut whole: Connection<Duration> = Connection::server(config(&codec), T0);
        whole.handle_read(T0, &wire);
        let one_chunk = requests(&mut whole);

        let mut pieces: Connection<Duration> = Connection::server(config(&codec), T0);
        feed(&mut pieces, &wire, &mut Chunker::sizes(sizes), &lend);
        let chunked = requests(&mut pieces);

        prop_assert_eq!(&chunked, &one_chunk);
        prop_assert_eq!(pieces.buffered_bytes(), 0);
        prop_assert_eq!(pieces.stats().frames_in, payloads.len() as u64);
        prop_assert_eq!(pieces.stats().bytes_in, wire.len() as u64);
        prop_assert_eq!(chunked.len(), payloads.len());
        for (i, ((id, got), sent)) in chunked.iter().zip(&payloads).enumerate() {
            prop_assert_eq!(got, sent);
            if codec.has_ids() {
                prop_assert_eq!(*id, ids[i]);
            } else {
                prop_assert_eq!(*id, RpcId(i as u64), "without ids requests are numbered in order");
            }
        }
    }

    /// (b) Header round trip: every id and payload length that fits
    /// encodes to a header that decodes to the same values, and no shorter
    /// prefix of it decodes.
    #[test]
    fn every_header_that_encodes_decodes_to_the_same_id_and_length(
        (codec, id, len) in codec().prop_flat_map(|c| {
            let id = rpc_id_for(&c);
            let len = 0..=c.max_payload_len();
            (Just(c), id, len)
        }),
    ) {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = codec.encode_header(id, len, &mut out).unwrap();
        let h = codec.decode_header(&out[..n]).unwrap().unwrap();
        prop_assert_eq!(h.header_len, n);
        prop_assert_eq!(h.payload_len, len);
        prop_assert_eq!(h.id, if codec.has_ids() { id } else { RpcId(0) });
        for short in 0..n {
            // A prefix is either incomplete or already known to be fine.
            prop_assert_eq!(codec.decode_header(&out[..short]), Ok(None));
        }
    }

    /// (b) Headers too large or ids out of range are refused, never
    /// truncated.
    #[test]
    fn a_payload_one_byte_over_the_maximum_does_not_encode(codec in codec()) {
        let mut out = [0u8; MAX_HEADER_LEN];
        let max = codec.max_payload_len();
        prop_assert!(codec.encode_header(RpcId(0), max + 1, &mut out).is_err());
        if let Some(max_id) = codec.max_id() {
            if max_id < u64::MAX {
                prop_assert!(codec.encode_header(RpcId(max_id + 1), 0, &mut out).is_err());
            }
        }
    }

    /// (b) Round trip through two cores: the caller's ids and payloads reach
    /// the server, and the server's answers, given in any order and cut in
    /// any way, complete the right calls.
    #[test]
    fn requests_and_responses_round_trip_through_two_cores_in_any_order(
        (codec, calls, order) in codec().prop_flat_map(|c| {
            let calls = vec((rpc_id_for(&c), payload_for(&c), payload_for(&c)), 0..12);
            (Just(c), calls)
        }).prop_flat_map(|(c, calls)| {
            let order: Vec<usize> = (0..calls.len()).collect();
            (Just(c), Just(calls), Just(order).prop_shuffle())
        }),
        sizes_in in chunk_sizes(),
        sizes_out in chunk_sizes(),
    ) {
        let mut client: Connection<Duration, usize> = Connection::client(config(&codec), T0);
        // id -> (request, response, ctx)
        let mut sent: BTreeMap<RpcId, (Bytes, Bytes, usize)> = BTreeMap::new();
        for (ctx, (id, req, resp)) in calls.iter().enumerate() {
            let opts = if codec.has_ids() { CallOptions::new().id(*id) } else { CallOptions::new() };
            match client.call_with(T0, req.clone(), opts, ctx) {
                Ok(got) => {
                    prop_assert!(!sent.contains_key(&got));
                    sent.insert(got, (req.clone(), resp.clone(), ctx));
                }
                Err(rej) => {
                    // Only a duplicate of a pending caller id is refused.
                    prop_assert_eq!(rej.error, framing_core::CallError::DuplicateRpcId(*id));
                    prop_assert!(sent.contains_key(id));
                    prop_assert_eq!(&rej.payload, req);
                    prop_assert_eq!(rej.ctx, ctx);
                }
            }
        }
        let wire = take_transmit(&mut client, T0);
        prop_assert_eq!(client.queued_bytes(), 0);

        let mut server: Connection<Duration> = Connection::server(config(&codec), T0);
        feed(&mut server, &wire, &mut Chunker::sizes(sizes_in), &[false]);
        let reqs = requests(&mut server);
        prop_assert_eq!(reqs.len(), sent.len());
        let by_server_id: Vec<(RpcId, RpcId)> = if codec.has_ids() {
            for (id, payload) in &reqs {
                prop_assert_eq!(payload, &sent[id].0);
            }
            reqs.iter().map(|(id, _)| (*id, *id)).collect()
        } else {
            // Without ids the server numbers requests; the client numbers
            // calls; both count from zero in the same order.
            reqs.iter().zip(sent.keys()).map(|((sid, _), cid)| (*sid, *cid)).collect()
        };
        prop_assert_eq!(server.outstanding_requests(), reqs.len());

        for &i in order.iter().filter(|&&i| i < by_server_id.len()) {
            let (sid, cid) = by_server_id[i];
            server.respond(sid, sent[&cid].1.clone()).unwrap();
        }
        prop_assert_eq!(server.outstanding_requests(), 0);
        let back = take_transmit(&mut server, T0);
        feed(&mut client, &back, &mut Chunker::sizes(sizes_out), &[true, false]);

        let mut done = BTreeMap::new();
        while let Some(ev) = client.poll_event() {
            match ev {
                Event::Completed { id, ctx, result } => {
                    prop_assert!(done.insert(id, (ctx, result.unwrap())).is_none(), "completed twice");
                }
                other => prop_assert!(false, "unexpected client event {:?}", other),
            }
        }
        prop_assert_eq!(done.len(), sent.len());
        for (id, (ctx, payload)) in done {
            prop_assert_eq!(ctx, sent[&id].2);
            prop_assert_eq!(payload, sent[&id].1.clone());
        }
        prop_assert_eq!(client.pending_calls(), 0);
    }
}
