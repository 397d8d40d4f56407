//! Scripted misbehaving peers: blocking std sockets on a std thread, the
//! same whatever the runtime under test.
//!
//! A [`Peer`] listens on `127.0.0.1:0`, accepts one connection and runs a
//! script on it. The script talks the default wire format by hand:
//!
//! ```text
//! +-----------------+----------------+------------------+
//! | length (4 B)    | rpc id (4 B)   | payload (n B)    |
//! +-----------------+----------------+------------------+
//!   length = 4 + n, big-endian
//! ```
//!
//! It tells the test every request it reads ([`Peer::request`]) and can wait
//! for the test's go-ahead ([`PeerConn::wait_go`], [`Peer::go`]). Every
//! socket operation has a timeout, so a script never blocks for longer
//! than [`PEER_IO_TIMEOUT`].
//!
//! A [`FullAcceptQueue`] is a listener that never completes a handshake:
//! for connect timeouts, on loopback.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Duration;

use framing_driver::Runtime;
use tokio::sync::{mpsc, oneshot};

use crate::util::{within, WAIT};

/// Read and write timeout of a peer's socket, and how long a script waits
/// for the test's go-ahead.
pub const PEER_IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest frame a peer accepts from the client (a sanity bound).
const PEER_MAX_FRAME: usize = 16 * 1024 * 1024;

/// How long [`FullAcceptQueue::new`] waits for one filler's handshake:
/// on loopback a handshake completes in microseconds, unless the SYN is
/// dropped.
const FILL_PROBE: Duration = Duration::from_millis(100);
/// Fillers [`FullAcceptQueue::new`] tries before giving up (Linux fills
/// a backlog of 0 with one).
const MAX_FILLERS: usize = 8;

/// One frame of the default format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The rpc id.
    pub id: u32,
    /// The payload.
    pub payload: Vec<u8>,
}

/// The test's handle on a scripted peer.
#[derive(Debug)]
pub struct Peer {
    addr: SocketAddr,
    requests: mpsc::UnboundedReceiver<Frame>,
    go: std_mpsc::Sender<()>,
    done: Option<oneshot::Receiver<io::Result<()>>>,
    accepted: Arc<AtomicBool>,
}

/// The script's side: the accepted connection.
#[derive(Debug)]
pub struct PeerConn {
    stream: TcpStream,
    requests: mpsc::UnboundedSender<Frame>,
    go: std_mpsc::Receiver<()>,
}

