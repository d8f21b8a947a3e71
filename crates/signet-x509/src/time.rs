//! Points in time and closed validity windows. The library never reads the clock:
//! callers pass the time at which a check applies.

use core::fmt;

/// Seconds since the Unix epoch (UTC), the unit of X.509 validity and trust-root windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The time from a millisecond timestamp (an SCT timestamp), rounded down to the second.
    pub fn from_millis(millis: u64) -> Self {
        // u64::MAX / 1000 fits in i64.
        UnixTime(i64::try_from(millis / 1000).unwrap_or(i64::MAX))
    }

    /// The number of seconds since the epoch.
    pub fn seconds(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (unix seconds)", self.0)
    }
}

/// A closed interval `[start, end]`, as in a Sigstore trusted root's `validFor`.
///
/// `end: None` means the window is still open. Both ends are inclusive
/// (conformance cases `trust-root-*-validity-end-inclusive`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// First instant of the window (inclusive).
    pub start: UnixTime,
    /// Last instant of the window (inclusive), or `None` for an open window.
    pub end: Option<UnixTime>,
}

impl TimeRange {
    /// A window starting at `start` with no end.
    pub fn starting_at(start: UnixTime) -> Self {
        TimeRange { start, end: None }
    }

    /// Whether `at` lies within the window, both ends included.
    pub fn contains(&self, at: UnixTime) -> bool {
        self.start <= at && self.end.is_none_or(|end| at <= end)
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
            Some(end) => write!(f, "[{}, {}]", self.start.0, end.0),
            None => write!(f, "[{}, open]", self.start.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_closed_on_both_ends() {
        let r = TimeRange {
            start: UnixTime(10),
            end: Some(UnixTime(20)),
        };
        assert!(!r.contains(UnixTime(9)));
        assert!(r.contains(UnixTime(10)));
        assert!(r.contains(UnixTime(20)));
        assert!(!r.contains(UnixTime(21)));
        assert!(TimeRange::starting_at(UnixTime(10)).contains(UnixTime(i64::MAX)));
    }

    #[test]
    fn millis_round_down() {
        assert_eq!(UnixTime::from_millis(1_999), UnixTime(1));
        assert_eq!(
            UnixTime::from_millis(u64::MAX),
            UnixTime(18_446_744_073_709_551)
        );
    }
}
