#!/usr/bin/env node
// A small Node client in the style of framing-socket, built on the npm
// package `framing-buffer`, for checking a server (the Rust
// `framing_tokio::Server` with an echo handler) byte for byte.
//
// usage: node client.js HOST PORT [N=1000] [WINDOW=32] [TIMEOUT_MS=30000]
//
// Wire format (the framing-socket default), all integers big-endian:
//   length (4 B) = 4 + n | rpc id (4 B) | payload (n B)
//
// Sends N requests, keeping up to WINDOW in flight, with payloads of
// varied sizes (empty, small, and some of tens of KiB), several frames per
// write and some frames split across writes. Checks that every response
// carries the id of a request in flight and echoes its payload exactly.
// Prints one line of JSON on stdout and exits 0 only if all N requests
// were answered correctly; exits 1 on any mismatch, socket error, early
// close or timeout.
'use strict';

// framing-buffer and offset-buffer still call `new Buffer(n)`.
process.noDeprecation = true;

const net = require('net');
const FramingBuffer = require('framing-buffer');

const host = process.argv[2];
const port = Number(process.argv[3]);
const total = Number(process.argv[4] || 1000);
const window = Number(process.argv[5] || 32);
const timeoutMs = Number(process.argv[6] || 30000);

if (!host || !Number.isInteger(port) || port <= 0 || port > 65535 ||
    !Number.isInteger(total) || total < 1 || total >= 2 ** 32 ||
    !Number.isInteger(window) || window < 1 || !(timeoutMs > 0)) {
    console.error('usage: node client.js HOST PORT [N=1000] [WINDOW=32] [TIMEOUT_MS=30000]');
    process.exit(2);
}

// Ids start just below 2^31 so that they cross the signed 32-bit boundary
// (the Node libraries read ids with readInt32BE): the server must echo the
// four bytes as they are.
const ID_BASE = (0x80000000 - Math.floor(total / 2)) >>> 0;
const idOf = (i) => (ID_BASE + i) >>> 0;

// Payload size of request i: mostly small, some empty, some large enough
// to span many TCP reads on both sides.
function sizeOf(i) {
    if (i % 97 === 0) return 0;
    if (i % 101 === 50) return 20000 + ((i * 7919) % 60000);
    return (i * 37) % 300;
}

function payloadOf(i) {
    const buf = Buffer.allocUnsafe(sizeOf(i));
    let x = (i * 2654435761) >>> 0;
    for (let k = 0; k < buf.length; k++) {
        x = (x * 1103515245 + 12345) >>> 0;
        buf[k] = x >>> 24;
    }
    return buf;
}

function frameOf(id, payload) {
    const header = Buffer.allocUnsafe(8);
    header.writeUInt32BE(4 + payload.length, 0);
    header.writeUInt32BE(id, 4);
    return Buffer.concat([header, payload]);
}

const stats = {
    ok: false,
    host: host,
    port: port,
    requests: total,
    window: window,
    sent: 0,
    responses: 0,
    mismatches: 0,
    unknown_ids: 0,
    max_in_flight: 0,
    split_frames: 0,
    writes: 0,
    bytes_sent: 0,
    bytes_received: 0,
    elapsed_ms: 0,
    error: null,
};

const pending = new Map(); // id -> payload
const started = Date.now();
let next = 0;
let finished = false;
let sending = false;

const socket = new net.Socket();
const framing = new FramingBuffer();

function finish(error) {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    stats.elapsed_ms = Date.now() - started;
    stats.error = error;
    stats.ok = !error && stats.responses === total && stats.mismatches === 0 &&
        stats.unknown_ids === 0 && pending.size === 0;
    if (!stats.ok && !stats.error) stats.error = 'incomplete or mismatched responses';
    process.stdout.write(JSON.stringify(stats) + '\n', () => {
        socket.destroy();
        process.exit(stats.ok ? 0 : 1);
    });
}

const timer = setTimeout(() => {
    finish('timed out after ' + timeoutMs + ' ms with ' + pending.size + ' requests in flight, ' +
        stats.responses + '/' + total + ' answered');
}, timeoutMs);

function write(buf) {
    stats.writes += 1;
    stats.bytes_sent += buf.length;
    return new Promise((resolve, reject) => {
        socket.write(buf, (err) => (err ? reject(err) : resolve()));
    });
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The only writer: fills the window, batching frames into one write, and
// every so often splits a frame in two writes with a pause in between so
// the server sees a partial header or a partial payload.
async function pump() {
    if (sending || finished) return;
    sending = true;
    try {
        while (!finished && next < total && pending.size < window) {
            const batch = [];
            while (next < total && pending.size < window) {
                const i = next++;
                const id = idOf(i);
                const payload = payloadOf(i);
                pending.set(id, payload);
                stats.sent += 1;
                stats.max_in_flight = Math.max(stats.max_in_flight, pending.size);
                const frame = frameOf(id, payload);
                if (i % 13 === 7) {
                    if (batch.length) await write(Buffer.concat(batch.splice(0)));
                    const cut = 1 + (i % (frame.length - 1));
                    stats.split_frames += 1;
                    await write(frame.subarray(0, cut));
                    await delay(2);
                    await write(frame.subarray(cut));
                } else {
                    batch.push(frame);
                }
            }
            if (batch.length) await write(Buffer.concat(batch));
        }
    } catch (err) {
        finish('write failed: ' + err.message);
    } finally {
        sending = false;
    }
}

framing.on('frame', (frame) => {
    // `frame` is an OffsetBuffer holding id + payload (the length is gone).
    const buf = frame.buf;
    if (buf.length < 4) {
        stats.mismatches += 1;
        return finish('response frame of ' + buf.length + ' bytes has no rpc id');
    }
    const id = buf.readUInt32BE(0);
    const payload = buf.subarray(4);
    const expected = pending.get(id);
    if (expected === undefined) {
        stats.unknown_ids += 1;
        return finish('response with unknown rpc id ' + id);
    }
    pending.delete(id);
    if (!expected.equals(payload)) {
        stats.mismatches += 1;
        return finish('payload mismatch for rpc id ' + id + ': sent ' + expected.length +
            ' bytes, got ' + payload.length);
    }
    stats.responses += 1;
    if (stats.responses === total) {
        finish(null);
    } else {
        pump();
    }
});

socket.setNoDelay(true);
socket.on('data', (data) => {
    stats.bytes_received += data.length;
    framing.push(data);
});
socket.on('error', (err) => finish('socket error: ' + err.message));
socket.on('close', () => finish('connection closed by the server'));
socket.connect(port, host, () => pump());
