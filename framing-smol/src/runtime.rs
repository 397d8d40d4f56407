//! [`Runtime`](framing_driver::Runtime) for smol: its global executor,
//! async-io timers and `smol::net` TCP, from the async-io implementation
//! shared with async-std.

framing_driver::async_io_runtime! {
    /// The smol runtime, as the driver sees it: tasks go to smol's global
    /// executor (`smol::spawn`).
    Smol, smol::net::TcpStream, smol::net::TcpListener, |fut| smol::spawn(fut).detach()
}
