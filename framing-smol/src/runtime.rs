//! [`Runtime`](framing_driver::Runtime) for smol: its global executor,
//! async-io timers and `smol::net` TCP and name resolution, from the
//! async-io implementation shared with async-std.

framing_driver::async_io_runtime! {
    /// The smol runtime, as the driver sees it: tasks go to smol's global
    /// executor (`smol::spawn`).
    Smol, smol::net::TcpStream, smol::net::TcpListener,
    spawn: |fut| smol::spawn(fut).detach(),
    resolve: |host, port| smol::net::resolve((host.as_str(), port)).await,
}
