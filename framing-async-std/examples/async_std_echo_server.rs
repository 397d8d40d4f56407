//! An echo server: answers every request with its own payload.
//!
//! ```sh
//! cargo run -p framing-async-std --example async_std_echo_server -- --listen 127.0.0.1:7000
//! ```

use framing_async_std::{Bytes, Config, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    async_std::task::block_on(async {
        let addr = flag("--listen").unwrap_or_else(|| "127.0.0.1:7000".into());
        let listener = async_std::net::TcpListener::bind(addr.as_str()).await?;
        println!("listening on {}", listener.local_addr()?);
        // Serves until the process is stopped.
        Server::run(listener, Config::default(), |req: Bytes| async move { req }).await;
        Ok(())
    })
}

/// The value after `name` on the command line.
fn flag(name: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    args.next()
}
