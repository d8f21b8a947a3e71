//! One line per event on stderr, with a UTC timestamp: what an operator reads in
//! `kubectl logs`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Writes `message` as one log line.
pub(crate) fn event(level: &str, message: &str) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let one_line = message.replace('\n', " | ");
    eprintln!("{} {level} signet-admission: {one_line}", timestamp(secs));
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch.
fn timestamp(secs: u64) -> String {
    signet_formats::sigstore::UnixTime(i64::try_from(secs).unwrap_or(i64::MAX)).to_rfc3339()
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps() {
        assert_eq!(super::timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::timestamp(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
