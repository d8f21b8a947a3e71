//! JSON written byte for byte as Go's `encoding/json` writes it: no whitespace, struct
//! fields in declaration order, map keys sorted, and `<` `>` `&` U+2028 U+2029 escaped.
//! cosign's payloads, configs and manifests are Go output, so ours must match them.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let s: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            // Go writes \b and \f as \u0008 and \u000c.
            CharEscape::Backspace => b"\\u0008",
            CharEscape::FormFeed => b"\\u000c",
            CharEscape::Solidus => b"/",
            CharEscape::AsciiControl(byte) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let buf = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(byte >> 4) as usize],
                    HEX[(byte & 0xf) as usize],
                ];
                return w.write_all(&buf);
            }
        };
        w.write_all(s)
    }
}

/// Serialises `value` exactly as Go's `json.Marshal` would. Maps must be ordered
/// (`BTreeMap`, or `serde_json::Map`, which sorts) for the key order to match.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    // Invariant: our types serialise infallibly (string keys, no non-finite floats),
    // and writing to a Vec cannot fail.
    if value.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    #[test]
    fn escapes_like_go() {
        let mut m = BTreeMap::new();
        m.insert("z", "a<b>&c\u{2028}\u{8}\u{c}\u{1}\n\"\\/é");
        m.insert("a", "");
        assert_eq!(
            String::from_utf8(super::to_vec(&m)).unwrap(),
            r#"{"a":"","z":"a\u003cb\u003e\u0026c\u2028\u0008\u000c\u0001\n\"\\/é"}"#
        );
    }
}
