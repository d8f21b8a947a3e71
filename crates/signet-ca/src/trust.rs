//! The trusted-root entries that describe this crate's services, as signet-formats types
//! (`TrustedRoot::to_json` writes them): the CA (`certificateAuthorities[]`), the CT log
//! whose key signs the embedded SCTs (`ctlogs[]`) and the TSA (`timestampAuthorities[]`).

use signet_formats::sigstore::{
    CertificateAuthority, DistinguishedName, HashAlgorithm, LogId, PublicKey, PublicKeyDetails,
    TransparencyLogInstance, TrustedRoot, UnixTime, ValidityWindow, X509Certificate,
};

use crate::{CaService, TsaService};

/// An open window from `start`.
fn from(start: signet_x509::UnixTime) -> ValidityWindow {
    // A window with no end cannot be inverted, so `new` cannot fail here.
    ValidityWindow::new("validFor", UnixTime(start.0), None)
        .unwrap_or_else(|_| unreachable!("an open validity window is never inverted"))
}

fn chain(ders: Vec<Vec<u8>>) -> Vec<X509Certificate> {
    ders.into_iter()
        .map(|raw_bytes| X509Certificate { raw_bytes })
        .collect()
}

impl CaService {
    /// This CA's `certificateAuthorities[]` entry, for clients that reach it at `uri`:
    /// the chain (intermediate, root), valid from the authority's creation.
    pub fn certificate_authority(&self, uri: &str) -> CertificateAuthority {
        CertificateAuthority {
            subject: DistinguishedName {
                organization: self.organization().to_owned(),
                common_name: "signet".to_owned(),
            },
            uri: uri.to_owned(),
            cert_chain: chain(self.chain_der()),
            valid_for: from(self.created()),
            operator: String::new(),
        }
    }

    /// The `ctlogs[]` entry of the CT log key that signs this CA's embedded SCTs
    /// (`PKIX_ECDSA_P256_SHA_256`, log ID = SHA-256 of its SPKI).
    pub fn ct_log(&self, base_url: &str) -> TransparencyLogInstance {
        let key = self.ct_log_public_key();
        TransparencyLogInstance {
            base_url: base_url.to_owned(),
            hash_algorithm: HashAlgorithm::Sha2_256,
            public_key: PublicKey {
                raw_bytes: key.spki_der().to_vec(),
                key_details: PublicKeyDetails::PkixEcdsaP256Sha256,
                valid_for: from(self.created()),
            },
            log_id: LogId {
                key_id: self.ct_log_id().as_bytes().to_vec(),
            },
            checkpoint_key_id: None,
            operator: String::new(),
        }
    }
}

impl TsaService {
    /// This TSA's `timestampAuthorities[]` entry, for clients that post to `uri`
    /// (`<base>/api/v1/timestamp`): the chain (TSA leaf, root), valid from its creation.
    pub fn timestamp_authority(&self, uri: &str) -> CertificateAuthority {
        CertificateAuthority {
            subject: DistinguishedName {
                organization: "signet".to_owned(),
                common_name: "signet tsa".to_owned(),
            },
            uri: uri.to_owned(),
            cert_chain: chain(self.chain_der()),
            valid_for: from(self.created()),
            operator: String::new(),
        }
    }
}

/// A trusted root describing a stack: this CA at `ca_url` with its CT log (base URL
/// `ca_url` too: the log key lives with the CA), the TSA at `tsa_url` if any, and the
/// given transparency logs (the Rekor-compatible log's entry comes from its own crate).
pub fn trusted_root(
    ca: &CaService,
    ca_url: &str,
    tsa: Option<(&TsaService, &str)>,
    tlogs: Vec<TransparencyLogInstance>,
) -> TrustedRoot {
    TrustedRoot {
        tlogs,
        certificate_authorities: vec![ca.certificate_authority(ca_url)],
        ctlogs: vec![ca.ct_log(ca_url)],
        timestamp_authorities: tsa
            .map(|(tsa, url)| vec![tsa.timestamp_authority(url)])
            .unwrap_or_default(),
    }
}