impl Peer {
    /// Listens on `127.0.0.1:0` and runs `script` on the first connection,
    /// on a thread of its own.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub fn spawn<S>(script: S) -> io::Result<Peer>
    where
        S: FnOnce(&mut PeerConn) -> io::Result<()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        Ok(Self::start(addr, false, script, move || {
            let (stream, _) = listener.accept()?;
            Ok(stream)
        }))
    }

    /// Connects to `server` and runs `script` on the connection, on a
    /// thread of its own: a misbehaving client for a framing server.
    ///
    /// # Errors
    /// When the connection cannot be made.
    pub fn connect<S>(server: SocketAddr, script: S) -> io::Result<Peer>
    where
        S: FnOnce(&mut PeerConn) -> io::Result<()> + Send + 'static,
    {
        // A loopback connect to a listening socket completes at once (the
        // kernel finishes the handshake before any accept).
        let stream = TcpStream::connect_timeout(&server, PEER_IO_TIMEOUT)?;
        let addr = stream.local_addr()?;
        Ok(Self::start(addr, true, script, move || Ok(stream)))
    }

    fn start<S, C>(addr: SocketAddr, connected: bool, script: S, stream: C) -> Peer
    where
        S: FnOnce(&mut PeerConn) -> io::Result<()> + Send + 'static,
        C: FnOnce() -> io::Result<TcpStream> + Send + 'static,
    {
        let (req_tx, requests) = mpsc::unbounded_channel();
        let (go, go_rx) = std_mpsc::channel();
        let (done_tx, done) = oneshot::channel();
        let accepted = Arc::new(AtomicBool::new(connected));
        let accepted_flag = accepted.clone();
        let thread = std::thread::Builder::new()
            .name(format!("peer {addr}"))
            .spawn(move || {
                let result = (|| {
                    let stream = stream()?;
                    accepted_flag.store(true, Ordering::SeqCst);
                    stream.set_read_timeout(Some(PEER_IO_TIMEOUT))?;
                    stream.set_write_timeout(Some(PEER_IO_TIMEOUT))?;
                    stream.set_nodelay(true)?;
                    let mut conn = PeerConn {
                        stream,
                        requests: req_tx,
                        go: go_rx,
                    };
                    script(&mut conn)
                })();
                let _ = done_tx.send(result);
            });
        if let Err(e) = thread {
            panic!("spawning a peer thread: {e}");
        }
        Peer {
            addr,
            requests,
            go,
            done: Some(done),
            accepted,
        }
    }

    /// The peer's address: where it listens ([`spawn`](Self::spawn)), or
    /// where it connects from ([`connect`](Self::connect)).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next request the script read, within [`WAIT`].
    ///
    /// # Panics
    /// On timeout, or when the script ended first (with its result).
    pub async fn request<R: Runtime>(&mut self) -> Frame {
        match within::<R, _>(WAIT, "the peer to read a request", self.requests.recv()).await {
            Some(frame) => frame,
            None => {
                let outcome = match self.done.as_mut().map(|d| d.try_recv()) {
                    Some(Ok(result)) => format!("{result:?}"),
                    _ => "unknown".to_owned(),
                };
                panic!("the peer ended before reading the expected request: {outcome}")
            }
        }
    }

    /// The next `n` requests the script read.
    ///
    /// # Panics
    /// As [`request`](Self::request).
    pub async fn requests<R: Runtime>(&mut self, n: usize) -> Vec<Frame> {
        let mut all = Vec::with_capacity(n);
        for _ in 0..n {
            all.push(self.request::<R>().await);
        }
        all
    }

    /// Lets the script past its next [`PeerConn::wait_go`].
    pub fn go(&self) {
        let _ = self.go.send(());
    }

    /// Waits for the script to end, within [`WAIT`] past its own socket
    /// timeouts.
    ///
    /// # Panics
    /// When the script failed (with its error) or does not end in time.
    pub async fn finished<R: Runtime>(mut self) {
        let done = self.done.take().expect("finished is called once");
        match within::<R, _>(WAIT + PEER_IO_TIMEOUT, "the peer's script to end", done).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the peer's script failed: {e}"),
            Err(_) => panic!("the peer's thread ended without a result (it panicked)"),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // A peer nobody connected to would block in `accept` forever:
        // connect once so that its thread ends.
        if !self.accepted.load(Ordering::SeqCst) {
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        }
    }
}

