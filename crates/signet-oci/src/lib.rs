//! OCI distribution for signet: an HTTP registry client (auth, retries, limits), OCI
//! image layouts on disk, one [`ImageStore`] interface over both, where cosign
//! keeps signatures (the `sha256-<hex>.sig` tag scheme), and OCI 1.1 referrers (the
//! referrers API and its `sha256-<hex>` fallback index, in [`referrers`]).
//!
//! Everything here is async (tokio) and does I/O; parsing is delegated to
//! `signet-formats`, and nothing here checks a signature.

#![deny(missing_docs)]

mod client;
pub mod layout;
pub mod referrers;
pub mod signatures;
mod store;

pub use client::*;
pub use layout::{LayoutError, OciLayout};
pub use store::{ImageStore, MAX_MANIFEST_BYTES, ResolvedManifest, StoreError};
