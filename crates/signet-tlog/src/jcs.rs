//! RFC 8785 JSON Canonicalization Scheme (JCS), restricted to integer numbers.
//!
//! This is what Rekor signs in a signed entry timestamp (see [`crate::set`]):
//!
//! - object members sorted by their keys compared as UTF-16 code units;
//! - no whitespace;
//! - strings escaped as ECMAScript `JSON.stringify` does: only `"`, `\` and the
//!   control characters U+0000..U+001F are escaped, as `\b \f \n \r \t` or
//!   `\u00xx` with lowercase hex; everything else (including non-ASCII) is written
//!   as UTF-8;
//! - numbers: **integers only**, with magnitude at most 2^53 − 1, printed in
//!   decimal. A number with a fraction or exponent (`1.0`, `1e2`, `-0`) is
//!   rejected with [`JcsError::NonIntegerNumber`]; ECMAScript number formatting of
//!   floating-point values is not implemented.
//!
//! Duplicate object keys cannot be detected here: `serde_json::Value` keeps the last
//! one. Callers that canonicalize untrusted text should know that.

use std::fmt::Write as _;

use serde_json::Value;

/// The largest integer that an IEEE 754 double (and so RFC 8785) represents exactly
/// together with all smaller integers (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a JSON value cannot be canonicalized.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JcsError {
    /// The input is not JSON.
    #[error("not valid JSON at line {line}, column {column}: {detail}")]
    InvalidJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser reported.
        detail: String,
    },

    /// A number with a fraction, an exponent or a negative zero.
    #[error(
        "the number {found} is not an integer: this canonicalizer handles integers only (Rekor payloads have no fractions)"
    )]
    NonIntegerNumber {
        /// The number as it was parsed.
        found: String,
    },

    /// An integer that an IEEE 754 double cannot hold exactly.
    #[error(
        "the integer {found} is outside ±(2^53 - 1): RFC 8785 treats numbers as doubles, so it cannot be canonicalized exactly"
    )]
    IntegerOutOfRange {
        /// The integer as it was parsed.
        found: String,
    },
}

/// Parses `json` and returns its RFC 8785 canonical form.
///
/// # Errors
/// [`JcsError::InvalidJson`] and the errors of [`canonicalize`].
pub fn canonicalize_json(json: &[u8]) -> Result<String, JcsError> {
    let value: Value = serde_json::from_slice(json).map_err(|e| JcsError::InvalidJson {
        line: e.line(),
        column: e.column(),
        detail: e.to_string(),
    })?;
    canonicalize(&value)
}

