//! The opt-in cache of a [`super::BundleVerifier`] ([`super::BundleVerifier::with_cache`]).
//!
//! It remembers the results of the checks that many bundles from one Sigstore instance
//! repeat, each keyed by a SHA-256 over *every* input of the check, so that a cached
//! answer is the answer the check would give again:
//!
//! | check | key | value |
//! |---|---|---|
//! | certificate chain (`signet_x509::verify_chain`) | leaf DER, and the time's position among every date the check compares it with (see below) | the verified path |
//! | embedded SCTs | leaf DER, issuer DER | ok |
//! | checkpoint signature | log ID, note text, the key names the log may sign under | the verified checkpoint |
//! | signed entry timestamp | log ID, body, integrated time, log index, SET | ok |
//! | RFC 3161 timestamp | timestamp DER, the signature it covers | its genTime |
//!
//! The trusted root is the verifier's own and never changes, so it is not part of the
//! keys; a cache is never shared between verifiers of different roots (clones of one
//! verifier share it). Only successes are stored: a failure is recomputed, so its error
//! (which may name the time it was checked at) is exactly the uncached one.
//!
//! A chain check reads the time only by comparing it with dates: the leaf's validity,
//! each authority's `validFor` and the validity of every certificate in the authorities'
//! chains. Two times on the same side of (or equal to) each of those dates get the same
//! answer, so the key holds that position, not the time itself: bundles signed with one
//! certificate at different times share the entry.
//!
//! Each table holds at most `capacity` entries and is emptied when full; lookups take a
//! read lock, so both cores verify in parallel through one cache.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256};
use signet_x509::{Certificate, CertificateAuthority, UnixTime};

/// The default number of entries of each table.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// How often the cache answered, and how full it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Checks answered from the cache.
    pub hits: u64,
    /// Checks computed (and stored when they succeeded).
    pub misses: u64,
    /// Entries held now, over all tables.
    pub entries: usize,
}

pub(crate) type Key = [u8; 32];

/// SHA-256 over length-prefixed parts (so that no two part lists collide).
pub(crate) fn key(parts: &[&[u8]]) -> Key {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

struct Table<V> {
    map: RwLock<HashMap<Key, V>>,
    capacity: usize,
}

impl<V: Clone> Table<V> {
    fn new(capacity: usize) -> Self {
        Table {
            map: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    fn get(&self, k: &Key) -> Option<V> {
        // A poisoned lock only means another thread panicked mid-insert: treat as a miss.
        self.map.read().ok().and_then(|m| m.get(k).cloned())
    }

    fn insert(&self, k: Key, v: V) {
        if let Ok(mut m) = self.map.write() {
            if m.len() >= self.capacity {
                m.clear();
            }
            m.insert(k, v);
        }
    }

    fn len(&self) -> usize {
        self.map.read().map_or(0, |m| m.len())
    }
}

/// The cache; see the module docs.
pub(crate) struct VerifierCache {
    chains: Table<signet_x509::VerifiedChain>,
    scts: Table<()>,
    checkpoints: Table<signet_tlog::checkpoint::VerifiedCheckpoint>,
    sets: Table<()>,
    timestamps: Table<i64>,
    /// Every date of the authorities that a chain check compares the time with, sorted.
    authority_dates: Vec<i64>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for VerifierCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierCache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl VerifierCache {
    pub(crate) fn new(authorities: &[CertificateAuthority], capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let mut dates = vec![0];
        for a in authorities {
            dates.push(a.valid_for.start.0);
            dates.extend(a.valid_for.end.map(|e| e.0));
            for c in a.chain() {
                dates.push(c.not_before().0);
                dates.push(c.not_after().0);
            }
        }
        dates.sort_unstable();
        dates.dedup();
        VerifierCache {
            chains: Table::new(capacity),
            scts: Table::new(capacity),
            checkpoints: Table::new(capacity),
            sets: Table::new(capacity),
            timestamps: Table::new(capacity),
            authority_dates: dates,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.chains.len()
                + self.scts.len()
                + self.checkpoints.len()
                + self.sets.len()
                + self.timestamps.len(),
        }
    }

    fn lookup<V: Clone, E>(
        &self,
        table: &Table<V>,
        k: Key,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if let Some(v) = table.get(&k) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(v);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let v = compute()?;
        table.insert(k, v.clone());
        Ok(v)
    }

    /// Where `at` lies among the dates a chain check for `leaf` compares it with: for
    /// each date, before, equal or after. Equal positions give equal comparisons.
    fn time_position(&self, leaf: &Certificate, at: UnixTime) -> Vec<u8> {
        let t = at.0;
        let below = self.authority_dates.partition_point(|d| *d < t) as u64;
        let equal = self.authority_dates.binary_search(&t).is_ok();
        let mut out = below.to_be_bytes().to_vec();
        out.push(u8::from(equal));
        for d in [leaf.not_before().0, leaf.not_after().0] {
            out.push(t.cmp(&d) as i8 as u8);
        }
        out
    }

    pub(crate) fn chain<E>(
        &self,
        leaf: &Certificate,
        at: UnixTime,
        compute: impl FnOnce() -> Result<signet_x509::VerifiedChain, E>,
    ) -> Result<signet_x509::VerifiedChain, E> {
        let k = key(&[b"chain", leaf.der(), &self.time_position(leaf, at)]);
        self.lookup(&self.chains, k, compute)
    }

    pub(crate) fn scts<E>(
        &self,
        leaf: &Certificate,
        issuer: &Certificate,
        compute: impl FnOnce() -> Result<(), E>,
    ) -> Result<(), E> {
        self.lookup(
            &self.scts,
            key(&[b"sct", leaf.der(), issuer.der()]),
            compute,
        )
    }

    pub(crate) fn checkpoint<E>(
        &self,
        k: Key,
        compute: impl FnOnce() -> Result<signet_tlog::checkpoint::VerifiedCheckpoint, E>,
    ) -> Result<signet_tlog::checkpoint::VerifiedCheckpoint, E> {
        self.lookup(&self.checkpoints, k, compute)
    }

    pub(crate) fn set<E>(&self, k: Key, compute: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        self.lookup(&self.sets, k, compute)
    }

    pub(crate) fn timestamp<E>(
        &self,
        k: Key,
        compute: impl FnOnce() -> Result<i64, E>,
    ) -> Result<i64, E> {
        self.lookup(&self.timestamps, k, compute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_length_prefixed() {
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
        assert_eq!(key(&[b"ab", b"c"]), key(&[b"ab", b"c"]));
    }

    #[test]
    fn tables_are_bounded_and_store_only_successes() {
        let cache = VerifierCache::new(&[], 2);
        let mut calls = 0;
        for i in 0u8..5 {
            let r: Result<(), ()> = cache.set(key(&[&[i]]), || {
                calls += 1;
                Ok(())
            });
            assert!(r.is_ok());
        }
        assert_eq!(calls, 5);
        assert!(cache.stats().entries <= 2);
        // a failure is not stored: computed again next time
        let k = key(&[b"fails"]);
        assert_eq!(cache.set(k, || Err::<(), _>("no")), Err("no"));
        let mut again = false;
        let _ = cache.set(k, || {
            again = true;
            Err::<(), _>("no")
        });
        assert!(again);
        // a success is: the second lookup does not compute
        let k = key(&[b"ok"]);
        assert_eq!(cache.set(k, || Ok::<(), ()>(())), Ok(()));
        assert_eq!(
            cache.set(k, || -> Result<(), ()> {
                panic!("must come from the cache")
            }),
            Ok(())
        );
    }
}
