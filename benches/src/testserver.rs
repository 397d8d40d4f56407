//! The fault-injecting test server of SPEC section 8, on plain tokio and
//! raw bytes (none of the framing adapters), speaking the default wire
//! format:
//!
//! ```text
//! +-----------------+----------------+------------------+
//! | length (4 B)    | rpc id (4 B)   | payload (n B)    |
//! +-----------------+----------------+------------------+
//!   length = 4 + n
//! ```
//!
//! Each [`Mode`] says how it answers a request. A request whose length is
//! below 4 or above 8 MiB ends the connection.
//!
//! It has the options of the npm `test-socket-server` 0.0.8 that the Node
//! tests use, plus one of its own ([`TestServerOptions`]):
//!
//! | option | npm | default | zero or `None` |
//! |---|---|---|---|
//! | [`idle_timeout`](TestServerOptions::idle_timeout) | `timeout_ms` | 60 s | never closes an idle connection |
//! | [`stuck`](TestServerOptions::stuck) | `stuck_ms` | 30 s | the stall modes stay stuck forever |
//! | [`close_every`](TestServerOptions::close_every) | — | off | off |
//!
//! (The npm server reads a `timeout_ms` or `stuck_ms` of 0 as "use the
//! default"; here zero switches the timer off, as `None` does.)
//!
//! # Examples
//!
//! ```
//! use framing_benches::testserver::{Mode, TestServer};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let server = TestServer::start(Mode::Echo).await.unwrap();
//! let mut sock = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
//! sock.write_all(&[0, 0, 0, 6, 0, 0, 0, 7, b'h', b'i']).await.unwrap();
//! let mut answer = [0u8; 10];
//! sock.read_exact(&mut answer).await.unwrap();
//! assert_eq!(answer, [0, 0, 0, 6, 0, 0, 0, 7, b'h', b'i']);
//! # });
//! ```
//!
//! A server stuck for 50 ms before each answer, which closes connections
//! silent for a second:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use framing_benches::testserver::{Mode, TestServer, TestServerOptions};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let options = TestServerOptions {
//!     stuck: Some(Duration::from_millis(50)),
//!     idle_timeout: Some(Duration::from_secs(1)),
//!     ..TestServerOptions::new(Mode::Stall)
//! };
//! let server = TestServer::start_with(options).await.unwrap();
//! let mut sock = tokio::net::TcpStream::connect(server.local_addr()).await.unwrap();
//! let start = Instant::now();
//! sock.write_all(&[0, 0, 0, 4, 0, 0, 0, 1]).await.unwrap();
//! let mut answer = [0u8; 8];
//! sock.read_exact(&mut answer).await.unwrap();
//! assert!(start.elapsed() >= Duration::from_millis(50));
//! assert_eq!(answer, [0, 0, 0, 4, 0, 0, 0, 1]);
//! # });
//! ```

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, Sleep};

/// Largest request accepted (the framing default maximum frame, 8 MiB).
pub const MAX_REQUEST: usize = 8 * 1024 * 1024;

/// The id offset used by [`Mode::UnknownId`]: far from any id a client
/// numbering its calls from 0 has pending.
pub const UNKNOWN_ID_OFFSET: u32 = 0x8000_0000;

/// Default [`TestServerOptions::idle_timeout`]: the npm server's
/// `timeout_ms` default, 60 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Default [`TestServerOptions::stuck`]: the npm server's `stuck_ms`
/// default, 30 s.
pub const DEFAULT_STUCK: Duration = Duration::from_secs(30);

/// Bytes of delayed answers a connection in a stall mode holds before it
/// stops reading requests (two of the largest answers), so a peer cannot
/// make it queue without bound.
const HELD_LIMIT: usize = 2 * MAX_REQUEST;

/// Initial room of a connection's outgoing buffer.
const OUT_CAPACITY: usize = 16 * 1024;