/// The RFC 8785 canonical form of `value`.
///
/// # Errors
/// [`JcsError::NonIntegerNumber`] and [`JcsError::IntegerOutOfRange`].
pub fn canonicalize(value: &Value) -> Result<String, JcsError> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String) -> Result<(), JcsError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i.unsigned_abs() > MAX_SAFE_INTEGER {
                    return Err(JcsError::IntegerOutOfRange {
                        found: n.to_string(),
                    });
                }
                // Writing to a String cannot fail.
                let _ = write!(out, "{i}");
            } else if n.as_u64().is_some() {
                // Only values above i64::MAX get here, all far beyond 2^53.
                return Err(JcsError::IntegerOutOfRange {
                    found: n.to_string(),
                });
            } else {
                return Err(JcsError::NonIntegerNumber {
                    found: n.to_string(),
                });
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(Vec<u16>, &String, &Value)> = map
                .iter()
                .map(|(k, v)| (k.encode_utf16().collect(), k, v))
                .collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (_, k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(v, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    // Runs that need no escape (most of a body: base64 and plain ASCII) are copied
    // whole; only `"`, `\\` and control characters are escaped, as RFC 8785 requires.
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        if b != b'"' && b != b'\\' && b >= 0x20 {
            continue;
        }
        out.push_str(&s[run..i]);
        run = i + 1;
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
    }
    out.push_str(&s[run..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // RFC 8785 §3.2.3 example: the emoji is the surrogate pair D83D DE00, which
        // sorts before U+FB33 in UTF-16 although it is after it in code points.
        let v = json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{0080}": "Control",
            "\u{00f6}": "Latin Small Letter O With Diaeresis"
        });
        let got = canonicalize(&v).expect("canonical");
        let order: Vec<&str> = vec![
            "\\r",
            "1",
            "\u{80}",
            "\u{f6}",
            "\u{20ac}",
            "\u{1f600}",
            "\u{fb33}",
        ];
        let mut pos = 0;
        for k in order {
            let at = got[pos..]
                .find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} out of order in {got}"));
            pos += at + 1;
        }
    }

    #[test]
    fn escapes_like_ecmascript() {
        let v = json!({"s": "a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}/é\u{2028}"});
        assert_eq!(
            canonicalize(&v).expect("canonical"),
            "{\"s\":\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}/é\u{2028}\"}"
        );
    }

    #[test]
    fn rekor_payload_shape() {
        let v =
            json!({"logIndex": 5, "logID": "c0ff", "integratedTime": 1624396085, "body": "eyJ9"});
        assert_eq!(
            canonicalize(&v).expect("canonical"),
            r#"{"body":"eyJ9","integratedTime":1624396085,"logID":"c0ff","logIndex":5}"#
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            canonicalize_json(b"[0, -1, 9007199254740991, -9007199254740991]"),
            Ok("[0,-1,9007199254740991,-9007199254740991]".into())
        );
        assert!(matches!(
            canonicalize_json(b"1.5"),
            Err(JcsError::NonIntegerNumber { .. })
        ));
        assert!(matches!(
            canonicalize_json(b"1e3"),
            Err(JcsError::NonIntegerNumber { .. })
        ));
        assert!(matches!(
            canonicalize_json(b"1.0"),
            Err(JcsError::NonIntegerNumber { .. })
        ));
        assert!(matches!(
            canonicalize_json(b"9007199254740992"),
            Err(JcsError::IntegerOutOfRange { .. })
        ));
        assert!(matches!(
            canonicalize_json(b"-9007199254740992"),
            Err(JcsError::IntegerOutOfRange { .. })
        ));
        assert!(matches!(
            canonicalize_json(b"18446744073709551615"),
            Err(JcsError::IntegerOutOfRange { .. })
        ));
        assert!(matches!(
            canonicalize_json(b"{"),
            Err(JcsError::InvalidJson { .. })
        ));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-(MAX_SAFE_INTEGER as i64)..=(MAX_SAFE_INTEGER as i64)).prop_map(|i| json!(i)),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..8)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// JSON text for `v` that is as far from canonical as serde allows: pretty-printed,
    /// and with every non-ASCII character written as a `\uXXXX` escape (UTF-16
    /// surrogate pairs above U+FFFF). Non-ASCII only occurs inside strings, so the
    /// result is still JSON for the same value.
    fn uncanonical_text(v: &Value) -> String {
        let pretty = serde_json::to_string_pretty(v).expect("a Value serializes");
        let mut out = String::with_capacity(pretty.len());
        for c in pretty.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04X}");
                }
            }
        }
        out
    }

    proptest! {
        /// Parse -> canonicalize -> parse gives the value back, from JSON text that is
        /// not canonical, and canonicalizing the canonical text changes nothing.
        #[test]
        fn uncanonical_text_round_trips(v in arb_json()) {
            let text = uncanonical_text(&v);
            let parsed: Value = serde_json::from_str(&text).expect("escaped text is JSON");
            prop_assert_eq!(&parsed, &v);
            let c = canonicalize_json(text.as_bytes()).expect("integers only");
            prop_assert_eq!(&c, &canonicalize(&v).expect("integers only"));
            let reparsed: Value = serde_json::from_str(&c).expect("canonical output is JSON");
            prop_assert_eq!(&reparsed, &v);
            prop_assert_eq!(canonicalize_json(c.as_bytes()).expect("canonical"), c);
        }

        #[test]
        fn canonical_form_is_a_fixed_point(v in arb_json()) {
            let c = canonicalize(&v).expect("integers only");
            let reparsed: Value = serde_json::from_str(&c).expect("canonical output is JSON");
            prop_assert_eq!(&reparsed, &v);
            prop_assert_eq!(canonicalize(&reparsed).expect("canonical"), c.clone());
            prop_assert_eq!(canonicalize_json(c.as_bytes()).expect("canonical"), c);
        }

        #[test]
        fn key_order_is_irrelevant(kv in prop::collection::vec((any::<String>(), any::<i32>()), 0..12)) {
            let forward: serde_json::Map<String, Value> = kv.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            // Build the same object from text with the members in reverse order.
            let mut text = String::from("{");
            let mut first = true;
            for (k, v) in forward.iter().rev() {
                if !first { text.push(','); }
                first = false;
                text.push_str(&serde_json::to_string(k).expect("string"));
                text.push(':');
                text.push_str(&v.to_string());
            }
            text.push('}');
            prop_assert_eq!(
                canonicalize(&Value::Object(forward)).expect("canonical"),
                canonicalize_json(text.as_bytes()).expect("canonical")
            );
        }
    }
}
