//! An echo server: answers every request with its own payload.
//!
//! ```sh
//! cargo run -p framing-tokio --example tokio_echo_server -- --listen 127.0.0.1:7000
//! ```
//!
//! Stops on Ctrl-C, answering what is in flight first.

use framing_tokio::{Bytes, Config, Server};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = flag("--listen").unwrap_or_else(|| "127.0.0.1:7000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    Server::run(listener, Config::default(), |req: Bytes| async move { req })
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}

/// The value after `name` on the command line.
fn flag(name: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    args.next()
}
