//! An echo server: answers every request with its own payload.
//!
//! ```sh
//! cargo run -p framing-smol --example smol_echo_server -- --listen 127.0.0.1:7000
//! ```

use framing_smol::{Bytes, Config, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(async {
        let addr = flag("--listen").unwrap_or_else(|| "127.0.0.1:7000".into());
        let listener = smol::net::TcpListener::bind(addr.as_str()).await?;
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
