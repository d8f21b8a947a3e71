//! The protojson scalar rules shared by the Sigstore documents: int64 as string or
//! number, bytes as any base64 flavour, and canonical output.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserializer, Visitor};

use super::SigstoreFormatError;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    // Go and Python ignore non-zero trailing bits; so do we, to accept what they accept.
    .with_decode_allow_trailing_bits(true);
const STD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes a protojson bytes field: standard or URL-safe alphabet, padded or not.
/// Line breaks (`\r`, `\n`) are skipped, as Go's decoder (and so protojson in Go) skips
/// them: `openssl base64` output wrapped at 64 columns appears in real bundles.
pub(crate) fn decode_bytes(
    field: &'static str,
    text: &str,
) -> Result<Vec<u8>, SigstoreFormatError> {
    let unwrapped;
    let text = if text.contains(['\r', '\n']) {
        unwrapped = text.replace(['\r', '\n'], "");
        unwrapped.as_str()
    } else {
        text
    };
    let engine = if text.contains(['-', '_']) {
        &URL_LENIENT
    } else {
        &STD_LENIENT
    };
    engine
        .decode(text)
        .map_err(|_| SigstoreFormatError::InvalidBase64 { field })
}

/// Decodes an optional bytes field; absent means empty (the proto3 default).
pub(crate) fn decode_opt_bytes(
    field: &'static str,
    text: Option<&str>,
) -> Result<Vec<u8>, SigstoreFormatError> {
    text.map_or(Ok(Vec::new()), |t| decode_bytes(field, t))
}