/// How the test server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Answers every request with its own payload and id.
    Echo,
    /// Answers 50 to 199 random bytes with the request's id, like the npm
    /// `test-socket-server`.
    Random,
    /// Answers each request with its echo once `stuck` (`--stuck-ms`) has
    /// passed since the request arrived, or never when `stuck` is off (the
    /// npm `stuck_before_response`); keeps reading and holds the
    /// connection open meanwhile.
    Stall,
    /// Sends the first half of a response (the echo), then the rest once
    /// `stuck` (`--stuck-ms`) has passed (the npm `stuck_partial_response`).
    /// Every response goes this way, one after the other: the next one
    /// starts once the previous one is whole, so frames never interleave.
    /// When `stuck` is off, sends the first half of the first response and
    /// then nothing, discarding what it reads.
    StallPartial,
    /// Sends the first half of the first response frame, then closes.
    CloseMidFrame,
    /// Answers the first request with a frame whose length field is
    /// 0xFFFF_FFFF (negative when read as signed, above any maximum).
    BadLength,
    /// Answers each request first with an id nobody asked for (the
    /// request's id + [`UNKNOWN_ID_OFFSET`]), then with the echo.
    UnknownId,
}

/// Everything a test server can be told; [`Default`] is echo with the npm
/// server's timers.
///
/// A zero duration means the same as `None`: that timer is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestServerOptions {
    /// How requests are answered.
    pub mode: Mode,
    /// Closes a connection after this long without traffic either way:
    /// every read and every write (or part of a write) starts the wait
    /// anew (the npm `timeout_ms`). A close sends FIN, so the peer reads
    /// end-of-stream. Default [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Option<Duration>,
    /// How long [`Mode::Stall`] and [`Mode::StallPartial`] stay stuck
    /// before they answer, or finish answering (the npm `stuck_ms`).
    /// `None`: forever. Default [`DEFAULT_STUCK`].
    pub stuck: Option<Duration>,
    /// Every this long, closes one live connection picked at random (a
    /// stand-in for a rolling restart). Default `None`: never.
    ///
    /// The close comes between two answers, never inside one, so the peer
    /// sees whole frames and then end-of-stream (or a reset, when it had
    /// sent bytes the server had not read yet); only the modes that send
    /// half a frame on purpose ([`Mode::StallPartial`],
    /// [`Mode::CloseMidFrame`]) can leave one cut. Requests read and not
    /// yet answered (the stall modes) are dropped. A connection blocked
    /// writing to a peer that does not read closes once that write ends.
    pub close_every: Option<Duration>,
}

impl Default for TestServerOptions {
    fn default() -> Self {
        TestServerOptions::new(Mode::Echo)
    }
}

impl TestServerOptions {
    /// `mode` with the default timers.
    pub fn new(mode: Mode) -> Self {
        TestServerOptions {
            mode,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            stuck: Some(DEFAULT_STUCK),
            close_every: None,
        }
    }

    /// Zero durations become `None`.
    fn normalized(self) -> Self {
        let nonzero = |d: Option<Duration>| d.filter(|d| !d.is_zero());
        TestServerOptions {
            mode: self.mode,
            idle_timeout: nonzero(self.idle_timeout),
            stuck: nonzero(self.stuck),
            close_every: nonzero(self.close_every),
        }
    }
}

/// A running test server; aborted when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and serves in `mode` with the default options.
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// The bind error.
    pub async fn start(mode: Mode) -> io::Result<Self> {
        TestServer::start_with(TestServerOptions::new(mode)).await
    }

    /// Binds 127.0.0.1:0 and serves with `options`. Must be called inside
    /// a tokio runtime.
    ///
    /// # Errors
    /// The bind error.
    pub async fn start_with(options: TestServerOptions) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = run_with(listener, options).await;
        });
        Ok(TestServer { addr, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts connections from `listener` and serves each in `mode` with the
/// default options, until accepting fails. Connections end when their task
/// (or this future) is dropped.
///
/// # Errors
/// The accept error that ended the loop.
pub async fn run(listener: TcpListener, mode: Mode) -> io::Result<()> {
    run_with(listener, TestServerOptions::new(mode)).await
}

/// Accepts connections from `listener` and serves each with `options`,
/// until accepting fails; closes one at random every
/// [`close_every`](TestServerOptions::close_every). Connections end when
/// their task (or this future) is dropped.
///
/// # Errors
/// The accept error that ended the loop.
pub async fn run_with(listener: TcpListener, options: TestServerOptions) -> io::Result<()> {
    let options = options.normalized();
    let mut conns = tokio::task::JoinSet::new();
    // One sender per live connection when `close_every` is on; sending
    // closes it, and a closed sender marks a connection that ended.
    let mut closers: Vec<oneshot::Sender<()>> = Vec::new();
    let mut rng = XorShift::new();
    // The period is only a placeholder when `close_every` is off: the
    // branch is then disabled.
    let period = options.close_every.unwrap_or(DEFAULT_IDLE_TIMEOUT);
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let close = if options.close_every.is_some() {
                    closers.retain(|c| !c.is_closed());
                    let (tx, rx) = oneshot::channel();
                    closers.push(tx);
                    Some(rx)
                } else {
                    None
                };
                conns.spawn(async move {
                    let _ = serve(stream, options, close).await;
                });
                while conns.try_join_next().is_some() {}
            }
            _ = ticker.tick(), if options.close_every.is_some() => {
                closers.retain(|c| !c.is_closed());
                if !closers.is_empty() {
                    let i = (rng.next() % closers.len() as u64) as usize;
                    let _ = closers.swap_remove(i).send(());
                }
            }
        }
    }
}

