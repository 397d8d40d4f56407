//! Many connections from one hand-written, non-blocking event loop: the
//! core driven by `mio`, no async runtime at all.
//!
//! ```sh
//! cargo run --release -p framing-core --example event_loop
//! ```
//!
//! One thread, one `mio::Poll`. A listener on 127.0.0.1:0 accepts
//! connections whose cores answer requests (echo); eight client
//! connections each make 2,000 calls, 16 in flight, with a 2 s deadline
//! on every call. Every socket has its own `Connection`; the loop is the
//! core's run loop for all of them at once:
//!
//! 1. wait for readiness, at most until the earliest `poll_timeout`;
//! 2. read what is ready into `recv_buffer` (or a shared scratch buffer
//!    when the core says the connection is quiet), `handle_received`;
//! 3. `handle_timeout` for the cores whose time came;
//! 4. drain `poll_event`: the server side answers, the client side counts
//!    completions and makes its next calls;
//! 5. write `poll_transmit` until the socket would block (then wait for
//!    it to be writable).

use std::collections::HashMap;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use bytes::Buf;
use framing_core::{CallOptions, Config, Connection, Event};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const CLIENTS: usize = 8;
const CALLS_PER_CLIENT: usize = 2_000;
const WINDOW: usize = 16;
const LISTENER: Token = Token(usize::MAX);

/// One socket and its core: a client (context: the call's number) or the
/// server end of an accepted connection.
struct Conn {
    sock: TcpStream,
    core: Connection<Instant, usize>,
    client: Option<Calls>,
    /// Waiting for the socket to take more bytes.
    blocked: bool,
    /// Readiness was reported while the core did not want to read (a
    /// server holding back a peer that does not read its answers): mio's
    /// events are edge-triggered, so read once the core wants to again.
    unread: bool,
}

/// A client's progress.
#[derive(Default)]
struct Calls {
    made: usize,
    answered: usize,
    failed: usize,
}

