//! Where `key.secretRef` public keys come from. Out of a cluster there is no source,
//! and such authorities are reported as failures to verify; in a cluster (the
//! `kubernetes` feature) Secrets are read from the Kubernetes API.

use std::fmt;

use futures_util::future::BoxFuture;
use signet_crypto::PublicKey;

/// Why a Secret gave no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The Kubernetes API could not be asked (down, timeout): an infrastructure failure.
    #[error("the Kubernetes API could not be asked for Secret {namespace}/{name}: {reason}")]
    Unreachable {
        /// The Secret's namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What failed.
        reason: String,
    },
    /// The API answered, and there is no such Secret, or the webhook may not read it.
    #[error(
        "Secret {namespace}/{name} {reason}: key.secretRef Secrets must be in the webhook's namespace and hold the PEM public key"
    )]
    Unavailable {
        /// The Secret's namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// `does not exist`, `may not be read by the webhook`…
        reason: String,
    },
    /// The Secret does not hold one usable PEM public key.
    #[error("Secret {namespace}/{name} does not hold one PEM public key: {reason}")]
    Malformed {
        /// The Secret's namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl SecretError {
    /// Whether the key could not be looked up at all (as opposed to looked up and
    /// found wanting).
    pub fn is_infrastructure(&self) -> bool {
        matches!(self, SecretError::Unreachable { .. })
    }
}

/// A source of `key.secretRef` public keys.
pub trait SecretKeys: fmt::Debug + Send + Sync {
    /// The public key held by Secret `name` in `namespace`.
    fn public_key<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<PublicKey, SecretError>>;
}

/// The public key in a Secret's data: its only entry, else its `cosign.pub` entry.
///
/// # Errors
/// [`SecretError::Malformed`].
pub fn key_from_secret_data<'a>(
    namespace: &str,
    name: &str,
    data: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<PublicKey, SecretError> {
    let malformed = |reason: String| SecretError::Malformed {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        reason,
    };
    let entries: Vec<(&str, &[u8])> = data.into_iter().collect();
    let pem = match entries.as_slice() {
        [] => return Err(malformed("it has no data".into())),
        [(_, only)] => *only,
        many => match many.iter().find(|(k, _)| *k == "cosign.pub") {
            Some((_, v)) => *v,
            None => {
                let keys: Vec<&str> = many.iter().map(|(k, _)| *k).collect();
                return Err(malformed(format!(
                    "it has {} entries ({}); keep only the public key, or name it cosign.pub",
                    keys.len(),
                    keys.join(", ")
                )));
            }
        },
    };
    PublicKey::from_pem(pem).map_err(|e| malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETxUuah0i//OgilbAA3AotYuGyako\noWYKTUnVZUiCCntbBICYg4Zza2pV4Aa+dinGZJPULhPEv1oMtcd1thQcEQ==\n-----END PUBLIC KEY-----\n";

    #[test]
    fn the_key_is_the_only_entry_or_cosign_pub() {
        let key = PublicKey::from_pem(PEM.as_bytes()).unwrap();
        let only = key_from_secret_data("ns", "s", [("anything", PEM.as_bytes())]).unwrap();
        assert_eq!(only.spki_der(), key.spki_der());
        let named = key_from_secret_data(
            "ns",
            "s",
            [("cosign.key", &b"x"[..]), ("cosign.pub", PEM.as_bytes())],
        )
        .unwrap();
        assert_eq!(named.spki_der(), key.spki_der());
        let malformed = |r: Result<PublicKey, SecretError>| match r {
            Err(e @ SecretError::Malformed { .. }) => {
                assert!(!e.is_infrastructure());
                e.to_string()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            malformed(key_from_secret_data(
                "ns",
                "s",
                [("a", PEM.as_bytes()), ("b", PEM.as_bytes())]
            )),
            "Secret ns/s does not hold one PEM public key: it has 2 entries (a, b); keep only the public key, or name it cosign.pub"
        );
        assert_eq!(
            malformed(key_from_secret_data("ns", "s", Vec::<(&str, &[u8])>::new())),
            "Secret ns/s does not hold one PEM public key: it has no data"
        );
        let bad = malformed(key_from_secret_data("ns", "s", [("k", &b"not a key"[..])]));
        assert!(
            bad.starts_with("Secret ns/s does not hold one PEM public key: "),
            "{bad}"
        );
    }
}