static SEED: AtomicU64 = AtomicU64::new(0);

/// A small xorshift generator: the random payloads need no more.
struct XorShift(u64);

impl XorShift {
    fn new() -> Self {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let n = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        XorShift((time ^ n) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn frame(out: &mut BytesMut, id: u32, payload: &[u8]) {
    out.reserve(8 + payload.len());
    out.put_u32(4 + payload.len() as u32);
    out.put_u32(id);
    out.put_slice(payload);
}

/// The server's request decoder: a buffer that grows only with bytes that
/// arrived, never with a length a peer declared.
///
/// Before each read it keeps at least [`CHUNK`](Self::CHUNK) bytes of
/// spare room and reads at most that much, so its capacity stays within a
/// small multiple of the bytes it holds plus `CHUNK`, whatever length a
/// request's header announces.
///
/// # Examples
///
/// ```
/// use framing_benches::testserver::RequestBuffer;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut buf = RequestBuffer::new();
/// let mut peer: &[u8] = &[0, 0, 0, 6, 0, 0, 0, 7, b'h', b'i'];
/// while buf.read_from(&mut peer).await.unwrap() > 0 {}
/// let (id, payload) = buf.next_request().unwrap().unwrap();
/// assert_eq!((id, &payload[..]), (7, &b"hi"[..]));
/// assert!(buf.next_request().unwrap().is_none());
/// # });
/// ```
#[derive(Debug)]
pub struct RequestBuffer {
    buf: BytesMut,
}

impl Default for RequestBuffer {
    fn default() -> Self {
        RequestBuffer::new()
    }
}

impl RequestBuffer {
    /// Most bytes one [`read_from`](Self::read_from) takes in, and the
    /// spare room kept before reading: 16 KiB.
    pub const CHUNK: usize = 16 * 1024;

    /// An empty buffer with room for one [`CHUNK`](Self::CHUNK).
    pub fn new() -> Self {
        RequestBuffer {
            buf: BytesMut::with_capacity(Self::CHUNK),
        }
    }

    /// Reads at most [`CHUNK`](Self::CHUNK) bytes from `reader`; returns
    /// how many arrived (0: end of stream). Cancel safe: a cancelled read
    /// loses no bytes.
    ///
    /// # Errors
    /// The read error.
    pub async fn read_from<R>(&mut self, reader: &mut R) -> io::Result<usize>
    where
        R: AsyncRead + Unpin + ?Sized,
    {
        if self.buf.capacity() - self.buf.len() < Self::CHUNK {
            self.buf.reserve(Self::CHUNK);
        }
        reader
            .read_buf(&mut BufMut::limit(&mut self.buf, Self::CHUNK))
            .await
    }

    /// Takes the next whole request off the front: its rpc id and
    /// payload. `Ok(None)` until all its bytes arrived.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidData`] when the request's length field is
    /// below 4 or above [`MAX_REQUEST`]; the bytes stay in the buffer.
    pub fn next_request(&mut self) -> io::Result<Option<(u32, Bytes)>> {
        let Some(head) = self.buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if !(4..=MAX_REQUEST).contains(&len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("request length {len} outside 4..={MAX_REQUEST}"),
            ));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let mut body = self.buf.split_to(4 + len);
        body.advance(4);
        let id = body.get_u32();
        Ok(Some((id, body.freeze())))
    }

    /// Bytes held: arrived and not yet taken as requests.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes the buffer can hold without growing (what it costs in
    /// memory).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Drops every byte held.
    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

/// Serves one connection in `mode` with the default options until the peer
/// closes, the idle timeout, or an i/o error.
///
/// # Errors
/// The i/o error that ended the connection; [`io::ErrorKind::InvalidData`]
/// for a request length below 4 or above [`MAX_REQUEST`];
/// [`io::ErrorKind::TimedOut`] when a write made no progress for the idle
/// timeout.
pub async fn serve_connection(stream: TcpStream, mode: Mode) -> io::Result<()> {
    serve(stream, TestServerOptions::new(mode).normalized(), None).await
}

/// Serves one connection with `options` (all but `close_every`, which is
/// [`run_with`]'s) until the peer closes, the idle timeout, or an i/o
/// error.
///
/// # Errors
/// As [`serve_connection`].
pub async fn serve_connection_with(
    stream: TcpStream,
    options: TestServerOptions,
) -> io::Result<()> {
    serve(stream, options.normalized(), None).await
}

/// Resolves to `true` when told to close, to `false` when the sender went
/// away without a word; never without a receiver.
async fn close_signal(close: &mut Option<oneshot::Receiver<()>>) -> bool {
    match close {
        Some(rx) => rx.await.is_ok(),
        None => std::future::pending().await,
    }
}

/// Restarts the idle wait, if there is one.
fn touch(idle_sleep: Pin<&mut Sleep>, idle: Option<Duration>) {
    if let Some(idle) = idle {
        idle_sleep.reset(Instant::now() + idle);
    }
}

/// Writes all of `buf`, failing with `TimedOut` when one write makes no
/// progress for `idle`.
async fn write_all_idle(
    stream: &mut TcpStream,
    mut buf: &[u8],
    idle: Option<Duration>,
) -> io::Result<()> {
    while !buf.is_empty() {
        let n = match idle {
            Some(idle) => tokio::time::timeout(idle, stream.write(buf))
                .await
                .map_err(|_| {
                    io::Error::new(io::ErrorKind::TimedOut, "idle timeout while writing")
                })??,
            None => stream.write(buf).await?,
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Answers that leave later, in order, for the stall modes.
#[derive(Default)]
struct Delayed {
    /// Bytes to write at their instant, due in order.
    timed: VecDeque<(Instant, BytesMut)>,
    /// [`Mode::StallPartial`]: whole answers waiting for the one under
    /// way.
    waiting: VecDeque<BytesMut>,
    /// Bytes in `timed` and `waiting`.
    held: usize,
}

impl Delayed {
    fn next_due(&self) -> Option<Instant> {
        self.timed.front().map(|(at, _)| *at)
    }

    fn push_timed(&mut self, at: Instant, bytes: BytesMut) {
        self.held += bytes.len();
        self.timed.push_back((at, bytes));
    }

    /// [`Mode::StallPartial`]: starts `answer` now, or queues it behind
    /// the answer under way.
    fn queue_partial(&mut self, answer: BytesMut, out: &mut BytesMut, stuck: Duration) {
        if self.timed.is_empty() && self.waiting.is_empty() {
            self.begin_partial(answer, out, stuck);
        } else {
            self.held += answer.len();
            self.waiting.push_back(answer);
        }
    }

    /// Puts the first half of `answer` into `out` and holds the rest for
    /// `stuck`.
    fn begin_partial(&mut self, mut answer: BytesMut, out: &mut BytesMut, stuck: Duration) {
        let half = answer.split_to(answer.len() / 2);
        out.put_slice(&half);
        self.push_timed(Instant::now() + stuck, answer);
    }

    /// Moves every byte due at `now` into `out`, then, in
    /// [`Mode::StallPartial`] (`partial` is its `stuck`), begins the next
    /// waiting answer once nothing is under way.
    fn take_due(&mut self, now: Instant, out: &mut BytesMut, partial: Option<Duration>) {
        while self.timed.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, bytes)) = self.timed.pop_front() {
                self.held -= bytes.len();
                out.put_slice(&bytes);
            }
        }
        if let Some(stuck) = partial {
            if self.timed.is_empty() {
                if let Some(next) = self.waiting.pop_front() {
                    self.held -= next.len();
                    self.begin_partial(next, out, stuck);
                }
            }
        }
    }
}

/// Puts the first half of the echo of (`id`, `body`) into `out`.
fn half_frame(out: &mut BytesMut, id: u32, body: &[u8]) {
    let mut whole = BytesMut::new();
    frame(&mut whole, id, body);
    out.put_slice(&whole[..whole.len() / 2]);
}

/// The connection loop: reads requests, writes answers, and closes on the
/// idle timeout or a word from `close`. Closes only between answers (see
/// [`TestServerOptions::close_every`]).
async fn serve(
    mut stream: TcpStream,
    options: TestServerOptions,
    mut close: Option<oneshot::Receiver<()>>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let TestServerOptions {
        mode,
        idle_timeout: idle,
        stuck,
        ..
    } = options;
    let partial = stuck.filter(|_| mode == Mode::StallPartial);
    let mut rng = XorShift::new();
    let mut inbuf = RequestBuffer::new();
    let mut out = BytesMut::with_capacity(OUT_CAPACITY);
    let mut delayed = Delayed::default();
    // After a one-shot misbehaviour, only read and discard.
    let mut stalled = false;
    // Disabled when `idle` is off; the placeholder duration is unused.
    let idle_sleep = tokio::time::sleep(idle.unwrap_or(DEFAULT_IDLE_TIMEOUT));
    tokio::pin!(idle_sleep);
    loop {
        let due = delayed.next_due();
        tokio::select! {
            biased;
            closing = close_signal(&mut close) => {
                if closing {
                    let _ = stream.shutdown().await;
                    return Ok(());
                }
                close = None;
            }
            () = &mut idle_sleep, if idle.is_some() => {
                let _ = stream.shutdown().await;
                return Ok(());
            }
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                delayed.take_due(Instant::now(), &mut out, partial);
            }
            read = inbuf.read_from(&mut stream), if delayed.held < HELD_LIMIT => {
                if read? == 0 {
                    return Ok(());
                }
                touch(idle_sleep.as_mut(), idle);
                if stalled {
                    inbuf.clear();
                    continue;
                }
                let arrived = Instant::now();
                while let Some((id, body)) = inbuf.next_request()? {
                    match mode {
                        Mode::Echo => frame(&mut out, id, &body),
                        Mode::Random => {
                            let n = 50 + (rng.next() % 150) as usize;
                            let payload: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                            frame(&mut out, id, &payload);
                        }
                        Mode::Stall => {
                            if let Some(stuck) = stuck {
                                let mut answer = BytesMut::new();
                                frame(&mut answer, id, &body);
                                delayed.push_timed(arrived + stuck, answer);
                            }
                        }
                        Mode::StallPartial => match partial {
                            Some(stuck) => {
                                let mut answer = BytesMut::new();
                                frame(&mut answer, id, &body);
                                delayed.queue_partial(answer, &mut out, stuck);
                            }
                            None => {
                                half_frame(&mut out, id, &body);
                                stalled = true;
                            }
                        },
                        Mode::CloseMidFrame => {
                            half_frame(&mut out, id, &body);
                            stalled = true;
                        }
                        Mode::BadLength => {
                            out.put_u32(0xFFFF_FFFF);
                            out.put_u32(id);
                            out.put_slice(&body);
                            stalled = true;
                        }
                        Mode::UnknownId => {
                            frame(&mut out, id.wrapping_add(UNKNOWN_ID_OFFSET), &body);
                            frame(&mut out, id, &body);
                        }
                    }
                    if stalled {
                        inbuf.clear();
                        break;
                    }
                }
            }
        }
        if !out.is_empty() {
            write_all_idle(&mut stream, &out, idle).await?;
            out.clear();
            touch(idle_sleep.as_mut(), idle);
        }
        if stalled && mode == Mode::CloseMidFrame {
            stream.shutdown().await?;
            return Ok(());
        }
    }
}
