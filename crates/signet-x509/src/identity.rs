//! Matching a certificate's identity (SAN and OIDC issuer) against what the user expects,
//! as `cosign verify --certificate-identity[-regexp] --certificate-oidc-issuer[-regexp]` does.

use core::fmt;

use crate::{Certificate, San};

/// How one string is matched.
#[derive(Clone)]
pub enum StringMatcher {
    /// The value must equal this string.
    Exact(String),
    /// The value must match this regular expression.
    ///
    /// Like Go's `regexp.MatchString` used by cosign and sigstore-go, the match is
    /// **unanchored** (a search): write `^…$` to match the whole value.
    Regex(regex::Regex),
}

impl StringMatcher {
    /// A regular-expression matcher (RE2-like syntax of the `regex` crate).
    ///
    /// # Errors
    /// [`IdentityError::InvalidRegex`] when the pattern does not compile.
    pub fn regex(pattern: &str) -> Result<Self, IdentityError> {
        regex::Regex::new(pattern)
            .map(StringMatcher::Regex)
            .map_err(|e| IdentityError::InvalidRegex {
                pattern: pattern.to_owned(),
                detail: e.to_string(),
            })
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            StringMatcher::Exact(expected) => expected == value,
            StringMatcher::Regex(re) => re.is_match(value),
        }
    }
}

impl fmt::Display for StringMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StringMatcher::Exact(s) => write!(f, "{s:?}"),
            StringMatcher::Regex(re) => write!(f, "regex {:?}", re.as_str()),
        }
    }
}

impl fmt::Debug for StringMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialEq for StringMatcher {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StringMatcher::Exact(a), StringMatcher::Exact(b)) => a == b,
            (StringMatcher::Regex(a), StringMatcher::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}
impl Eq for StringMatcher {}

/// The expected signer: a SAN matcher and an OIDC issuer matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityMatcher {
    /// Matched against every SAN of the certificate (email, URI, DNS, IP, Fulcio OtherName);
    /// one match is enough, as in cosign.
    pub subject: StringMatcher,
    /// Matched against the Fulcio issuer (`1.3.6.1.4.1.57264.1.8`, else `…1.1`).
    pub issuer: StringMatcher,
}

/// Why a certificate's identity does not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// No SAN matches.
    #[error(
        "certificate identity mismatch: expected a SAN matching {expected}, the certificate has {actual:?}"
    )]
    SubjectMismatch {
        /// The matcher.
        expected: StringMatcher,
        /// The certificate's SANs.
        actual: Vec<San>,
    },
    /// The issuer does not match.
    #[error(
        "certificate OIDC issuer mismatch: expected {expected}, the certificate has {actual:?}"
    )]
    IssuerMismatch {
        /// The matcher.
        expected: StringMatcher,
        /// The certificate's issuer extension value.
        actual: String,
    },
    /// The certificate has no Fulcio issuer extension.
    #[error(
        "the certificate has no OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1): it was not issued by Fulcio"
    )]
    MissingIssuer,
    /// A regex does not compile.
    #[error("invalid identity regular expression {pattern:?}: {detail}")]
    InvalidRegex {
        /// The pattern given.
        pattern: String,
        /// The compiler's message.
        detail: String,
    },
}

impl IdentityMatcher {
    /// Exact subject and issuer.
    pub fn exact(subject: impl Into<String>, issuer: impl Into<String>) -> Self {
        IdentityMatcher {
            subject: StringMatcher::Exact(subject.into()),
            issuer: StringMatcher::Exact(issuer.into()),
        }
    }

    /// Checks `cert`'s SANs and issuer; returns the SAN that matched.
    ///
    /// # Errors
    /// [`IdentityError::SubjectMismatch`], [`IdentityError::MissingIssuer`] or
    /// [`IdentityError::IssuerMismatch`].
    pub fn verify<'c>(&self, cert: &'c Certificate) -> Result<&'c San, IdentityError> {
        let sans = cert.subject_alternative_names();
        let matched = sans
            .iter()
            .find(|san| self.subject.matches(&san.value()))
            .ok_or_else(|| IdentityError::SubjectMismatch {
                expected: self.subject.clone(),
                actual: sans.to_vec(),
            })?;
        let issuer = cert
            .fulcio_extensions()
            .issuer
            .as_deref()
            .ok_or(IdentityError::MissingIssuer)?;
        if !self.issuer.matches(issuer) {
            return Err(IdentityError::IssuerMismatch {
                expected: self.issuer.clone(),
                actual: issuer.to_owned(),
            });
        }
        Ok(matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_unanchored_like_go() {
        let m = StringMatcher::regex("example\\.com").expect("compiles");
        assert!(m.matches("https://example.com/x"));
        let anchored = StringMatcher::regex("^https://example\\.com$").expect("compiles");
        assert!(!anchored.matches("https://example.com/x"));
        assert!(anchored.matches("https://example.com"));
    }

    #[test]
    fn exact_is_exact() {
        let m = StringMatcher::Exact("a@b.c".into());
        assert!(m.matches("a@b.c"));
        assert!(!m.matches("a@b.c "));
        assert!(!m.matches("xa@b.c"));
    }

    #[test]
    fn bad_regex_is_reported() {
        assert!(matches!(
            StringMatcher::regex("("),
            Err(IdentityError::InvalidRegex { .. })
        ));
    }
}
