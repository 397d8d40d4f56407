#!/usr/bin/env node
// Runs the npm package `test-socket-server` (the Node framing-socket
// project's companion server: it answers every request with 50-199 bytes
// carrying the request's rpc id) for the Rust interop tests.
//
// usage: node test-server.js [port=0] [host=127.0.0.1] [max_seconds=60]
//
// stdout carries exactly one line, `{"port":N}`, once the server listens;
// everything the package logs goes to stderr. The process exits when its
// stdin closes (the parent went away) or after max_seconds, whichever
// comes first, so it can never be left running.
'use strict';

// The package logs through `console.log`; keep stdout for the port line.
console.log = console.error;
// framing-buffer and offset-buffer still call `new Buffer(n)`.
process.noDeprecation = true;

const TestSocketServer = require('test-socket-server');

const port = Number(process.argv[2] || 0);
const host = process.argv[3] || '127.0.0.1';
const maxSeconds = Number(process.argv[4] || 60);

if (!Number.isInteger(port) || port < 0 || port > 65535 || !(maxSeconds > 0)) {
    console.error('usage: node test-server.js [port=0] [host=127.0.0.1] [max_seconds=60]');
    process.exit(2);
}

const server = new TestSocketServer({ timeout_ms: maxSeconds * 1000 });

// TestSocketServer#listen(port) binds every interface; bind `host` only,
// going through the package's own listen path all the same.
const netListen = server.server.listen.bind(server.server);
server.server.listen = (p) => netListen(p, host);

function stop(reason, code) {
    console.error('test-server: stopping: ' + reason);
    // Do not wait for peers to finish: this is a test fixture.
    setTimeout(() => process.exit(code), 200).unref();
    server.close(() => process.exit(code));
}

// The package only logs server errors; failing to listen must end the run.
const onServerError = server.on_server_error.bind(server);
server.on_server_error = (err) => {
    onServerError(err);
    if (!server.listening) {
        console.error('test-server: cannot listen on ' + host + ':' + port + ': ' + err.message);
        process.exit(1);
    }
};

server.listen(port, () => {
    const addr = server.server.address();
    process.stdout.write(JSON.stringify({ port: addr.port }) + '\n');
});

const deadline = setTimeout(() => stop('ran for ' + maxSeconds + ' s', 0), maxSeconds * 1000);
deadline.unref();

process.stdin.on('end', () => stop('stdin closed', 0));
process.stdin.on('error', () => stop('stdin error', 0));
process.stdin.resume();

process.on('SIGTERM', () => stop('SIGTERM', 0));
process.on('SIGINT', () => stop('SIGINT', 0));
