//! A minimal DER TLV walker for byte-exact surgery on certificates (the precertificate
//! TBS of RFC 6962 §3.2, the raw SPKI). Re-encoding through a full ASN.1 model could
//! change bytes the CT log signed; slicing cannot.

/// One DER element: its tag byte, its contents and the whole encoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) contents: &'a [u8],
    pub(crate) encoded: &'a [u8],
}

/// Reads the first element of `input`; returns it and the bytes after it.
/// Only single-byte tags and definite lengths up to 4 length bytes (what X.509 uses).
pub(crate) fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, after) = rest.split_at(n);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    let header_len = input.len() - rest.len();
    let encoded = &input[..header_len + len];
    Some((
        Tlv {
            tag,
            contents,
            encoded,
        },
        after,
    ))
}

/// All elements of `contents`, which must be exactly a sequence of elements.
pub(crate) fn elements(mut contents: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !contents.is_empty() {
        let (tlv, rest) = read(contents)?;
        out.push(tlv);
        contents = rest;
    }
    Some(out)
}

/// Encodes one element with a DER definite length.
pub(crate) fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8); // < 0x80, fits
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | significant.len() as u8); // at most 8 bytes
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(contents);
    out
}

/// The `tbsCertificate` element of a DER certificate.
pub(crate) fn tbs_certificate(cert_der: &[u8]) -> Option<Tlv<'_>> {
    let (cert, _) = read(cert_der)?;
    let (tbs, _) = read(cert.contents)?;
    (tbs.tag == 0x30).then_some(tbs)
}

/// The `subjectPublicKeyInfo` element of a DER certificate.
pub(crate) fn subject_public_key_info(cert_der: &[u8]) -> Option<Tlv<'_>> {
    let tbs = tbs_certificate(cert_der)?;
    let elems = elements(tbs.contents)?;
    // [0] version is optional; then serial, signature, issuer, validity, subject, spki.
    let skip = usize::from(elems.first()?.tag == 0xa0);
    elems.get(skip + 5).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_read_round_trip_for_all_length_forms() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536, 70_000] {
            let contents = vec![7u8; len];
            let enc = encode(0x04, &contents);
            let (tlv, rest) = read(&enc).expect("own encoding reads back");
            assert!(rest.is_empty());
            assert_eq!(tlv.tag, 0x04);
            assert_eq!(tlv.contents, &contents[..]);
            assert_eq!(tlv.encoded, &enc[..]);
        }
    }

    #[test]
    fn rejects_truncated_indefinite_and_high_tags() {
        assert!(read(&[]).is_none());
        assert!(read(&[0x30]).is_none());
        assert!(read(&[0x30, 0x80, 0x00, 0x00]).is_none());
        assert!(read(&[0x30, 0x05, 1, 2]).is_none());
        assert!(read(&[0x1f, 0x01, 0x00]).is_none());
        assert!(read(&[0x30, 0x85, 0, 0, 0, 0, 1]).is_none());
    }
}
