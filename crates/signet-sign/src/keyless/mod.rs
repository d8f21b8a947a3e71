//! Keyless signing: an identity token and an ephemeral key become a short-lived
//! certificate (Fulcio v2), a signature, a transparency-log entry (Rekor v1) and,
//! optionally, an RFC 3161 timestamp, all in one v0.3 bundle. The key is generated per
//! signing and dropped afterwards (its bytes are zeroized).
//!
//! Before a bundle is returned it is verified like any other, by the caller's
//! [`BundleVerifier`] (the trusted root describing the same CA, log and TSA), for the
//! token's issuer: a CA that certified another key, or a log that answered with an
//! entry that does not prove inclusion, fails here rather than in a user's verifier.

pub mod fulcio;
pub(crate) mod http;
pub mod interactive;
pub mod rekor;
pub mod token;
pub mod tsa;

use signet_crypto::{KeyAlgorithm, KeyError, PrivateKey, Signer, digest_sha256};
use signet_formats::sigstore::{
    Bundle, BundleContent, BundleVersion, Envelope, HashAlgorithm, HashOutput, MessageSignature,
    Rfc3161Timestamp, Signature, SignerMaterial, TimestampVerificationData, VerificationMaterial,
    X509Certificate, pae,
};
use signet_verify::bundle::{Artifact, BundleError, BundleVerifier, Policy, VerifiedBundle};
use signet_x509::{IdentityMatcher, StringMatcher};

pub use interactive::{AuthFlow, OidcClient, Prompt, open_browser};
pub use token::{IdentityToken, TokenOptions, TokenSource, find_token};

/// Why keyless signing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessError {
    /// No identity token anywhere, and no interactive sign-in was allowed.
    #[error(
        "no identity token: pass --identity-token (a JWT or @FILE), set SIGSTORE_ID_TOKEN, run in GitHub Actions with `id-token: write`, or sign in interactively (--fulcio-auth-flow normal or device)"
    )]
    NoToken,
    /// The token file cannot be read.
    #[error("cannot read the identity token file {path}: {source}")]
    TokenFile {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The token is not a JWT with the claims a signer needs.
    #[error("the identity token is not usable: {reason}")]
    MalformedToken {
        /// What is wrong.
        reason: String,
    },
    /// A service could not be reached.
    #[error("cannot reach the {service}: {source}; check its URL and that it is running")]
    Http {
        /// Which service.
        service: &'static str,
        /// The transport error.
        source: reqwest::Error,
    },
    /// A service refused the request.
    #[error("the {service} refused the request (HTTP {status}): {message}")]
    Rejected {
        /// Which service.
        service: &'static str,
        /// The HTTP status.
        status: u16,
        /// The service's message.
        message: String,
    },
    /// A service's answer is larger than any valid one.
    #[error("the {service}'s answer exceeds {limit} bytes; refusing to read more")]
    ResponseTooLarge {
        /// Which service.
        service: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A service's answer is not what its API defines.
    #[error("the {service}'s answer is malformed: {reason}")]
    MalformedResponse {
        /// Which service.
        service: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The OIDC issuer's discovery document, or a token it minted, names another issuer.
    #[error(
        "the OIDC issuer {expected} answered with {what} for another issuer ({found}); check --oidc-issuer"
    )]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer named.
        found: String,
        /// What named it.
        what: &'static str,
    },
    /// The token the sign-in produced is not for this client.
    #[error(
        "the identity token is not for the client {client_id} (its `aud` is {audience}); check --oidc-client-id"
    )]
    AudienceMismatch {
        /// The client id.
        client_id: String,
        /// The token's `aud`.
        audience: String,
    },
    /// The token's `nonce` is not this sign-in's.
    #[error(
        "the identity token's nonce is not this sign-in's (a replayed or substituted token); refusing it"
    )]
    NonceMismatch,
    /// The browser's redirect carries another `state` (or none).
    #[error(
        "the sign-in redirect's state does not match this sign-in's (a forged or stale redirect); refusing it: run the command again"
    )]
    StateMismatch,
    /// The issuer (or the user) refused the sign-in.
    #[error("the OIDC issuer refused the sign-in: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    AuthorizationDenied {
        /// The OAuth error code (`access_denied`, …).
        error: String,
        /// The issuer's description, if any.
        description: Option<String>,
    },
    /// The device code expired before the sign-in was approved.
    #[error("the device code expired before the sign-in was approved; run the command again")]
    DeviceCodeExpired,
    /// No browser sign-in came back in time.
    #[error(
        "no sign-in came back from the browser within {seconds} s; run the command again, or use --fulcio-auth-flow device"
    )]
    SignInTimedOut {
        /// The wait, in seconds.
        seconds: u64,
    },
    /// The issuer does not offer the flow asked for.
    #[error(
        "the OIDC issuer {issuer} offers no {flow} flow (its discovery document has no {endpoint}); use --fulcio-auth-flow {alternative}"
    )]
    UnsupportedFlow {
        /// The issuer.
        issuer: String,
        /// The flow.
        flow: &'static str,
        /// The missing endpoint.
        endpoint: &'static str,
        /// The other interactive flow.
        alternative: &'static str,
    },
    /// `--oidc-redirect-url` cannot be used.
    #[error("cannot use the redirect URL {url:?}: {reason}")]
    InvalidRedirectUrl {
        /// The URL.
        url: String,
        /// Why not.
        reason: String,
    },
    /// The loopback listener for the browser's redirect failed.
    #[error("the sign-in listener cannot {action}: {source}")]
    Loopback {
        /// What it was doing.
        action: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The browser's redirect is malformed.
    #[error("the sign-in redirect is malformed: {reason}")]
    Callback {
        /// What is wrong.
        reason: String,
    },
    /// The CA certified a different key than the one we sent.
    #[error(
        "the certificate authority returned a certificate for another key; refusing to sign with it"
    )]
    CertificateKeyMismatch,
    /// The ephemeral key could not be made or could not sign.
    #[error("signing failed: {0}")]
    Signer(#[source] KeyError),
    /// The bundle does not verify against the trusted root (the services disagree with
    /// the trust material, or misbehaved).
    #[error(
        "the signed bundle does not verify against the trusted root: {0}; check that --trusted-root describes the CA, log and TSA used"
    )]
    SelfCheck(#[source] BundleError),
}

