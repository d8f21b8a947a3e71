//! The Fulcio API over a real socket: the request shapes of sigstore-python (CSR, token
//! in the header), sigstore-js (public key + proof, token in the body) and cosign 2.x
//! (legacy v1), the certificates they get, JWKS discovery, and every rejection.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use signet_crypto::Signer as _;
use signet_x509::{
    Certificate, CertificateAuthority, CtLog, IdentityMatcher, San, TimeRange, UnixTime,
    verify_chain, verify_embedded_scts,
};
use support::{Stack, b64url_json, csr_field, new_key, now, proof_request, start};

fn chain_of(body: &Value) -> Vec<Certificate> {
    let pems = body["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap_or_else(|| panic!("no chain in {body}"));
    pems.iter()
        .map(|p| {
            let mut c = Certificate::parse_pem_chain(p.as_str().unwrap().as_bytes()).unwrap();
            assert_eq!(c.len(), 1);
            c.remove(0)
        })
        .collect()
}

/// Chain to the CA at signing time, SCT from the CT key, identity and issuer.
fn check_leaf(stack: &Stack, chain: &[Certificate], email: &str, key: &signet_crypto::PublicKey) {
    assert_eq!(chain.len(), 3, "leaf, intermediate, root");
    let leaf = &chain[0];
    assert_eq!(leaf.public_key().unwrap(), *key);
    assert_eq!(leaf.subject(), "");
    assert_eq!(
        leaf.subject_alternative_names(),
        &[San::Email(email.into())]
    );
    assert_eq!(leaf.not_after().0 - leaf.not_before().0, 600);
    assert_eq!(chain[1].der(), stack.ca.chain_der()[0]);
    assert_eq!(chain[2].der(), stack.ca.root_der());
    let window = TimeRange::starting_at(stack.ca.created());
    let authority = CertificateAuthority::new(chain[1..].to_vec(), window).unwrap();
    let at = UnixTime(leaf.not_before().0 + 5);
    let verified = verify_chain(leaf, &[], &[authority], at).unwrap();
    let logs = [CtLog::new(stack.ca.ct_log_public_key().clone(), window)];
    verify_embedded_scts(leaf, verified.issuer(), &logs).unwrap();
    IdentityMatcher::exact(email, stack.issuer())
        .verify(leaf)
        .unwrap();
}

#[tokio::test]
async fn csr_with_the_token_in_the_header_like_sigstore_python() {
    let stack = start().await;
    let key = new_key();
    let token = stack.dev.mint("alice@example.com", None).unwrap();
    let (status, body) = stack
        .post_json(
            "/api/v2/signingCert",
            &json!({ "certificateSigningRequest": csr_field(&key) }),
            Some(&token),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    check_leaf(
        &stack,
        &chain_of(&body),
        "alice@example.com",
        key.public_key(),
    );
}

#[tokio::test]
async fn public_key_and_proof_with_the_token_in_the_body_like_sigstore_js() {
    let stack = start().await;
    let key = new_key();
    let token = stack.dev.mint("bob@example.com", None).unwrap();
    let proof = STANDARD.encode(key.sign(b"bob@example.com").unwrap());
    let (status, body) = stack
        .post_json(
            "/api/v2/signingCert",
            &json!({
                "credentials": { "oidcIdentityToken": token },
                "publicKeyRequest": {
                    "publicKey": { "algorithm": "ECDSA", "content": key.public_key().to_pem() },
                    "proofOfPossession": proof,
                },
            }),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    check_leaf(
        &stack,
        &chain_of(&body),
        "bob@example.com",
        key.public_key(),
    );
}

#[tokio::test]
async fn legacy_v1_like_cosign_2() {
    let stack = start().await;
    let key = new_key();
    let token = stack.dev.mint("carol@example.com", None).unwrap();
    let request = json!({
        "publicKey": { "algorithm": "ecdsa", "content": STANDARD.encode(key.public_key().to_pem()) },
        "signedEmailAddress": STANDARD.encode(key.sign(b"carol@example.com").unwrap()),
    });
    let resp = stack
        .client
        .post(stack.url("/api/v1/signingCert"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(request.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert_eq!(
        resp.headers()["content-type"],
        "application/pem-certificate-chain"
    );
    assert_eq!(resp.headers()["sct"], "");
    let chain = Certificate::parse_pem_chain(&resp.bytes().await.unwrap()).unwrap();
    check_leaf(&stack, &chain, "carol@example.com", key.public_key());
}

#[tokio::test]
async fn jwks_is_discovered_over_tcp_once_and_cached() {
    let stack = start().await;
    assert_eq!(stack.oidc_requests.load(Ordering::SeqCst), 0);
    for i in 0..3 {
        let key = new_key();
        let token = stack.dev.mint(&format!("u{i}@example.com"), None).unwrap();
        let (status, body) = stack
            .post_json(
                "/api/v2/signingCert",
                &json!({ "certificateSigningRequest": csr_field(&key) }),
                Some(&token),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        // Discovery document + JWKS, fetched for the first certificate only.
        assert_eq!(stack.oidc_requests.load(Ordering::SeqCst), 2);
    }
}

#[tokio::test]
async fn trust_bundle_configuration_and_root_cert() {
    let stack = start().await;
    let bundle: Value = serde_json::from_str(
        &reqwest::get(stack.url("/api/v2/trustBundle"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let certs = bundle["chains"][0]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(
        certs
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect::<String>(),
        stack.ca.chain_pem()
    );
    let config: Value = serde_json::from_str(
        &reqwest::get(stack.url("/api/v2/configuration"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(config["issuers"][0]["issuerUrl"], stack.issuer());
    assert_eq!(config["issuers"][0]["audience"], "sigstore");
    assert_eq!(config["issuers"][0]["challengeClaim"], "email");
    assert_eq!(config["issuers"][1]["challengeClaim"], "sub");
    let root = reqwest::get(stack.url("/api/v1/rootCert"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(root, stack.ca.chain_pem());
}

#[tokio::test]
async fn bad_tokens_and_keys_are_rejected() {
    let stack = start().await;
    let key = new_key();
    let csr = json!({ "certificateSigningRequest": csr_field(&key) });
    let email = "mallory@example.com";
    // Warm the JWKS cache, so that "unknown issuer" can be shown to fetch nothing.
    let good = stack.dev.mint(email, None).unwrap();
    assert_eq!(
        stack
            .post_json("/api/v2/signingCert", &csr, Some(&good))
            .await
            .0,
        201
    );
    let fetched = stack.oidc_requests.load(Ordering::SeqCst);

    let other = new_key();
    let foreign = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &stack.claims(email),
        &EncodingKey::from_ec_der(&other.to_pkcs8_der()),
    )
    .unwrap();
    let mut wrong_aud = stack.claims(email);
    wrong_aud["aud"] = json!("not-sigstore");
    let mut expired = stack.claims(email);
    expired["exp"] = json!(now() - 3600);
    expired["iat"] = json!(now() - 4200);
    expired["nbf"] = json!(now() - 4200);
    let mut stranger = stack.claims(email);
    stranger["iss"] = json!("https://evil.example");
    let mut unverified = stack.claims(email);
    unverified["email_verified"] = json!(false);
    let none = format!(
        "{}.{}.",
        b64url_json(&json!({"alg": "none", "typ": "JWT"})),
        b64url_json(&stack.claims(email))
    );
    // HS256 keyed with the issuer's public key (PEM and DER), the classic confusion.
    let public_pem = stack.dev_public_key().to_pem();
    let hs_pem = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &stack.claims(email),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    let hs_der = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &stack.claims(email),
        &EncodingKey::from_secret(stack.dev_public_key().spki_der()),
    )
    .unwrap();

    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("bad signature", foreign, 401, "does not verify"),
        ("wrong aud", stack.sign(&wrong_aud), 401, "audience"),
        ("past exp", stack.sign(&expired), 401, "expired"),
        ("unknown issuer", stack.sign(&stranger), 401, "not trusted"),
        (
            "email not verified",
            stack.sign(&unverified),
            401,
            "not verified",
        ),
        ("alg none", none, 401, "\"none\" is not accepted"),
        (
            "HS256, PEM public key as secret",
            hs_pem,
            401,
            "\"HS256\" is not accepted",
        ),
        (
            "HS256, DER public key as secret",
            hs_der,
            401,
            "\"HS256\" is not accepted",
        ),
        ("garbage", "abc.def".into(), 401, "malformed"),
    ];
    for (what, token, status, message) in &cases {
        let (got, body) = stack
            .post_json("/api/v2/signingCert", &csr, Some(token))
            .await;
        assert_eq!(got, *status, "{what}: {body}");
        assert_eq!(body["code"], *status, "{what}: {body}");
        let text = body["message"].as_str().unwrap();
        assert!(text.contains(message), "{what}: {text}");
    }
    assert_eq!(
        stack.oidc_requests.load(Ordering::SeqCst),
        fetched,
        "no rejected token caused a fetch"
    );

    // No token at all.
    let (status, body) = stack.post_json("/api/v2/signingCert", &csr, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("no identity token"),
        "{body}"
    );

    // A CSR signed by another key than the one it names.
    let mismatched = STANDARD.encode(support::csr(key.public_key(), &other));
    let (status, body) = stack
        .post_json(
            "/api/v2/signingCert",
            &json!({ "certificateSigningRequest": mismatched }),
            Some(&good),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("the CSR signature does not verify"),
        "{body}"
    );

    // A proof of possession made with another key than the submitted one.
    let (status, body) = stack
        .post_json(
            "/api/v2/signingCert",
            &proof_request(&good, &key, &other, email),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("the proof of possession does not verify"),
        "{body}"
    );

    // A trusted issuer that cannot be reached: 503, still JSON.
    let mut unserved = stack.claims(email);
    unserved["iss"] = json!(format!("{}/unserved", stack.base));
    unserved["sub"] = json!("https://example.test/workload");
    let (status, body) = stack
        .post_json("/api/v2/signingCert", &csr, Some(&stack.sign(&unserved)))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with(&format!(
            "cannot fetch the signing keys of issuer \"{}/unserved\": ",
            stack.base
        )),
        "{body}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx() {
    let stack = start().await;
    let token = stack.dev.mint("dave@example.com", None).unwrap();
    let key = new_key();
    async fn raw(
        stack: &Stack,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = stack.client.request(method, stack.url(path)).body(body);
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{path}: {status} body is not JSON: {text:?}"));
        (status, json)
    }
    use reqwest::Method;
    let json_type = Some("application/json");
    let v2 = "/api/v2/signingCert";
    let json_body = |v: Value| v.to_string().into_bytes();
    /// Method, path, Content-Type, body, expected status, start of the message.
    type Case = (
        Method,
        &'static str,
        Option<&'static str>,
        Vec<u8>,
        u16,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            v2,
            json_type,
            b"not json".to_vec(),
            400,
            "malformed request body: expected a JSON object: ",
        ),
        (
            Method::POST,
            v2,
            json_type,
            b"[]".to_vec(),
            400,
            // serde reads a struct from an array too: an empty one is a request
            // without fields.
            "the request has no key",
        ),
        (
            Method::POST,
            v2,
            Some("text/plain"),
            b"{}".to_vec(),
            415,
            "unsupported Content-Type \"text/plain\": expected application/json",
        ),
        (
            Method::POST,
            v2,
            json_type,
            vec![b' '; 100 * 1024],
            413,
            "the request body is larger than 65536 bytes",
        ),
        (
            Method::POST,
            v2,
            json_type,
            b"{}".to_vec(),
            400,
            "the request has no key",
        ),
        (
            Method::POST,
            v2,
            json_type,
            json_body(
                json!({"certificateSigningRequest": "***", "credentials": {"oidcIdentityToken": token}}),
            ),
            400,
            "`certificateSigningRequest` is malformed: not base64",
        ),
        (
            Method::POST,
            v2,
            json_type,
            json_body(
                json!({"certificateSigningRequest": csr_field(&key), "publicKeyRequest": {}}),
            ),
            400,
            "the request has both `publicKeyRequest` and `certificateSigningRequest`",
        ),
        (
            Method::POST,
            v2,
            json_type,
            json_body(json!({"credentials": {"oidcIdentityToken": token},
                   "publicKeyRequest": {"publicKey": {"content": "not a key"}, "proofOfPossession": "AAAA"}})),
            400,
            "the public key cannot be certified: ",
        ),
        (
            Method::POST,
            "/api/v1/signingCert",
            json_type,
            b"{\"publicKey\":{}}".to_vec(),
            400,
            "`publicKey` is malformed: `content` is missing",
        ),
        (Method::GET, v2, None, vec![], 405, "method not allowed"),
        (
            Method::DELETE,
            "/api/v2/trustBundle",
            None,
            vec![],
            405,
            "method not allowed",
        ),
        (
            Method::GET,
            "/no/such/endpoint",
            None,
            vec![],
            404,
            "no endpoint at /no/such/endpoint",
        ),
        (
            Method::POST,
            "/api/v1/timestamp",
            Some("application/timestamp-query"),
            b"\x30\x03\x02\x01".to_vec(),
            400,
            "malformed timestamp request: not a DER TimeStampReq: ",
        ),
        (
            Method::POST,
            "/api/v1/timestamp",
            Some("application/json"),
            b"{\"artifactHash\":\"AAAA\",\"hashAlgorithm\":\"md5\"}".to_vec(),
            400,
            "timestamp request hash algorithm md5 is not accepted",
        ),
        (
            Method::POST,
            "/api/v1/timestamp",
            Some("text/plain"),
            b"x".to_vec(),
            415,
            "unsupported Content-Type \"text/plain\": expected application/timestamp-query or application/json",
        ),
        (
            Method::POST,
            "/api/v1/timestamp",
            Some("application/timestamp-query"),
            vec![0x30; 70 * 1024],
            413,
            "the request body is larger than 65536 bytes",
        ),
        (
            Method::GET,
            "/api/v1/timestamp",
            None,
            vec![],
            405,
            "method not allowed",
        ),
        (
            Method::POST,
            "/oidc/token",
            json_type,
            b"{}".to_vec(),
            400,
            "malformed request body: expected {\"subject\": \"…\"}: ",
        ),
        (
            Method::POST,
            "/oidc/token",
            json_type,
            b"{\"subject\":\"\"}".to_vec(),
            400,
            "malformed request body: invalid configuration: subject \"\" must be 1 to 256 characters",
        ),
    ];
    for (method, path, content_type, body, expected, message) in cases {
        let (status, json) = raw(&stack, method.clone(), path, content_type, body).await;
        assert_eq!(status, expected, "{method} {path}: {json}");
        assert_eq!(json["code"], expected, "{method} {path}: {json}");
        assert!(
            json["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(message)),
            "{method} {path}: {json}"
        );
    }
}
