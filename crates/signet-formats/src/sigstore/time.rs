//! Times in Sigstore documents: RFC 3339 text (protojson `google.protobuf.Timestamp`)
//! as seconds since the Unix epoch, and closed validity windows.

use std::fmt;

use serde::Deserialize;

use super::SigstoreFormatError;

/// Seconds since 1970-01-01T00:00:00Z (negative before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

/// Days since the epoch of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parsed RFC 3339: whole seconds and whether a non-zero fraction followed them.
struct Rfc3339 {
    seconds: i64,
    has_fraction: bool,
}

fn parse_rfc3339(s: &str) -> Option<Rfc3339> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter()
            .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59
    {
        return None;
    }
    let mut i = 19;
    let mut has_fraction = false;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            has_fraction |= b[i] != b'0';
            i += 1;
        }
        if i == start || i - start > 9 {
            return None;
        }
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let oh = i64::from(h1 - b'0') * 10 + i64::from(h2 - b'0');
            let om = i64::from(m1 - b'0') * 10 + i64::from(m2 - b'0');
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let seconds = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some(Rfc3339 {
        seconds,
        has_fraction,
    })
}

impl UnixTime {
    /// Parses RFC 3339 (`2024-01-02T03:04:05Z`, `…05.123Z`, `…05+02:00`), truncating any
    /// fraction of a second. `field` names the field in the error.
    pub fn parse_rfc3339(field: &'static str, text: &str) -> Result<Self, SigstoreFormatError> {
        parse_rfc3339(text)
            .map(|t| UnixTime(t.seconds))
            .ok_or_else(|| SigstoreFormatError::InvalidTime {
                field,
                value: text.chars().take(64).collect(),
            })
    }

    /// The time as RFC 3339 in UTC with whole seconds, e.g. `2024-01-02T03:04:05Z`.
    pub fn to_rfc3339(self) -> String {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A closed validity interval `[start, end]` (protobuf-specs `TimeRange`): `start` is
/// required, and no `end` means open-ended.
///
/// Both ends are inclusive, as the conformance cases `trust-root-*-validity-end-inclusive`
/// require. A start with a fraction of a second is rounded up and an end rounded down,
/// so the window never grows by rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ValidityWindow {
    start: UnixTime,
    end: Option<UnixTime>,
}

impl ValidityWindow {
    /// A window from `start` to `end` (inclusive), or open-ended. `field` names the window
    /// in the error when `end` is before `start`.
    pub fn new(
        field: &'static str,
        start: UnixTime,
        end: Option<UnixTime>,
    ) -> Result<Self, SigstoreFormatError> {
        match end {
            Some(end) if end < start => {
                Err(SigstoreFormatError::InvertedValidityWindow { field, start, end })
            }
            _ => Ok(ValidityWindow { start, end }),
        }
    }

    /// The first second of validity.
    pub fn start(&self) -> UnixTime {
        self.start
    }

    /// The last second of validity, if any.
    pub fn end(&self) -> Option<UnixTime> {
        self.end
    }

    /// Whether `t` lies in the window, both ends included.
    pub fn contains(&self, t: UnixTime) -> bool {
        self.start <= t && self.end.is_none_or(|end| t <= end)
    }

    /// Parses a protojson `TimeRange`; `field` is the path of the `validFor` object.
    pub(crate) fn from_wire(
        field: &'static str,
        start_field: &'static str,
        end_field: &'static str,
        wire: Option<&WireTimeRange>,
    ) -> Result<Self, SigstoreFormatError> {
        let wire = wire.ok_or(SigstoreFormatError::MissingField { field })?;
        let start_text = wire
            .start
            .as_deref()
            .ok_or(SigstoreFormatError::MissingField { field: start_field })?;
        let start = parse_rfc3339(start_text).ok_or_else(|| SigstoreFormatError::InvalidTime {
            field: start_field,
            value: start_text.chars().take(64).collect(),
        })?;
        let start = UnixTime(start.seconds + i64::from(start.has_fraction));
        let end = match wire.end.as_deref() {
            None => None,
            Some(text) => Some(UnixTime::parse_rfc3339(end_field, text)?),
        };
        ValidityWindow::new(field, start, end)
    }
}

/// The wire form of a `TimeRange`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a JSON object")]
pub(crate) struct WireTimeRange {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_forms() {
        let p = |s| UnixTime::parse_rfc3339("t", s).unwrap().0;
        assert_eq!(p("1970-01-01T00:00:00Z"), 0);
        assert_eq!(p("2021-01-12T11:53:27.000Z"), 1_610_452_407);
        assert_eq!(p("2021-01-12T11:53:27.999999999Z"), 1_610_452_407);
        assert_eq!(p("2021-01-12T13:53:27+02:00"), 1_610_452_407);
        assert_eq!(p("2021-01-12T06:23:27-05:30"), 1_610_452_407);
        assert_eq!(p("2000-02-29T00:00:00z"), 951_782_400);
        assert_eq!(p("1969-12-31T23:59:59Z"), -1);
        for bad in [
            "",
            "2021-01-12",
            "2021-01-12T11:53:27",
            "2021-02-29T00:00:00Z",
            "2021-13-01T00:00:00Z",
            "2021-01-12T24:00:00Z",
            "2021-01-12T11:53:60Z",
            "2021-01-12T11:53:27.Z",
            "2021-01-12T11:53:27.1234567890Z",
            "2021-01-12T11:53:27+0200",
            "2021-01-12 11:53:27Z",
            "+021-01-12T11:53:27Z",
            "2021-01-12T11:53:27Zjunk",
        ] {
            assert!(
                matches!(
                    UnixTime::parse_rfc3339("x", bad),
                    Err(SigstoreFormatError::InvalidTime { field: "x", .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn prints_what_it_parses() {
        for t in [0, 1_610_452_407, 951_782_400, -1, 253_402_300_799] {
            let s = UnixTime(t).to_rfc3339();
            assert_eq!(
                UnixTime::parse_rfc3339("t", &s).unwrap(),
                UnixTime(t),
                "{s}"
            );
        }
    }

    #[test]
    fn windows_are_closed() {
        let w = ValidityWindow::new("w", UnixTime(10), Some(UnixTime(20))).unwrap();
        assert!(!w.contains(UnixTime(9)));
        assert!(w.contains(UnixTime(10)));
        assert!(w.contains(UnixTime(20)));
        assert!(!w.contains(UnixTime(21)));
        let open = ValidityWindow::new("w", UnixTime(10), None).unwrap();
        assert!(open.contains(UnixTime(i64::MAX)));
        assert!(matches!(
            ValidityWindow::new("w", UnixTime(10), Some(UnixTime(9))),
            Err(SigstoreFormatError::InvertedValidityWindow { .. })
        ));
    }

    #[test]
    fn fractional_start_rounds_inward() {
        let wire: WireTimeRange = serde_json::from_str(
            r#"{"start":"1970-01-01T00:00:10.5Z","end":"1970-01-01T00:00:20.5Z"}"#,
        )
        .unwrap();
        let w = ValidityWindow::from_wire("v", "v.start", "v.end", Some(&wire)).unwrap();
        assert_eq!((w.start(), w.end()), (UnixTime(11), Some(UnixTime(20))));
        let missing: WireTimeRange =
            serde_json::from_str(r#"{"end":"1970-01-01T00:00:20Z"}"#).unwrap();
        assert!(matches!(
            ValidityWindow::from_wire("v", "v.start", "v.end", Some(&missing)),
            Err(SigstoreFormatError::MissingField { field: "v.start" })
        ));
    }
}
