//! PEM framing that behaves like Go's `encoding/pem`, which is what cosign uses.
//!
//! Decoding follows `pem.Decode`: text before the first `-----BEGIN` line is
//! skipped, trailing whitespace on the boundary lines is tolerated, spaces,
//! tabs and line breaks inside the body are ignored, and a candidate block that
//! does not parse is skipped in favour of a later one. Encoding follows
//! `pem.EncodeToMemory`: 64-character lines and a trailing newline.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};

use crate::KeyError;

/// Go's `base64.StdEncoding` for decoding: padding required, non-zero trailing bits allowed.
pub(crate) const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// One decoded PEM block.
pub(crate) struct Block {
    /// The label between `-----BEGIN ` and `-----`.
    pub(crate) label: String,
    /// Whether the block had `Key: value` headers (e.g. legacy `Proc-Type: 4,ENCRYPTED`).
    pub(crate) has_headers: bool,
    /// The decoded body.
    pub(crate) der: zeroize::Zeroizing<Vec<u8>>,
}

const BEGIN: &[u8] = b"\n-----BEGIN ";
const END: &[u8] = b"\n-----END ";
const DASHES: &[u8] = b"-----";

/// Inputs larger than this are rejected before parsing (an 8192-bit RSA key is about 6.5 KiB).
const MAX_PEM_LEN: usize = 256 * 1024;

/// Decodes the first PEM block in `data`, as Go's `pem.Decode` would.
///
/// Unlike Go's, this runs in linear time on hostile input: the position of the
/// next `-----END` line is remembered across candidates, and a body is rejected
/// at its first non-base64 byte.
pub(crate) fn decode(data: &[u8]) -> Result<Block, KeyError> {
    if data.len() > MAX_PEM_LEN {
        return Err(KeyError::MalformedPem {
            detail: "the input is larger than 256 KiB, far more than any key",
        });
    }
    let mut rest = data;
    let mut saw_begin = false;
    // Absolute offset of the first "\n-----END " at or after the cached search start.
    let mut next_end: Option<(usize, Option<usize>)> = None;
    loop {
        if let Some(after) = rest.strip_prefix(&BEGIN[1..]) {
            rest = after;
        } else if let Some(i) = find(rest, BEGIN) {
            rest = &rest[i + BEGIN.len()..];
        } else {
            return Err(KeyError::MalformedPem {
                detail: if saw_begin {
                    "no complete, well-formed PEM block was found"
                } else {
                    "no -----BEGIN line was found"
                },
            });
        }
        saw_begin = true;

        let (type_line, after_type) = line(rest);
        rest = after_type;
        let Some(label) = type_line.strip_suffix(DASHES) else {
            continue;
        };

        // Headers: lines containing a colon, up to the first line without one.
        let mut has_headers = false;
        loop {
            if rest.is_empty() {
                return Err(KeyError::MalformedPem {
                    detail: "the PEM block has no -----END line",
                });
            }
            let (l, next) = line(rest);
            if !l.contains(&b':') {
                break;
            }
            has_headers = true;
            rest = next;
        }

        let offset = data.len() - rest.len();
        let (end_index, trailer_index) = if !has_headers && rest.starts_with(&END[1..]) {
            (0, END.len() - 1)
        } else {
            let end_abs = match next_end {
                Some((searched_from, found))
                    if searched_from <= offset && found.is_none_or(|e| e >= offset) =>
                {
                    found
                }
                _ => {
                    let found = find(rest, END).map(|i| i + offset);
                    next_end = Some((offset, found));
                    found
                }
            };
            match end_abs {
                Some(e) => (e - offset, e - offset + END.len()),
                // No END line anywhere after this point: no later block can be complete.
                None => {
                    return Err(KeyError::MalformedPem {
                        detail: "the PEM block has no -----END line",
                    });
                }
            }
        };
        let trailer = &rest[trailer_index..];
        let trailer_len = label.len() + DASHES.len();
        if trailer.len() < trailer_len {
            continue;
        }
        let (end_label, rest_of_end_line) = trailer.split_at(trailer_len);
        if !end_label.starts_with(label) || !end_label.ends_with(DASHES) {
            continue;
        }
        if !line(rest_of_end_line).0.is_empty() {
            continue;
        }

        let raw_body = &rest[..end_index];
        if !raw_body.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'+' | b'/' | b'=' | b' ' | b'\t' | b'\r' | b'\n')
        }) {
            continue;
        }
        let body: Vec<u8> = raw_body
            .iter()
            .copied()
            .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .collect();
        let body = zeroize::Zeroizing::new(body);
        let Ok(der) = GO_STD.decode(&*body) else {
            continue;
        };
        let Ok(label) = String::from_utf8(label.to_vec()) else {
            continue;
        };
        return Ok(Block {
            label,
            has_headers,
            der: zeroize::Zeroizing::new(der),
        });
    }
}

