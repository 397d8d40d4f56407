//! What `/proc` tells about this process and this machine (Linux).

use std::io;

/// This process's resident set size in KiB (`VmRSS` of `/proc/self/status`).
///
/// # Errors
/// When `/proc/self/status` cannot be read or has no `VmRSS` line.
pub fn rss_kib() -> io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    parse_status_kib(&status, "VmRSS:")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS in /proc/self/status"))
}

/// The soft and hard limits on open files of this process (`None` stands
/// for unlimited), from `/proc/self/limits`.
///
/// # Errors
/// When `/proc/self/limits` cannot be read or has no `Max open files` line.
pub fn open_files_limit() -> io::Result<(Option<u64>, Option<u64>)> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    parse_open_files(&limits).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "no `Max open files` in /proc/self/limits",
        )
    })
}

/// The first output line: `nproc=N kernel=RELEASE arch=ARCH` (the kernel
/// release as `uname -r` prints it).
pub fn machine_line() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    format!(
        "nproc={nproc} kernel={kernel} arch={}",
        std::env::consts::ARCH
    )
}

fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

fn parse_open_files(limits: &str) -> Option<(Option<u64>, Option<u64>)> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line["Max open files".len()..].split_whitespace();
    let mut limit = || match fields.next()? {
        "unlimited" => Some(None),
        n => n.parse().ok().map(Some),
    };
    Some((limit()?, limit()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vmrss_in_kib() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nRssAnon:\t 100 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(5120));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_soft_and_hard_open_file_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             95000                95000                processes \n\
                      Max open files            1024                 unlimited            files     \n";
        assert_eq!(parse_open_files(limits), Some((Some(1024), None)));
        assert_eq!(parse_open_files("Max processes 1 1 processes\n"), None);
    }

    #[test]
    fn this_process_has_a_resident_size() {
        assert!(rss_kib().unwrap() > 0);
        let (soft, hard) = open_files_limit().unwrap();
        assert!(soft.unwrap_or(u64::MAX) <= hard.unwrap_or(u64::MAX));
    }
}
