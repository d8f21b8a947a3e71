//! `signing_config.json` v0.2 (`dev.sigstore.trustroot.v1.SigningConfig`): which CA,
//! OIDC provider, transparency logs and TSAs a signer should use.

use serde::Deserialize;

use super::protojson::{WireEnum, WireInt, check_url, enum_value, non_negative_u32};
use super::time::{ValidityWindow, WireTimeRange};
use super::{Document, SigstoreFormatError};

/// The signing config media type this module reads.
pub const SIGNING_CONFIG_V02_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.signingconfig.v0.2+json";

/// A parsed signing config (v0.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningConfig {
    /// `caUrls`: Fulcio instances.
    pub ca_urls: Vec<Service>,
    /// `oidcUrls`: OIDC providers.
    pub oidc_urls: Vec<Service>,
    /// `rekorTlogUrls`: Rekor instances (v1 or v2 by `majorApiVersion`).
    pub rekor_tlog_urls: Vec<Service>,
    /// `tsaUrls`: RFC 3161 timestamp authorities.
    pub tsa_urls: Vec<Service>,
    /// `rekorTlogConfig`: how many logs to use, if given.
    pub rekor_tlog_config: Option<ServiceConfiguration>,
    /// `tsaConfig`: how many TSAs to use, if given.
    pub tsa_config: Option<ServiceConfiguration>,
}

/// One service endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// `url`.
    pub url: String,
    /// `majorApiVersion`, e.g. 1 or 2 for Rekor.
    pub major_api_version: u32,
    /// `validFor`: when clients may use the service (closed interval, start required).
    pub valid_for: ValidityWindow,
    /// `operator`: services are deduplicated per operator.
    pub operator: String,
}

/// `{selector, count}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceConfiguration {
    /// `selector`.
    pub selector: ServiceSelector,
    /// `count`, used with [`ServiceSelector::Exact`].
    pub count: u32,
}

/// `ServiceSelector`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceSelector {
    /// `SERVICE_SELECTOR_UNDEFINED`.
    Undefined,
    /// `ALL`: use every valid service.
    All,
    /// `ANY`: use one.
    Any,
    /// `EXACT`: use exactly `count`.
    Exact,
}

