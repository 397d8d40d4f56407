//! [`Runtime`](framing_driver::Runtime) for async-std: its task spawner,
//! `async_std::net` TCP and name resolution, with the async-io timers
//! async-std itself runs on, from the async-io implementation shared with
//! smol.

framing_driver::async_io_runtime! {
    /// The async-std runtime, as the driver sees it: tasks go to
    /// `async_std::task::spawn` (dropping the handle detaches the task).
    AsyncStd, async_std::net::TcpStream, async_std::net::TcpListener,
    spawn: |fut| drop(async_std::task::spawn(fut)),
    resolve: |host, port| {
        use async_std::net::ToSocketAddrs;
        (host.as_str(), port).to_socket_addrs().await.map(Iterator::collect)
    },
}
