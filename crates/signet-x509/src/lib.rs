//! X.509 for Sigstore (being written).
