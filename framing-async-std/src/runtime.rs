//! [`Runtime`](framing_driver::Runtime) for async-std: its task spawner and
//! `async_std::net` TCP, with the async-io timers async-std itself runs on,
//! from the async-io implementation shared with smol.

framing_driver::async_io_runtime! {
    /// The async-std runtime, as the driver sees it: tasks go to
    /// `async_std::task::spawn` (dropping the handle detaches the task).
    AsyncStd, async_std::net::TcpStream, async_std::net::TcpListener,
    |fut| drop(async_std::task::spawn(fut))
}
