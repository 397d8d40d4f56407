//! Helpers shared by the benches' integration tests: child processes of
//! the workspace's binaries that cannot outlive a failed test.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A child process, killed when dropped (a failed test leaves none behind).
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `framing-testserver` on 127.0.0.1:0 with `args` and reads its
/// address from its first line.
pub(crate) fn spawn_testserver(args: &[&str]) -> (Process, SocketAddr) {
    let mut child = Process(
        Command::new(env!("CARGO_BIN_EXE_framing-testserver"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("testserver said {line:?}"))
        .parse()
        .unwrap();
    (child, addr)
}
