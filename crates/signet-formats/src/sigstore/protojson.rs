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