fn main() -> io::Result<()> {
    let started = Instant::now();
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().expect("an address"))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let addr = listener.local_addr()?;

    let config = Config::default();
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next_token = 0;
    for _ in 0..CLIENTS {
        let mut sock = TcpStream::connect(addr)?;
        let token = Token(next_token);
        next_token += 1;
        poll.registry()
            .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)?;
        let core = Connection::client(config.clone(), Instant::now());
        conns.insert(
            token,
            Conn {
                sock,
                core,
                client: Some(Calls::default()),
                blocked: true,
                unread: false,
            },
        );
    }

    let mut events = Events::with_capacity(256);
    let mut scratch = vec![0u8; 64 * 1024];
    let give_up = started + Duration::from_secs(30);
    loop {
        // 1. Wait, at most until the earliest deadline of any core.
        let now = Instant::now();
        let next = conns
            .values_mut()
            .filter_map(|c| c.core.poll_timeout())
            .min();
        let wait = next.map(|t| t.saturating_duration_since(now));
        poll.poll(&mut events, wait.or(Some(Duration::from_secs(1))))?;

        for event in events.iter() {
            if event.token() == LISTENER {
                // New connections: each gets a server core.
                loop {
                    match listener.accept() {
                        Ok((mut sock, _)) => {
                            let token = Token(next_token);
                            next_token += 1;
                            poll.registry().register(
                                &mut sock,
                                token,
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            let core = Connection::server(config.clone(), Instant::now());
                            conns.insert(
                                token,
                                Conn {
                                    sock,
                                    core,
                                    client: None,
                                    blocked: true,
                                    unread: false,
                                },
                            );
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let Some(conn) = conns.get_mut(&event.token()) else {
                continue;
            };
            if event.is_writable() {
                conn.blocked = false;
            }
            // 2. Read everything that is ready.
            if event.is_readable() {
                read_all(conn, &mut scratch);
            }
        }

        let now = Instant::now();
        for conn in conns.values_mut() {
            if conn.unread && conn.core.wants_read() {
                read_all(conn, &mut scratch);
            }
            // 3. Time: deadlines and idle timers that came due.
            conn.core.handle_timeout(now);
            // 4. Events: answer requests, count answers, call again.
            run_events(conn, now);
            // 5. Write until the socket is full.
            write_all(conn, now);
        }

        let done = conns
            .values()
            .filter_map(|c| c.client.as_ref())
            .all(|calls| calls.answered + calls.failed == CALLS_PER_CLIENT);
        if done || Instant::now() > give_up {
            break;
        }
    }

    let (answered, failed) = conns
        .values()
        .filter_map(|c| c.client.as_ref())
        .fold((0, 0), |(a, f), c| (a + c.answered, f + c.failed));
    for conn in conns.values_mut() {
        conn.core.close();
        let _ = conn.sock.shutdown(Shutdown::Both);
    }
    println!(
        "{CLIENTS} clients x {CALLS_PER_CLIENT} calls over one event loop: {answered} answered, \
         {failed} failed, in {:?}",
        started.elapsed()
    );
    assert_eq!(
        answered,
        CLIENTS * CALLS_PER_CLIENT,
        "every call is answered"
    );
    Ok(())
}

/// Reads until the socket would block: into the core's own room when it
/// is busy, into the loop's scratch buffer when it is quiet.
fn read_all(conn: &mut Conn, scratch: &mut [u8]) {
    conn.unread = false;
    loop {
        if !conn.core.wants_read() {
            conn.unread = !conn.core.is_closed();
            return;
        }
        let result = if conn.core.wants_recv_buffer() {
            let room = conn.core.recv_buffer();
            conn.sock.read(room).inspect(|&n| {
                conn.core.handle_received(Instant::now(), n);
            })
        } else {
            conn.sock.read(scratch).inspect(|&n| {
                conn.core.handle_read(Instant::now(), &scratch[..n]);
            })
        };
        match result {
            Ok(0) => {
                conn.core.handle_eof(Instant::now());
                return;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                conn.core.handle_io_error(Instant::now(), e.into());
                return;
            }
        }
    }
}

/// Drains the core's events: a server answers with the request's payload;
/// a client counts completions and keeps `WINDOW` calls in flight.
fn run_events(conn: &mut Conn, now: Instant) {
    while let Some(event) = conn.core.poll_event() {
        match event {
            Event::Request { id, payload } => {
                conn.core.respond(id, payload).expect("an answer fits");
            }
            Event::Completed { result, .. } => {
                let calls = conn.client.as_mut().expect("a client");
                match result {
                    Ok(_) => calls.answered += 1,
                    Err(e) => {
                        eprintln!("call failed: {e}");
                        calls.failed += 1;
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(calls) = &mut conn.client {
        let in_flight = calls.made - calls.answered - calls.failed;
        let opts = CallOptions::new().timeout(Duration::from_secs(2));
        for _ in in_flight..WINDOW {
            if calls.made == CALLS_PER_CLIENT {
                break;
            }
            let payload = format!("call {}", calls.made);
            match conn.core.call_with(now, payload, opts, calls.made) {
                Ok(_) => calls.made += 1,
                Err(rejected) => panic!("call refused: {}", rejected.error),
            }
        }
    }
}

/// Writes until the socket would block, many frames per vectored write.
fn write_all(conn: &mut Conn, now: Instant) {
    while !conn.blocked {
        let Some(mut out) = conn.core.poll_transmit(now) else {
            return;
        };
        let written = {
            let mut slices = [IoSlice::new(&[]); 64];
            let n = out.chunks_vectored(&mut slices);
            conn.sock.write_vectored(&slices[..n])
        };
        match written {
            Ok(n) => out.advance(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.blocked = true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                conn.core.handle_io_error(now, e.into());
                return;
            }
        }
    }
}