/// The services a keyless signature goes through.
#[derive(Clone, Debug)]
pub struct Services {
    /// The Fulcio base URL, e.g. `https://fulcio.sigstore.dev`.
    pub fulcio_url: String,
    /// The Rekor v1 base URL, e.g. `https://rekor.sigstore.dev`.
    pub rekor_url: String,
    /// An RFC 3161 endpoint (the full URL), if timestamps are wanted.
    pub tsa_url: Option<String>,
}

/// Signs with a fresh key per call, certified for one identity token.
pub struct KeylessSigner<'a> {
    client: &'a reqwest::Client,
    services: &'a Services,
    token: &'a IdentityToken,
    verifier: &'a BundleVerifier,
    /// What every new bundle must verify for: any SAN (a GitHub workflow's certificate
    /// names the workflow, not `sub`), but this token's issuer.
    self_check: Policy,
}

struct Certified {
    key: PrivateKey,
    leaf: Vec<u8>,
}

impl<'a> KeylessSigner<'a> {
    /// A signer for `token` through `services`, checking every bundle with `verifier`.
    pub fn new(
        client: &'a reqwest::Client,
        services: &'a Services,
        token: &'a IdentityToken,
        verifier: &'a BundleVerifier,
    ) -> Self {
        let any_san =
            StringMatcher::regex("").unwrap_or_else(|_| unreachable!("the empty pattern compiles"));
        KeylessSigner {
            client,
            services,
            token,
            verifier,
            self_check: Policy::Identity(IdentityMatcher {
                subject: any_san,
                issuer: StringMatcher::Exact(token.issuer().to_string()),
            }),
        }
    }

