//! A client: sends each line of standard input as a request and prints
//! the answer (or why there is none).
//!
//! ```sh
//! cargo run -p framing-smol --example smol_echo_server &
//! cargo run -p framing-smol --example smol_client -- --connect 127.0.0.1:7000
//! ```
//!
//! `--connect` takes an address or `host:port`. The client reconnects if
//! the server restarts; each call has a 5 s deadline.

use std::time::Duration;

use framing_smol::{Client, Config, CoreConfig, Reconnect};
use smol::io::{AsyncBufReadExt, BufReader};
use smol::stream::StreamExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(async {
        let target = flag("--connect").unwrap_or_else(|| "127.0.0.1:7000".into());
        let config = Config::builder()
            .core(
                CoreConfig::builder()
                    .call_timeout(Some(Duration::from_secs(5)))
                    .build()?,
            )
            .reconnect(Some(Reconnect::new()))
            .build()?;
        let client = Client::connect_with(target.as_str(), config).await?;
        eprintln!("connected to {}", client.peer_addr().expect("a TCP peer"));
        let mut lines = BufReader::new(smol::Unblock::new(std::io::stdin())).lines();
        while let Some(line) = lines.next().await {
            match client.call(line?).await {
                Ok(answer) => println!("{}", String::from_utf8_lossy(&answer)),
                Err(e) => eprintln!("no answer: {e}"),
            }
        }
        client.shutdown(Duration::from_secs(1)).await;
        Ok(())
    })
}

/// The value after `name` on the command line.
fn flag(name: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    args.next()
}