/// Encodes `der` as a PEM block exactly like Go's `pem.EncodeToMemory` (no headers).
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut body = b64.as_str();
    while !body.is_empty() {
        let (chunk, next) = body.split_at(body.len().min(64));
        out.push_str(chunk);
        out.push('\n');
        body = next;
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Go's `getLine`: up to the next `\n`, with trailing spaces, tabs and `\r` removed.
fn line(data: &[u8]) -> (&[u8], &[u8]) {
    let (l, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let trimmed_len = l
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
        .map_or(0, |i| i + 1);
    (&l[..trimmed_len], rest)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_line_length() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = encode("PUBLIC KEY", &der);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        for l in pem.lines().skip(1) {
            assert!(l.len() <= 64);
        }
        assert_eq!(pem.lines().nth(1).map(str::len), Some(64));
        let block = decode(pem.as_bytes()).expect("decode");
        assert_eq!(block.label, "PUBLIC KEY");
        assert_eq!(*block.der, der);
        assert!(!block.has_headers);
    }

    #[test]
    fn tolerates_what_go_tolerates() {
        let pem = "garbage before\r\n-----BEGIN X-----  \r\nAAEC\r\nAwQ=\r\n-----END X-----\t\r\ntrailing";
        let block = decode(pem.as_bytes()).expect("decode");
        assert_eq!(block.label, "X");
        assert_eq!(*block.der, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn skips_broken_block_for_a_later_good_one() {
        let pem =
            "-----BEGIN X-----\n!!!\n-----END X-----\n-----BEGIN Y-----\nAAE=\n-----END Y-----\n";
        let block = decode(pem.as_bytes()).expect("decode");
        assert_eq!(block.label, "Y");
    }

    #[test]
    fn headers_are_reported() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAE=\n-----END RSA PRIVATE KEY-----\n";
        let block = decode(pem.as_bytes()).expect("decode");
        assert!(block.has_headers);
    }

    #[test]
    fn hostile_input_is_linear() {
        let mut input = Vec::new();
        while input.len() < MAX_PEM_LEN - 64 {
            input.extend_from_slice(b"-----BEGIN X-----\n");
        }
        let start = std::time::Instant::now();
        // As in Go, the last BEGIN line directly followed by END is an empty block.
        let mut good = input.clone();
        good.extend_from_slice(b"-----END X-----\n");
        let block = decode(&good).expect("the last block is well formed");
        assert!(block.der.is_empty());
        // A mismatched END label makes every candidate fail.
        input.extend_from_slice(b"-----END Y-----\n");
        assert!(matches!(decode(&input), Err(KeyError::MalformedPem { .. })));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        let mut too_big = input;
        too_big.resize(MAX_PEM_LEN + 1, b'A');
        assert!(matches!(
            decode(&too_big),
            Err(KeyError::MalformedPem { .. })
        ));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            decode(b"nothing here"),
            Err(KeyError::MalformedPem { .. })
        ));
        assert!(matches!(
            decode(b"-----BEGIN X-----\nAAE=\n-----END Y-----\n"),
            Err(KeyError::MalformedPem { .. })
        ));
        assert!(matches!(
            decode(b"-----BEGIN X-----\nAAE\n-----END X-----\n"),
            Err(KeyError::MalformedPem { .. })
        ));
        assert!(matches!(
            decode(b"-----BEGIN X-----\n"),
            Err(KeyError::MalformedPem { .. })
        ));
    }
}