    async fn certify(&self) -> Result<Certified, KeylessError> {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).map_err(KeylessError::Signer)?;
        let chain =
            fulcio::request_certificate(self.client, &self.services.fulcio_url, self.token, &key)
                .await?;
        let leaf = chain
            .into_iter()
            .next()
            .ok_or_else(|| KeylessError::MalformedResponse {
                service: "Fulcio",
                reason: "the chain is empty".into(),
            })?;
        let certified = signet_x509::Certificate::from_der(&leaf)
            .map_err(|e| KeylessError::MalformedResponse {
                service: "Fulcio",
                reason: format!("the leaf certificate does not parse: {e}"),
            })?
            .public_key()
            .map_err(|_| KeylessError::CertificateKeyMismatch)?;
        if certified.spki_der() != key.public_key().spki_der() {
            return Err(KeylessError::CertificateKeyMismatch);
        }
        Ok(Certified { key, leaf })
    }

    async fn timestamps(
        &self,
        signature: &[u8],
    ) -> Result<TimestampVerificationData, KeylessError> {
        let mut data = TimestampVerificationData::default();
        if let Some(url) = &self.services.tsa_url {
            data.rfc3161_timestamps.push(Rfc3161Timestamp {
                signed_timestamp: tsa::timestamp(self.client, url, signature).await?,
            });
        }
        Ok(data)
    }

    fn check(
        &self,
        bundle: &Bundle,
        artifact: Artifact<'_>,
    ) -> Result<VerifiedBundle, KeylessError> {
        // The identity of `self_check`, and a chain, SCT, log entry and time that verify.
        self.verifier
            .verify(bundle, artifact, &self.self_check)
            .map_err(KeylessError::SelfCheck)
    }

    /// Signs `artifact` as a message signature logged as `hashedrekord`.
    ///
    /// # Errors
    /// Any [`KeylessError`]; nothing is returned unless the bundle verifies.
    pub async fn sign_message(&self, artifact: &[u8]) -> Result<Bundle, KeylessError> {
        let Certified { key, leaf } = self.certify().await?;
        let digest = digest_sha256(artifact);
        let signature = key.sign(artifact).map_err(KeylessError::Signer)?;
        drop(key);
        let timestamps = self.timestamps(&signature).await?;
        let entry = rekor::submit(
            self.client,
            &self.services.rekor_url,
            &rekor::hashedrekord(&digest, &signature, &leaf),
        )
        .await?;
        let bundle = certificate_bundle(
            leaf,
            entry,
            timestamps,
            BundleContent::MessageSignature(MessageSignature {
                message_digest: Some(HashOutput {
                    algorithm: HashAlgorithm::Sha2_256,
                    digest: digest.to_vec(),
                }),
                signature,
            }),
        );
        self.check(&bundle, Artifact::Bytes(artifact))?;
        Ok(bundle)
    }

    /// Signs `payload` as a DSSE envelope of `payload_type`, logged as `dsse`.
    /// `artifact` is what the payload is about (for in-toto: a subject digest), for the
    /// self-check.
    ///
    /// # Errors
    /// Any [`KeylessError`]; nothing is returned unless the bundle verifies.
    pub async fn sign_dsse(
        &self,
        payload_type: &str,
        payload: &[u8],
        artifact: Artifact<'_>,
    ) -> Result<Bundle, KeylessError> {
        let Certified { key, leaf } = self.certify().await?;
        let signature = key
            .sign(&pae(payload_type, payload))
            .map_err(KeylessError::Signer)?;
        drop(key);
        let envelope = Envelope {
            payload: payload.to_vec(),
            payload_type: payload_type.to_string(),
            signatures: vec![Signature {
                sig: signature.clone(),
                keyid: None,
            }],
        };
        let timestamps = self.timestamps(&signature).await?;
        let entry = rekor::submit(
            self.client,
            &self.services.rekor_url,
            &rekor::dsse(&envelope.to_json(), &leaf),
        )
        .await?;
        let bundle = certificate_bundle(
            leaf,
            entry,
            timestamps,
            BundleContent::DsseEnvelope(envelope),
        );
        self.check(&bundle, artifact)?;
        Ok(bundle)
    }
}

fn certificate_bundle(
    leaf: Vec<u8>,
    entry: signet_formats::sigstore::TransparencyLogEntry,
    timestamps: TimestampVerificationData,
    content: BundleContent,
) -> Bundle {
    Bundle {
        version: BundleVersion::V0_3,
        verification_material: VerificationMaterial {
            signer: SignerMaterial::Certificate(X509Certificate { raw_bytes: leaf }),
            tlog_entries: vec![entry],
            timestamp_verification_data: timestamps,
        },
        content,
    }
}