const SELECTORS: &[(&str, Option<i64>, ServiceSelector)] = &[
    (
        "SERVICE_SELECTOR_UNDEFINED",
        Some(0),
        ServiceSelector::Undefined,
    ),
    ("ALL", Some(1), ServiceSelector::All),
    ("ANY", Some(2), ServiceSelector::Any),
    ("EXACT", Some(3), ServiceSelector::Exact),
];

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireConfig {
    #[serde(default, rename = "mediaType", alias = "media_type")]
    media_type: Option<String>,
    #[serde(default, rename = "caUrls", alias = "ca_urls")]
    ca_urls: Option<Vec<WireService>>,
    #[serde(default, rename = "oidcUrls", alias = "oidc_urls")]
    oidc_urls: Option<Vec<WireService>>,
    #[serde(default, rename = "rekorTlogUrls", alias = "rekor_tlog_urls")]
    rekor_tlog_urls: Option<Vec<WireService>>,
    #[serde(default, rename = "tsaUrls", alias = "tsa_urls")]
    tsa_urls: Option<Vec<WireService>>,
    #[serde(default, rename = "rekorTlogConfig", alias = "rekor_tlog_config")]
    rekor_tlog_config: Option<WireServiceConfig>,
    #[serde(default, rename = "tsaConfig", alias = "tsa_config")]
    tsa_config: Option<WireServiceConfig>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireService {
    #[serde(default)]
    url: Option<String>,
    #[serde(default, rename = "majorApiVersion", alias = "major_api_version")]
    major_api_version: Option<WireInt>,
    #[serde(default, rename = "validFor", alias = "valid_for")]
    valid_for: Option<WireTimeRange>,
    #[serde(default)]
    operator: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireServiceConfig {
    #[serde(default)]
    selector: Option<WireEnum>,
    #[serde(default)]
    count: Option<WireInt>,
}

struct Paths {
    url: &'static str,
    version: &'static str,
    valid_for: &'static str,
    start: &'static str,
    end: &'static str,
}

macro_rules! paths {
    ($list:literal) => {
        Paths {
            url: concat!($list, "[].url"),
            version: concat!($list, "[].majorApiVersion"),
            valid_for: concat!($list, "[].validFor"),
            start: concat!($list, "[].validFor.start"),
            end: concat!($list, "[].validFor.end"),
        }
    };
}

fn convert_services(
    list: Option<Vec<WireService>>,
    p: &Paths,
) -> Result<Vec<Service>, SigstoreFormatError> {
    list.unwrap_or_default()
        .iter()
        .map(|s| {
            let url = s.url.clone().unwrap_or_default();
            if url.is_empty() {
                return Err(SigstoreFormatError::MissingField { field: p.url });
            }
            check_url(p.url, &url)?;
            Ok(Service {
                url,
                major_api_version: non_negative_u32(p.version, s.major_api_version.as_ref())?,
                valid_for: ValidityWindow::from_wire(
                    p.valid_for,
                    p.start,
                    p.end,
                    s.valid_for.as_ref(),
                )?,
                operator: s.operator.clone().unwrap_or_default(),
            })
        })
        .collect()
}

fn convert_config(
    w: Option<&WireServiceConfig>,
    selector_field: &'static str,
    count_field: &'static str,
) -> Result<Option<ServiceConfiguration>, SigstoreFormatError> {
    w.map(|c| {
        Ok(ServiceConfiguration {
            selector: enum_value(
                selector_field,
                c.selector.as_ref(),
                ServiceSelector::Undefined,
                SELECTORS,
            )?,
            count: non_negative_u32(count_field, c.count.as_ref())?,
        })
    })
    .transpose()
}

impl SigningConfig {
    /// Parses a v0.2 signing config ([`SIGNING_CONFIG_V02_MEDIA_TYPE`]).
    pub fn parse(json: &[u8]) -> Result<Self, SigstoreFormatError> {
        let wire: WireConfig = serde_json::from_slice(json)
            .map_err(|e| SigstoreFormatError::json(Document::SigningConfig, json, &e))?;
        let media_type = wire.media_type.unwrap_or_default();
        if media_type != SIGNING_CONFIG_V02_MEDIA_TYPE {
            return Err(SigstoreFormatError::UnsupportedMediaType {
                document: Document::SigningConfig,
                found: media_type.chars().take(200).collect(),
                expected: SIGNING_CONFIG_V02_MEDIA_TYPE,
            });
        }
        Ok(SigningConfig {
            ca_urls: convert_services(wire.ca_urls, &paths!("caUrls"))?,
            oidc_urls: convert_services(wire.oidc_urls, &paths!("oidcUrls"))?,
            rekor_tlog_urls: convert_services(wire.rekor_tlog_urls, &paths!("rekorTlogUrls"))?,
            tsa_urls: convert_services(wire.tsa_urls, &paths!("tsaUrls"))?,
            rekor_tlog_config: convert_config(
                wire.rekor_tlog_config.as_ref(),
                "rekorTlogConfig.selector",
                "rekorTlogConfig.count",
            )?,
            tsa_config: convert_config(
                wire.tsa_config.as_ref(),
                "tsaConfig.selector",
                "tsaConfig.count",
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_parses() {
        let c = SigningConfig::parse(
            br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"}"#,
        )
        .unwrap();
        assert!(c.ca_urls.is_empty() && c.rekor_tlog_config.is_none());
    }

    #[test]
    fn selectors_and_errors() {
        let c = SigningConfig::parse(
            br#"{"media_type":"application/vnd.dev.sigstore.signingconfig.v0.2+json",
                 "rekor_tlog_urls":[{"url":"http://127.0.0.1:1","major_api_version":"2","valid_for":{"start":"2026-01-01T00:00:00Z"}}],
                 "tsaConfig":{"selector":"EXACT","count":2}}"#,
        )
        .unwrap();
        assert_eq!(c.rekor_tlog_urls[0].major_api_version, 2);
        assert_eq!(
            c.tsa_config,
            Some(ServiceConfiguration {
                selector: ServiceSelector::Exact,
                count: 2
            })
        );
        assert!(matches!(
            SigningConfig::parse(br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","tsaConfig":{"selector":"SOME"}}"#),
            Err(SigstoreFormatError::UnknownEnumValue { field: "tsaConfig.selector", .. })
        ));
        assert!(matches!(
            SigningConfig::parse(br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","caUrls":[{"url":"https://ca.example","validFor":{}}]}"#),
            Err(SigstoreFormatError::MissingField { field: "caUrls[].validFor.start" })
        ));
        assert!(matches!(
            SigningConfig::parse(br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","caUrls":[{"url":"u","validFor":{}}]}"#),
            Err(SigstoreFormatError::InvalidUrl { field: "caUrls[].url", .. })
        ));
        assert!(matches!(
            SigningConfig::parse(
                br#"{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.1+json"}"#
            ),
            Err(SigstoreFormatError::UnsupportedMediaType {
                document: Document::SigningConfig,
                ..
            })
        ));
    }
}
