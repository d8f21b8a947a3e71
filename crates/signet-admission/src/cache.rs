//! The verdict cache: verified passes only, keyed by what the verdict depends on.
//!
//! The key is a SHA-256 over the repository the signatures were read from, the image
//! **digest** (never a tag: a tag can move, a digest cannot), the policy generation
//! (which changes whenever any policy changes) and the authority (its policy, index and
//! content: key bytes, identities, signature format, source). Failures are never stored:
//! a denial is re-checked on the next request (so signing an image takes effect at
//! once), and an infrastructure failure (registry down, timeout, cancelled request) can
//! never come back as a pass. Entries expire after a TTL (so a signature deleted from
//! the registry stops counting within it) and the table is bounded: when full, expired
//! entries go, then the oldest.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

/// What a cached verdict is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key for one authority's verdict on one image. `authority` is the
    /// authority's identity: its policy name, index and content (key bytes included).
    pub fn new(
        repository: &str,
        digest: &signet_formats::Digest,
        generation: &signet_policy::Generation,
        authority: &[u8],
    ) -> Self {
        let mut h = Sha256::new();
        for part in [
            repository.as_bytes(),
            digest.to_string().as_bytes(),
            generation.digest().to_string().as_bytes(),
            authority,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        CacheKey(h.finalize().into())
    }
}

/// A bounded TTL cache of verified passes. Clones share nothing: wrap it in an `Arc`.
#[derive(Debug)]
pub struct VerdictCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<CacheKey, Instant>>,
}

impl VerdictCache {
    /// A cache keeping passes for `ttl`, at most `capacity` of them (0 disables it).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        VerdictCache {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` has an unexpired pass.
    pub fn contains(&self, key: &CacheKey) -> bool {
        let Ok(mut entries) = self.entries.lock() else {
            return false;
        };
        match entries.get(key) {
            Some(at) if at.elapsed() < self.ttl => true,
            Some(_) => {
                entries.remove(key);
                false
            }
            None => false,
        }
    }

    /// Records a verified pass.
    pub fn insert_pass(&self, key: CacheKey) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, at| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                // Drop the oldest tenth (at least one).
                let mut ages: Vec<(CacheKey, Instant)> =
                    entries.iter().map(|(k, v)| (*k, *v)).collect();
                ages.sort_by_key(|(_, at)| *at);
                for (k, _) in ages.iter().take((self.capacity / 10).max(1)) {
                    entries.remove(k);
                }
            }
        }
        entries.insert(key, Instant::now());
    }

    /// How many entries are held (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CacheKey {
        CacheKey([n; 32])
    }

    #[test]
    fn passes_expire_and_the_table_is_bounded() {
        let c = VerdictCache::new(Duration::from_millis(50), 10);
        c.insert_pass(key(1));
        assert!(c.contains(&key(1)));
        assert!(!c.contains(&key(2)));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!c.contains(&key(1)), "expired");
        let c = VerdictCache::new(Duration::from_secs(60), 10);
        for n in 0..25 {
            c.insert_pass(key(n));
        }
        assert!(c.len() <= 10);
        assert!(c.contains(&key(24)), "the newest stays");
        assert!(!c.contains(&key(0)), "the oldest went");
        let off = VerdictCache::new(Duration::from_secs(60), 0);
        off.insert_pass(key(1));
        assert!(!off.contains(&key(1)));
    }

    #[test]
    fn keys_separate_every_input() {
        let d1 = signet_formats::Digest::sha256_of(b"1");
        let d2 = signet_formats::Digest::sha256_of(b"2");
        let g = signet_policy::PolicySet::empty().generation().clone();
        let base = CacheKey::new("r/a", &d1, &g, b"k");
        assert_ne!(base, CacheKey::new("r/b", &d1, &g, b"k"));
        assert_ne!(base, CacheKey::new("r/a", &d2, &g, b"k"));
        assert_ne!(base, CacheKey::new("r/a", &d1, &g, b"k2"));
        assert_eq!(base, CacheKey::new("r/a", &d1, &g, b"k"));
    }
}