impl PeerConn {
    /// Reads one frame.
    ///
    /// # Errors
    /// `UnexpectedEof` when the client closed, `InvalidData` for a length
    /// below 4 or above 16 MiB, the socket's error or timeout otherwise.
    pub fn read_frame(&mut self) -> io::Result<Frame> {
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .map_err(|e| explain(e, "reading a frame"))?;
        let len = u32::from_be_bytes(len) as usize;
        if !(4..=PEER_MAX_FRAME).contains(&len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the client sent a frame length of {len}"),
            ));
        }
        let mut body = vec![0u8; len];
        self.stream
            .read_exact(&mut body)
            .map_err(|e| explain(e, "reading a frame's body"))?;
        let id = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        body.drain(..4);
        Ok(Frame { id, payload: body })
    }

    /// Reads exactly `n` bytes, whatever they are: for frames of another
    /// format than the default.
    ///
    /// # Errors
    /// `UnexpectedEof` when the client closed first, the socket's error or
    /// timeout otherwise.
    pub fn read_raw(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0u8; n];
        self.stream
            .read_exact(&mut bytes)
            .map_err(|e| explain(e, "reading raw bytes"))?;
        Ok(bytes)
    }

    /// Reads one request and tells the test about it.
    ///
    /// # Errors
    /// As [`read_frame`](Self::read_frame).
    pub fn read_request(&mut self) -> io::Result<Frame> {
        let frame = self.read_frame()?;
        let _ = self.requests.send(frame.clone());
        Ok(frame)
    }

    /// Reads `n` requests, telling the test about each.
    ///
    /// # Errors
    /// As [`read_frame`](Self::read_frame).
    pub fn read_requests(&mut self, n: usize) -> io::Result<Vec<Frame>> {
        (0..n).map(|_| self.read_request()).collect()
    }

    /// Writes one frame: the response `payload` with `id`.
    ///
    /// # Errors
    /// The socket's error or timeout.
    pub fn respond(&mut self, id: u32, payload: &[u8]) -> io::Result<()> {
        self.write_raw(&encode_frame(id, payload))
    }

    /// A second handle on the socket, e.g. for writing from another thread
    /// while this one reads (its timeouts are the same).
    ///
    /// # Errors
    /// The operating system's.
    pub fn try_clone_stream(&self) -> io::Result<TcpStream> {
        self.stream.try_clone()
    }

    /// Writes raw bytes, well-formed or not.
    ///
    /// # Errors
    /// The socket's error or timeout.
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|e| explain(e, "writing"))
    }

    /// Waits for the test's [`Peer::go`].
    ///
    /// # Errors
    /// `TimedOut` after [`PEER_IO_TIMEOUT`], or when the test is gone.
    pub fn wait_go(&mut self) -> io::Result<()> {
        self.go.recv_timeout(PEER_IO_TIMEOUT).map_err(|e| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no go-ahead from the test: {e}"),
            )
        })
    }

    /// Answers every request with its own payload until the client closes.
    ///
    /// # Errors
    /// The socket's error or timeout.
    pub fn echo_until_eof(&mut self) -> io::Result<()> {
        loop {
            match self.read_frame() {
                Ok(frame) => self.respond(frame.id, &frame.payload)?,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads until the client closes, expecting no bytes.
    ///
    /// # Errors
    /// `InvalidData` if bytes arrive; the socket's error or timeout (the
    /// client never closed).
    pub fn expect_eof(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 1024];
        let n = self
            .stream
            .read(&mut buf)
            .map_err(|e| explain(e, "waiting for the other side to close"))?;
        match n {
            0 => Ok(()),
            n => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected the client to close, got {n} bytes"),
            )),
        }
    }

    /// Sends FIN: the client reads end of stream.
    ///
    /// # Errors
    /// The socket's error.
    pub fn close_write(&mut self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }
}

/// Says what a peer was doing when its socket failed, and turns a socket
/// timeout (`WouldBlock` on Unix) into a readable `TimedOut`.
fn explain(e: io::Error, doing: &str) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{doing}: nothing happened for {PEER_IO_TIMEOUT:?}"),
        ),
        kind => io::Error::new(kind, format!("{doing}: {e}")),
    }
}

/// One frame of the default format: length (4 + payload), id, payload.
///
/// # Panics
/// For a payload of 4 GiB or more.
pub fn encode_frame(id: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(4 + payload.len()).expect("test payloads are small");
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

use std::sync::atomic::AtomicUsize;
use std::time::Instant;

/// A script a peer runs on one connection.
pub type Script = Box<dyn FnOnce(&mut PeerConn) -> io::Result<()> + Send>;

impl Peer {
    /// Listens on `127.0.0.1:0` and runs each script on the next
    /// connection, in turn, on a thread of its own: a peer that a
    /// reconnecting client comes back to. With `recv_buffer`, the accepted
    /// sockets' receive buffer is that small (`SO_RCVBUF`, which also turns
    /// off the kernel's growing of it), so a script that stops reading
    /// stops the client's writes after a known amount. Each connection is
    /// closed when its script returns; the test's [`go`](Self::go)s and
    /// [`request`](Self::request)s are shared by all of them.
    ///
    /// # Errors
    /// When the listener cannot be made. A connection that does not come
    /// within [`PEER_IO_TIMEOUT`] ends the scripts with `TimedOut`.
    pub fn spawn_each(recv_buffer: Option<usize>, scripts: Vec<Script>) -> io::Result<Peer> {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        if let Some(n) = recv_buffer {
            // Inherited by the accepted sockets.
            socket.set_recv_buffer_size(n)?;
        }
        socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        socket.listen(16)?;
        let listener: TcpListener = socket.into();
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (req_tx, requests) = mpsc::unbounded_channel();
        let (go, go_rx) = std_mpsc::channel();
        let (done_tx, done) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("peer {addr}"))
            .spawn(move || {
                let mut go_rx = go_rx;
                let result = (|| {
                    for (i, script) in scripts.into_iter().enumerate() {
                        let stream = accept_within(&listener, PEER_IO_TIMEOUT)
                            .map_err(|e| explain(e, &format!("accepting connection {i}")))?;
                        stream.set_nonblocking(false)?;
                        stream.set_read_timeout(Some(PEER_IO_TIMEOUT))?;
                        stream.set_write_timeout(Some(PEER_IO_TIMEOUT))?;
                        stream.set_nodelay(true)?;
                        let mut conn = PeerConn {
                            stream,
                            requests: req_tx.clone(),
                            go: go_rx,
                        };
                        let result = script(&mut conn);
                        // Closes the connection.
                        let PeerConn { go, .. } = conn;
                        go_rx = go;
                        result?;
                    }
                    Ok(())
                })();
                let _ = done_tx.send(result);
            });
        if let Err(e) = thread {
            panic!("spawning a peer thread: {e}");
        }
        Ok(Peer {
            addr,
            requests,
            go,
            done: Some(done),
            // Nothing to unblock on drop: the accepts time out.
            accepted: Arc::new(AtomicBool::new(true)),
        })
    }
}

