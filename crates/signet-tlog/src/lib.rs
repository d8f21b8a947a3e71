//! Transparency-log verification (being written).
