//! A Fulcio v2 client: trade an identity token and an ephemeral public key for a
//! short-lived certificate (`POST /api/v2/signingCert`).

use base64::Engine as _;
use serde_json::{Value, json};
use signet_crypto::Signer;

use super::token::IdentityToken;
use super::{KeylessError, http};

const SERVICE: &str = "Fulcio";

/// Requests a certificate for `key` from the Fulcio instance at `base_url`, proving
/// possession by signing the token's principal (as cosign does). Returns the chain as
/// DER, leaf first; the SCT is embedded in the leaf.
///
/// # Errors
/// [`KeylessError::Rejected`] with Fulcio's message when it refuses the token or key;
/// [`KeylessError::MalformedResponse`] when the answer has no usable chain.
pub async fn request_certificate(
    client: &reqwest::Client,
    base_url: &str,
    token: &IdentityToken,
    key: &dyn Signer,
) -> Result<Vec<Vec<u8>>, KeylessError> {
    let proof = key
        .sign(token.principal().as_bytes())
        .map_err(KeylessError::Signer)?;
    let body = json!({
        "credentials": {"oidcIdentityToken": token.as_str()},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.public_key().to_pem()},
            "proofOfPossession": base64::engine::general_purpose::STANDARD.encode(proof),
        },
    });
    let url = format!("{}/api/v2/signingCert", base_url.trim_end_matches('/'));
    let (_, answer) = http::post_json(client, &url, &body, None, SERVICE, &[200, 201]).await?;
    parse_chain(&answer)
}

/// The DER chain in a `signingCert` answer.
pub(crate) fn parse_chain(answer: &Value) -> Result<Vec<Vec<u8>>, KeylessError> {
    let bad = |reason: &str| KeylessError::MalformedResponse {
        service: SERVICE,
        reason: reason.to_string(),
    };
    if answer.get("signedCertificateDetachedSct").is_some() {
        return Err(bad(
            "the CA returned a detached SCT; only CAs that embed the SCT are supported",
        ));
    }
    let certs = answer
        .pointer("/signedCertificateEmbeddedSct/chain/certificates")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no signedCertificateEmbeddedSct.chain.certificates"))?;
    let mut chain = Vec::with_capacity(certs.len());
    for (i, pem) in certs.iter().enumerate() {
        let pem = pem
            .as_str()
            .ok_or_else(|| bad(&format!("certificates[{i}] is not a string")))?;
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|e| bad(&format!("certificates[{i}] is not PEM: {e}")))?;
        if label != "CERTIFICATE" {
            return Err(bad(&format!(
                "certificates[{i}] is a {label}, not a CERTIFICATE"
            )));
        }
        chain.push(der);
    }
    if chain.is_empty() {
        return Err(bad("the chain is empty"));
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_read_and_bad_answers_named() {
        let pem = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN PUBLIC KEY-----\nAQID\n-----END PUBLIC KEY-----\n";
        let ok = json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [pem, pem]}}});
        assert_eq!(
            parse_chain(&ok).unwrap(),
            vec![vec![1, 2, 3], vec![1, 2, 3]]
        );
        for (answer, why) in [
            (
                json!({}),
                "no signedCertificateEmbeddedSct.chain.certificates",
            ),
            (
                json!({"signedCertificateDetachedSct": {}}),
                "the CA returned a detached SCT; only CAs that embed the SCT are supported",
            ),
            (
                json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": []}}}),
                "the chain is empty",
            ),
            (
                json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [1]}}}),
                "certificates[0] is not a string",
            ),
            (
                json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [pem, key]}}}),
                "certificates[1] is a PUBLIC KEY, not a CERTIFICATE",
            ),
            (
                json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [pem, "x"]}}}),
                // The PEM decoder's own words follow.
                "certificates[1] is not PEM: ",
            ),
        ] {
            let err = parse_chain(&answer).unwrap_err();
            assert!(
                matches!(&err, KeylessError::MalformedResponse { service: "Fulcio", reason }
                    if reason == why || (why.ends_with(": ") && reason.starts_with(why))),
                "{answer}: {err:?}"
            );
        }
    }
}