/// Accepts one connection on a non-blocking listener, polling every
/// millisecond for at most `limit`.
fn accept_within(listener: &TcpListener, limit: Duration) -> io::Result<TcpStream> {
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => return Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if start.elapsed() >= limit {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no connection came",
                    ));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
}

impl PeerConn {
    /// Reads only the header of the next frame (length and id, 8 bytes)
    /// and tells the test about it as a request with an empty payload;
    /// the frame's payload is left unread. Returns the frame's length
    /// field.
    ///
    /// # Errors
    /// As [`read_frame`](Self::read_frame).
    pub fn read_frame_header(&mut self) -> io::Result<usize> {
        let mut header = [0u8; 8];
        self.stream
            .read_exact(&mut header)
            .map_err(|e| explain(e, "reading a frame's header"))?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let id = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let _ = self.requests.send(Frame {
            id,
            payload: Vec::new(),
        });
        Ok(len)
    }
}

/// How long a [`StalledHost`] keeps running if it is never dropped.
const STALLED_HOST_LIFETIME: Duration = Duration::from_secs(60);

/// A host that accepts every connection and then stalls: it never reads
/// or writes, and keeps the connections open until it is dropped. A
/// client's requests to it sit in the kernel's buffers, unanswered.
#[derive(Debug)]
pub struct StalledHost {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl StalledHost {
    /// Listens on `addr` (a loopback address; port 0 for any), on a thread
    /// of its own, which ends when the host is dropped.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub fn spawn(addr: SocketAddr) -> io::Result<StalledHost> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (accepted.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("stalled host {addr}"))
            .spawn(move || {
                let start = Instant::now();
                let mut held = Vec::new();
                while !stopped.load(Ordering::SeqCst) && start.elapsed() < STALLED_HOST_LIFETIME {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            held.push(stream);
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(1)),
                    }
                }
            });
        if let Err(e) = thread {
            panic!("spawning a stalled host's thread: {e}");
        }
        Ok(StalledHost {
            addr,
            accepted,
            stop,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for StalledHost {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A listener on `127.0.0.1:0` whose accept queue is full and never
/// accepted from: Linux drops the SYN of every new connection, so a
/// connect to it never completes its handshake and can only time out.
/// (Loopback only: never an unroutable or private address.)
///
/// Built with a listen backlog of 0, then connections ("fillers") until
/// one cannot complete its handshake: from then on the queue is known to
/// be full. The listener and the fillers stay open for the value's life.
#[derive(Debug)]
pub struct FullAcceptQueue {
    addr: SocketAddr,
    _listener: socket2::Socket,
    _fillers: Vec<TcpStream>,
}

impl FullAcceptQueue {
    /// Binds the listener and fills its accept queue.
    ///
    /// # Errors
    /// The operating system's; `Other` when the queue never fills.
    pub fn new() -> io::Result<FullAcceptQueue> {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        listener.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        listener.listen(0)?;
        let addr = listener
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("the listener has no inet address"))?;
        let mut fillers = Vec::new();
        while fillers.len() < MAX_FILLERS {
            match TcpStream::connect_timeout(&addr, FILL_PROBE) {
                Ok(filler) => fillers.push(filler),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Ok(FullAcceptQueue {
                        addr,
                        _listener: listener,
                        _fillers: fillers,
                    })
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(format!(
            "the accept queue of {addr} still took connections after {MAX_FILLERS}"
        )))
    }

    /// The listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
