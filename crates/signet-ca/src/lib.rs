//! The certificate-authority half of `signet serve`: a Fulcio-compatible CA that embeds
//! SCTs from the stack's own CT log key, an RFC 3161 timestamp authority, OIDC token
//! verification, and a development OIDC issuer.
//!
//! Main types:
//! - [`CaService`]: opens (or creates, on first start) a P-256 root, intermediate and
//!   CT log key under `<data-dir>/ca`, and serves the Fulcio v2 API (plus the legacy
//!   v1 `signingCert` cosign 2.x uses) as an axum [`Router`](axum::Router). A request
//!   carries an OIDC token, checked against the issuer allow-list of [`CaConfig`] and
//!   the issuer's JWKS, and a key proven by a CSR or by a signature over the token's
//!   subject; the answer is a 10-minute leaf with an empty subject, the identity in a
//!   critical SAN, the Fulcio issuer (and GitHub/build) extensions and an embedded SCT.
//! - [`TsaService`]: a timestamp authority under `<data-dir>/tsa` answering DER and
//!   JSON RFC 3161 requests.
//! - [`DevOidc`]: a development issuer that mints tokens for any identity. Off unless
//!   opened, loudly logged, and trusted only if its [`DevOidc::issuer_config`] is in
//!   the CA's allow-list.
//! - [`trusted_root`] and the `certificate_authority` / `ct_log` /
//!   `timestamp_authority` methods: the trusted-root entries describing the services,
//!   which `signet_verify::bundle::BundleVerifier` accepts.
//!
//! ```no_run
//! # async fn demo(data_dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
//! use signet_ca::{CaConfig, CaService, DevOidc, TsaConfig, TsaService};
//! let dev = DevOidc::open(data_dir, "http://127.0.0.1:8080")?;
//! let ca = CaService::open(data_dir, CaConfig::with_issuers(vec![dev.issuer_config()]))?;
//! let tsa = TsaService::open(data_dir, TsaConfig::default())?;
//! let app = ca.router().merge(tsa.router()).merge(dev.router()).fallback(signet_ca::not_found);
//! let root = signet_ca::trusted_root(&ca, "http://127.0.0.1:8080",
//!     Some((&tsa, "http://127.0.0.1:8080/api/v1/timestamp")), Vec::new());
//! std::fs::write(data_dir.join("trusted_root.json"), root.to_json())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! The core (certificate and SCT encoding, claim checks, proof of possession,
//! `TSTInfo` and CMS encoding) is synchronous and takes the time as an argument; the
//! HTTP handlers, the JWKS fetches and the state directory are the edges.
//!
//! What this crate does **not** do: serve TLS (mount the routers behind the serve
//! binary's listener), keep a log of issued certificates or of precertificates (the
//! SCT is the CT key's promise, which is what clients verify), revoke, rotate keys, or
//! support Fulcio's CI-provider claim templates beyond GitHub Actions.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod authority;
mod certificate;
mod config;
mod dev_oidc;
mod error;
mod fulcio;
mod identity;
mod oidc;
mod request;
mod sct;
mod state;
mod timestamp;
mod trust;
mod tsa;

pub use config::{CaConfig, DEFAULT_AUDIENCE, IdentityKind, OidcIssuerConfig};
pub use dev_oidc::DevOidc;
pub use error::{ApiError, CaError, RequestError, TimestampRequestError, TokenError, not_found};
pub use fulcio::{CaService, MAX_BODY_BYTES};
pub use identity::{FulcioExtension, Identity, SubjectName};
pub use timestamp::DEFAULT_POLICY;
pub use trust::trusted_root;
pub use tsa::{TIMESTAMP_QUERY, TIMESTAMP_REPLY, TsaConfig, TsaService};

/// Entry points for fuzzers: each must never panic on any input.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `data` as an RFC 3161 request, DER and JSON.
    pub fn fuzz_timestamp_request(data: &[u8]) {
        let _ = crate::timestamp::parse_der_request(data);
        let _ = crate::timestamp::parse_json_request(data);
    }

    /// Reads `data` as a CSR, a PEM public key, an unverified token and a JWKS.
    pub fn fuzz_signing_request(data: &[u8]) {
        let _ = crate::request::key_from_csr(data);
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = crate::oidc::inspect(text);
        }
        let _ = crate::oidc::parse_jwks(data);
    }
}
