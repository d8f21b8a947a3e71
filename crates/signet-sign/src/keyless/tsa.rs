//! An RFC 3161 client: timestamp a signature at a timestamp authority
//! (`application/timestamp-query` in, `application/timestamp-reply` out).

use super::{KeylessError, http};

const SERVICE: &str = "timestamp authority";

/// DER length octets.
fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

/// The DER `TimeStampReq` (v1, SHA-256 imprint, a nonce, `certReq` TRUE) for a
/// message whose SHA-256 is `digest`.
pub fn timestamp_request(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    // AlgorithmIdentifier { id-sha256, NULL }
    let algorithm = tlv(
        0x30,
        &[
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
        ],
    );
    let imprint = tlv(0x30, &[algorithm, tlv(0x04, digest)].concat());
    // A positive INTEGER: minimal octets, with a leading zero when the top bit is set.
    let bytes = nonce.to_be_bytes();
    let mut n: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if n.first().is_none_or(|b| b & 0x80 != 0) {
        n.insert(0, 0);
    }
    let body = [tlv(0x02, &[1]), imprint, tlv(0x02, &n), tlv(0x01, &[0xff])].concat();
    tlv(0x30, &body)
}

/// Asks the TSA at `url` (the full endpoint, e.g. `…/api/v1/timestamp`) to timestamp
/// `signature`, and returns the DER `TimeStampResp` for the bundle. The response is
/// verified later, with the bundle, against the trusted root's TSAs.
///
/// # Errors
/// [`KeylessError::Rejected`] when the TSA answers with an error status.
pub async fn timestamp(
    client: &reqwest::Client,
    url: &str,
    signature: &[u8],
) -> Result<Vec<u8>, KeylessError> {
    let digest = signet_crypto::digest_sha256(signature);
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| KeylessError::MalformedResponse {
        service: SERVICE,
        reason: format!("no randomness for the nonce: {e}"),
    })?;
    let request = client
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .header("Accept", "application/timestamp-reply")
        .body(timestamp_request(&digest, u64::from_be_bytes(nonce)));
    let (status, body) = http::send(request, SERVICE).await?;
    if !status.is_success() {
        return Err(KeylessError::Rejected {
            service: SERVICE,
            status: status.as_u16(),
            message: http::error_text(&body),
        });
    }
    if body.first() != Some(&0x30) {
        return Err(KeylessError::MalformedResponse {
            service: SERVICE,
            reason: "the answer is not a DER TimeStampResp".into(),
        });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_der_with_a_positive_nonce() {
        let req = timestamp_request(&[7; 32], 0x80);
        // SEQUENCE, version 1, imprint SEQUENCE, ...
        assert_eq!(&req[..5], &[0x30, req.len() as u8 - 2, 0x02, 0x01, 0x01]);
        // The nonce 0x80 is encoded as 00 80, and certReq TRUE ends the request.
        assert!(req.ends_with(&[0x02, 0x02, 0x00, 0x80, 0x01, 0x01, 0xff]));
        assert!(req.windows(32).any(|w| w == [7; 32]));
        let req = timestamp_request(&[0; 32], 0);
        assert!(req.ends_with(&[0x02, 0x01, 0x00, 0x01, 0x01, 0xff]));
    }

    #[test]
    fn long_lengths_use_the_long_form() {
        let mut out = Vec::new();
        der_len(300, &mut out);
        assert_eq!(out, vec![0x82, 0x01, 0x2c]);
    }
}