/// Encodes bytes as protojson writes them: standard alphabet, padded.
pub(crate) fn encode_bytes(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An integer as protojson allows it: a JSON number or a string holding one. The text is
/// kept and checked later, so the error can name the field.
#[derive(Clone, Debug)]
pub(crate) struct WireInt(String);

impl<'de> serde::Deserialize<'de> for WireInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WireInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string holding an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireInt, E> {
                Ok(WireInt(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireInt, E> {
                Ok(WireInt(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireInt, E> {
                Ok(WireInt(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WireInt, E> {
                // protojson accepts 1.0 or 1e3 for an integer field when the value is
                // integral; anything else is caught by the range check later.
                if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(WireInt(format!("{v:.0}")))
                } else {
                    Ok(WireInt(v.to_string()))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A non-negative int64: absent is 0; negative is [`SigstoreFormatError::NegativeValue`].
pub(crate) fn non_negative(
    field: &'static str,
    v: Option<&WireInt>,
) -> Result<u64, SigstoreFormatError> {
    let Some(WireInt(text)) = v else {
        return Ok(0);
    };
    let n: i64 = text
        .parse()
        .map_err(|_| SigstoreFormatError::InvalidInteger {
            field,
            value: text.chars().take(64).collect(),
        })?;
    u64::try_from(n).map_err(|_| SigstoreFormatError::NegativeValue { field, value: n })
}

/// A non-negative int32 (e.g. `majorApiVersion`, `count`); absent is 0.
pub(crate) fn non_negative_u32(
    field: &'static str,
    v: Option<&WireInt>,
) -> Result<u32, SigstoreFormatError> {
    let n = non_negative(field, v)?;
    u32::try_from(n).map_err(|_| SigstoreFormatError::InvalidInteger {
        field,
        value: n.to_string(),
    })
}

/// A protojson enum: its name as a string, or its number.
#[derive(Clone, Debug)]
pub(crate) enum WireEnum {
    Name(String),
    Number(i64),
}

impl<'de> serde::Deserialize<'de> for WireEnum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WireEnum;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an enum name or number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireEnum, E> {
                Ok(WireEnum::Name(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireEnum, E> {
                Ok(WireEnum::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireEnum, E> {
                Ok(WireEnum::Number(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Maps a protojson enum through `table` of `(name, number, value)`; absent is `default`.
pub(crate) fn enum_value<T: Copy>(
    field: &'static str,
    v: Option<&WireEnum>,
    default: T,
    table: &[(&'static str, Option<i64>, T)],
) -> Result<T, SigstoreFormatError> {
    let found = match v {
        None => return Ok(default),
        Some(WireEnum::Name(name)) => table.iter().find(|(n, _, _)| n == name),
        Some(WireEnum::Number(num)) => table.iter().find(|(_, n, _)| *n == Some(*num)),
    };
    found
        .map(|(_, _, t)| *t)
        .ok_or_else(|| SigstoreFormatError::UnknownEnumValue {
            field,
            value: match v {
                Some(WireEnum::Name(n)) => n.chars().take(64).collect(),
                Some(WireEnum::Number(n)) => n.to_string(),
                None => String::new(),
            },
        })
}

/// Checks that a service URL (`baseUrl`, `uri`, `url`) is absent (empty) or absolute:
/// `scheme://authority[...]` with no whitespace or control characters, so that it can
/// be printed in a one-line message and handed to an HTTP client.
pub(crate) fn check_url(field: &'static str, url: &str) -> Result<(), SigstoreFormatError> {
    if url.is_empty() {
        return Ok(());
    }
    let well_formed = url.split_once("://").is_some_and(|(scheme, rest)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !rest.is_empty()
            && !rest.starts_with(['/', '?', '#'])
    }) && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if well_formed {
        Ok(())
    } else {
        Err(SigstoreFormatError::InvalidUrl {
            field,
            value: url.chars().take(200).collect(),
        })
    }
}

/// A Merkle tree hash: exactly 32 bytes (SHA-256), or
/// [`SigstoreFormatError::InvalidHashLength`] naming `field`.
pub(crate) fn check_hash_length(
    field: &'static str,
    hash: &[u8],
) -> Result<(), SigstoreFormatError> {
    if hash.len() == 32 {
        Ok(())
    } else {
        Err(SigstoreFormatError::InvalidHashLength {
            field,
            found: hash.len(),
        })
    }
}

/// The protojson path (`verificationMaterial.tlogEntries[0].logIndex`) of the value a
/// serde error in `json` happened in, from the error's line and column; empty at the
/// top level or when the error has no position.
///
/// serde_json reports where it stopped (on or just after the offending token) but not
/// the field, so the text before that point is scanned again, tracking the open
/// objects and arrays, the current key of each object and the position in each array.
pub(crate) fn error_path(json: &[u8], err: &serde_json::Error) -> String {
    if err.line() == 0 {
        return String::new();
    }
    // serde_json's column counts the bytes of the line read so far.
    let line_start = match err.line().checked_sub(2) {
        None => 0,
        Some(newlines_before) => json
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(newlines_before)
            .map_or(json.len(), |(i, _)| i + 1),
    };
    let stop = line_start.saturating_add(err.column());
    if err.is_eof() {
        // The text ends inside the value: everything read is part of the path.
        return path_before(json, json.len());
    }
    // Leave out the byte the error points at or just after: the value is open, and
    // an opening bracket there would add a level that is not (yet) part of the path.
    path_before(json, stop.saturating_sub(1).min(json.len()))
}

enum Frame {
    Object { key: Option<String>, in_value: bool },
    Array { index: usize, started: bool },
}

/// The path of the value open at byte `end` of `json` (see [`error_path`]).
fn path_before(json: &[u8], end: usize) -> String {
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end {
        if let Some(Frame::Array { started, .. }) = stack.last_mut()
            && !matches!(json[i], b' ' | b'\t' | b'\r' | b'\n' | b',' | b']')
        {
            *started = true;
        }
        match json[i] {
            b'{' => stack.push(Frame::Object {
                key: None,
                in_value: false,
            }),
            b'[' => stack.push(Frame::Array {
                index: 0,
                started: false,
            }),
            b'}' | b']' => {
                stack.pop();
            }
            b':' => {
                if let Some(Frame::Object { in_value, .. }) = stack.last_mut() {
                    *in_value = true;
                }
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { key, in_value }) => {
                    *key = None;
                    *in_value = false;
                }
                Some(Frame::Array { index, .. }) => *index += 1,
                None => {}
            },
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < end && json[j] != b'"' {
                    j += if json[j] == b'\\' { 2 } else { 1 };
                }
                // A key cut short by `end` still names the member (serde reports a
                // duplicate field just after its key).
                if let Some(Frame::Object {
                    key,
                    in_value: false,
                }) = stack.last_mut()
                {
                    let text = json.get(start..j.min(end)).unwrap_or_default();
                    *key = Some(String::from_utf8_lossy(text).into_owned());
                }
                if j >= end {
                    break;
                }
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    // An array with no element before `end` or at it is the offending value itself
    // (serde reads `[]` whole before it reports the type error), not a level of the
    // path.
    let element_at_end = json
        .get(end)
        .is_some_and(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b',' | b']'));
    if let Some(Frame::Array { started: false, .. }) = stack.last()
        && !element_at_end
    {
        stack.pop();
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object { key: Some(k), .. } => {
                let plain = !k.is_empty()
                    && k.len() <= 64
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if plain {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                } else {
                    let k: String = k.chars().take(64).collect();
                    path.push_str(&format!("[{k:?}]"));
                }
            }
            Frame::Object { key: None, .. } => {}
            Frame::Array { index, .. } => path.push_str(&format!("[{index}]")),
        }
        if path.len() > 300 {
            path.push('…');
            break;
        }
    }
    path
}

/// The name of `value` in `table`, for writing.
pub(crate) fn enum_name<T: PartialEq + Copy>(
    value: T,
    table: &[(&'static str, Option<i64>, T)],
) -> &'static str {
    table
        .iter()
        .find(|(_, _, t)| *t == value)
        .map_or("", |(n, _, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_paths_name_the_value_the_parser_stopped_in() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            #[serde(default)]
            n: Option<u8>,
            #[serde(default)]
            list: Option<Vec<u8>>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            #[serde(default)]
            a: Option<Vec<Inner>>,
            #[serde(default)]
            s: Option<String>,
        }
        let path = |json: &str| {
            let err = serde_json::from_str::<Outer>(json).unwrap_err();
            error_path(json.as_bytes(), &err)
        };
        assert_eq!(path(r#"{"a":[{"n":1},{"n":true}]}"#), "a[1].n");
        assert_eq!(path(r#"{"a":[{"n":1},{"n":{"x":[1]}}]}"#), "a[1].n");
        assert_eq!(path(r#"{"a":[{"n":1},{"n":[1,2]}]}"#), "a[1].n");
        assert_eq!(path(r#"{"a":[{"n":1},{"n":[]}]}"#), "a[1].n");
        assert_eq!(path(r#"{"s":[]}"#), "s");
        assert_eq!(
            path(r#"{"s":"x", "a":[{"list":[1,2,"x"]}]}"#),
            "a[0].list[2]"
        );
        assert_eq!(path("{\n  \"s\": 5\n}"), "s");
        assert_eq!(path(r#"{"s":"x","a":{"n":1}}"#), "a");
        assert_eq!(path(r#"{"s":"a\"b","a":[{"n":300}]}"#), "a[0].n");
        assert_eq!(path(r#"{"a":[{"n":1}"#), "a[0]");
        assert_eq!(path(r#"{"a":[{"n":"#), "a[0].n");
        assert_eq!(path(r#"{"we ird\n":{"s":1}, "s":2}"#), "s");
        // serde reads a struct from an array too, positionally.
        assert_eq!(path("[1]"), "[0]");
        assert_eq!(path("5"), "");
        assert_eq!(path(""), "");
        assert_eq!(path(r#"{"a":[],"a":[]}"#), "a");
    }

    #[test]
    fn urls_must_be_absolute() {
        for ok in [
            "",
            "https://rekor.sigstore.dev",
            "http://localhost:8000/api/v1",
            "s3+x://b",
        ] {
            assert!(check_url("u", ok).is_ok(), "{ok}");
        }
        for bad in [
            "rekor.sigstore.dev",
            "https://",
            "https:///path",
            "://host",
            "1http://host",
            "https://host/a b",
            "https://host\n",
            "ht tp://host",
        ] {
            assert!(
                matches!(
                    check_url("u", bad),
                    Err(SigstoreFormatError::InvalidUrl { field: "u", .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bytes_accept_every_base64_flavour() {
        // 0xfb 0xff encodes as "+/8=" (standard) and "-_8=" (URL-safe).
        for text in ["+/8=", "+/8", "-_8=", "-_8"] {
            assert_eq!(decode_bytes("f", text).unwrap(), vec![0xfb, 0xff], "{text}");
        }
        assert_eq!(decode_bytes("f", "").unwrap(), Vec::<u8>::new());
        assert_eq!(
            decode_bytes("f", "AQID\nBAUG\r\n").unwrap(),
            vec![1, 2, 3, 4, 5, 6]
        );
        assert!(matches!(
            decode_bytes("f", "AQID BAUG"),
            Err(SigstoreFormatError::InvalidBase64 { .. })
        ));
        assert!(matches!(
            decode_bytes("x.y", "INVALID!!!"),
            Err(SigstoreFormatError::InvalidBase64 { field: "x.y" })
        ));
        assert_eq!(encode_bytes(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn ints_accept_strings_and_numbers() {
        let parse = |j: &str| serde_json::from_str::<WireInt>(j).unwrap();
        assert_eq!(non_negative("f", Some(&parse("\"42\""))).unwrap(), 42);
        assert_eq!(non_negative("f", Some(&parse("42"))).unwrap(), 42);
        assert_eq!(non_negative("f", Some(&parse("4.2e1"))).unwrap(), 42);
        assert_eq!(non_negative("f", None).unwrap(), 0);
        assert!(matches!(
            non_negative("f", Some(&parse("\"-1\""))),
            Err(SigstoreFormatError::NegativeValue {
                field: "f",
                value: -1
            })
        ));
        assert!(matches!(
            non_negative("f", Some(&parse("\"x\""))),
            Err(SigstoreFormatError::InvalidInteger { .. })
        ));
        assert!(matches!(
            non_negative("f", Some(&parse("\"9223372036854775808\""))),
            Err(SigstoreFormatError::InvalidInteger { .. })
        ));
        assert!(matches!(
            non_negative("f", Some(&parse("1.5"))),
            Err(SigstoreFormatError::InvalidInteger { .. })
        ));
    }
}
