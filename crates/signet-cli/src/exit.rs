//! Exit codes, as cosign defines them for `verify` (`cmd/cosign/errors/exit_codes.go`).

use std::fmt;

/// A failure with a specific exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

/// No signatures found.
pub(crate) const NO_SIGNATURES: u8 = 10;
/// The image tag does not exist.
pub(crate) const TAG_NOT_FOUND: u8 = 11;
/// There are signatures, and none matches.
pub(crate) const NO_MATCHING_SIGNATURES: u8 = 12;
/// Keyless verification found no certificate.
pub(crate) const NO_CERTIFICATE: u8 = 13;

impl Failure {
    pub(crate) fn tag_not_found(image: &str) -> Self {
        Failure {
            code: TAG_NOT_FOUND,
            message: format!("image tag not found: {image}"),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}
