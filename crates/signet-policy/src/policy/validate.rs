//! Validation of a parsed ClusterImagePolicy document into a [`ClusterImagePolicy`]:
//! every check of the module docs, each failure recorded with its field.

use std::collections::BTreeSet;

use regex::Regex;
use signet_crypto::PublicKey;

use super::wire;
use super::{
    Attestation, Authority, AuthorityKind, CertificateAuthority, ClusterImagePolicy,
    DEFAULT_FULCIO_URL, DocumentLocation, HashAlgorithm, Identity, KeyAuthority, KeySource,
    KeylessAuthority, LabelOperator, LabelRequirement, LabelSelector, LoadNote, MatchResource,
    Matcher, Note, PolicyError, PolicyMode, Problem, SecretRef, SignatureFormat, SignatureSource,
    StaticAction, StaticAuthority, TransparencyLog, TrustRootRef,
};
use crate::glob::ImageGlob;
use crate::workload::WorkloadKind;

/// The document being validated, and what was found so far.
pub(super) struct Ctx {
    pub(super) location: DocumentLocation,
    pub(super) policy: Option<String>,
    pub(super) errors: Vec<PolicyError>,
    pub(super) notes: Vec<LoadNote>,
}

impl Ctx {
    pub(super) fn error(&mut self, field: impl Into<String>, problem: Problem) {
        self.errors.push(PolicyError {
            location: self.location.clone(),
            policy: self.policy.clone(),
            field: field.into(),
            problem,
        });
    }

    pub(super) fn note(&mut self, note: Note) {
        self.notes.push(LoadNote {
            location: self.location.clone(),
            policy: self.policy.clone(),
            note,
        });
    }
}

pub(super) fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

pub(super) fn validate_spec(
    ctx: &mut Ctx,
    name: &str,
    spec: &wire::Spec,
) -> Option<ClusterImagePolicy> {
    if spec.policy.as_ref().is_some_and(|p| !p.is_null()) {
        ctx.error("spec.policy", Problem::PolicyNotSupported);
    }
    if spec.images.is_empty() {
        ctx.error(
            "spec.images",
            Problem::Missing {
                hint: "at least one image glob, e.g. `images: [{glob: \"registry.example.com/app/**\"}]`",
            },
        );
    }
    let mut images = Vec::new();
    for (i, pattern) in spec.images.iter().enumerate() {
        let field = format!("spec.images[{i}].glob");
        let Some(text) = non_empty(&pattern.glob) else {
            ctx.error(
                field,
                Problem::Missing {
                    hint: "a glob such as \"ghcr.io/org/**\"",
                },
            );
            continue;
        };
        match ImageGlob::parse(text) {
            Ok(glob) => {
                let g = text.to_owned();
                if glob.has_confined_double_star() {
                    ctx.note(Note::ConfinedDoubleStar { glob: g.clone() });
                }
                if glob.has_open_ended_host() {
                    ctx.note(Note::OpenEndedHost { glob: g.clone() });
                }
                if glob.names_tag() {
                    ctx.note(Note::GlobNamesTag { glob: g });
                }
                images.push(glob);
            }
            Err(e) => ctx.error(field, Problem::Glob(e)),
        }
    }
    if spec.authorities.is_empty() {
        ctx.error(
            "spec.authorities",
            Problem::Missing {
                hint: "at least one authority (key, keyless or static); to admit matching images without a signature, use `- static: {action: pass}`",
            },
        );
    }
    let mut authorities = Vec::new();
    let mut names = BTreeSet::new();
    for (i, a) in spec.authorities.iter().enumerate() {
        let field = format!("spec.authorities[{i}]");
        if let Some(authority) = validate_authority(ctx, &field, i, a) {
            if !names.insert(authority.name.clone()) {
                ctx.error(
                    format!("{field}.name"),
                    Problem::DuplicateAuthority {
                        name: authority.name.clone(),
                    },
                );
            }
            authorities.push(authority);
        }
    }
    let mode = match non_empty(&spec.mode) {
        None | Some("enforce") => PolicyMode::Enforce,
        Some("warn") => PolicyMode::Warn,
        Some(other) => {
            ctx.error(
                "spec.mode",
                Problem::NotAllowed {
                    found: other.to_owned(),
                    expected: "enforce or warn",
                },
            );
            PolicyMode::Enforce
        }
    };
    let mut match_resources = Vec::new();
    for (i, m) in spec.match_resources.iter().enumerate() {
        if let Some(m) = validate_match(ctx, &format!("spec.match[{i}]"), m) {
            match_resources.push(m);
        }
    }
    Some(ClusterImagePolicy {
        name: name.to_owned(),
        images,
        authorities,
        mode,
        match_resources,
        mutate_digest: spec.mutate_digest.unwrap_or(true),
        verify_digest: spec.verify_digest.unwrap_or(true),
        fail_open: spec.fail_open.unwrap_or(false),
        origin: ctx.location.clone(),
    })
}

fn found_list(found: &[&str]) -> String {
    if found.is_empty() {
        "none".to_owned()
    } else {
        found.join(" and ")
    }
}

fn validate_authority(
    ctx: &mut Ctx,
    field: &str,
    index: usize,
    a: &wire::Authority,
) -> Option<Authority> {
    let name = non_empty(&a.name).map_or_else(|| format!("authority-{index}"), str::to_owned);
    let present: Vec<&str> = [
        a.key.as_ref().map(|_| "key"),
        a.keyless.as_ref().map(|_| "keyless"),
        a.static_.as_ref().map(|_| "static"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if present.len() != 1 {
        ctx.error(
            field,
            Problem::ExactlyOne {
                choices: "key, keyless, static",
                found: found_list(&present),
            },
        );
        return None;
    }
    let kind = if let Some(k) = &a.key {
        AuthorityKind::Key(validate_key(ctx, &format!("{field}.key"), k)?)
    } else if let Some(k) = &a.keyless {
        AuthorityKind::Keyless(validate_keyless(ctx, &format!("{field}.keyless"), k)?)
    } else if let Some(s) = &a.static_ {
        let action = match non_empty(&s.action) {
            Some("pass") => StaticAction::Pass,
            Some("fail") => StaticAction::Fail,
            None => {
                ctx.error(
                    format!("{field}.static.action"),
                    Problem::Missing {
                        hint: "pass or fail",
                    },
                );
                return None;
            }
            Some(other) => {
                ctx.error(
                    format!("{field}.static.action"),
                    Problem::NotAllowed {
                        found: other.to_owned(),
                        expected: "pass or fail",
                    },
                );
                return None;
            }
        };
        for (present, with) in [
            (!a.attestations.is_empty(), "attestations"),
            (!a.sources.is_empty(), "source"),
            (a.ctlog.is_some(), "ctlog"),
            (a.rfc3161_timestamp.is_some(), "rfc3161timestamp"),
        ] {
            if present {
                ctx.error(
                    format!("{field}.{with}"),
                    Problem::Conflict {
                        field: "static",
                        with,
                    },
                );
            }
        }
        AuthorityKind::Static(StaticAuthority {
            action,
            message: non_empty(&s.message).map(str::to_owned),
        })
    } else {
        return None;
    };
    let signature_format = match non_empty(&a.signature_format) {
        None | Some("legacy") => SignatureFormat::Legacy,
        Some("bundle") => SignatureFormat::Bundle,
        Some(other) => {
            ctx.error(
                format!("{field}.signatureFormat"),
                Problem::NotAllowed {
                    found: other.to_owned(),
                    expected: "legacy or bundle",
                },
            );
            SignatureFormat::Legacy
        }
    };
    if a.sources.len() > 1 {
        ctx.error(
            format!("{field}.source"),
            Problem::NotAllowed {
                found: format!("{} sources", a.sources.len()),
                expected: "at most one source",
            },
        );
    }
    let source = a.sources.first().and_then(|s| {
        let Some(oci) = non_empty(&s.oci) else {
            ctx.error(
                format!("{field}.source[0].oci"),
                Problem::Missing {
                    hint: "the repository holding the signatures",
                },
            );
            return None;
        };
        let mut secrets = Vec::new();
        for (j, secret) in s.signature_pull_secrets.iter().enumerate() {
            match non_empty(&secret.name) {
                Some(n) => secrets.push(n.to_owned()),
                None => ctx.error(
                    format!("{field}.source[0].signaturePullSecrets[{j}].name"),
                    Problem::Missing {
                        hint: "a Secret name",
                    },
                ),
            }
        }
        Some(SignatureSource {
            oci: oci.to_owned(),
            signature_pull_secrets: secrets,
            tag_prefix: s.tag_prefix.clone(),
        })
    });
    let ctlog = a.ctlog.as_ref().map(|t| {
        if let Some(url) = non_empty(&t.url) {
            check_url(ctx, &format!("{field}.ctlog.url"), url);
        }
        TransparencyLog {
            url: non_empty(&t.url).map(str::to_owned),
            trust_root_ref: non_empty(&t.trust_root_ref).map(str::to_owned),
        }
    });
    let rfc3161_timestamp =
        a.rfc3161_timestamp
            .as_ref()
            .and_then(|t| match non_empty(&t.trust_root_ref) {
                Some(name) => Some(TrustRootRef {
                    name: name.to_owned(),
                }),
                None => {
                    ctx.error(
                        format!("{field}.rfc3161timestamp.trustRootRef"),
                        Problem::Missing {
                            hint: "the TrustRoot holding the timestamp authorities",
                        },
                    );
                    None
                }
            });
    let mut attestations = Vec::new();
    for (j, att) in a.attestations.iter().enumerate() {
        let f = format!("{field}.attestations[{j}]");
        match (non_empty(&att.name), non_empty(&att.predicate_type)) {
            (Some(n), Some(p)) => attestations.push(Attestation {
                name: n.to_owned(),
                predicate_type: p.to_owned(),
                policy: att.policy.clone(),
            }),
            (None, _) => ctx.error(
                format!("{f}.name"),
                Problem::Missing {
                    hint: "an attestation name",
                },
            ),
            (_, None) => ctx.error(
                format!("{f}.predicateType"),
                Problem::Missing {
                    hint: "a predicate type URI, e.g. https://slsa.dev/provenance/v1",
                },
            ),
        }
    }
    if !attestations.is_empty() {
        ctx.note(Note::AttestationsNotChecked {
            authority: name.clone(),
        });
    }
    Some(Authority {
        name,
        kind,
        signature_format,
        source,
        ctlog,
        rfc3161_timestamp,
        attestations,
    })
}

fn check_url(ctx: &mut Ctx, field: &str, url: &str) -> bool {
    let ok = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
    if !ok {
        ctx.error(
            field,
            Problem::NotAllowed {
                found: url.to_owned(),
                expected: "an http:// or https:// URL",
            },
        );
    }
    ok
}

fn secret_ref(ctx: &mut Ctx, field: &str, s: &wire::SecretRef) -> Option<SecretRef> {
    match non_empty(&s.name) {
        Some(name) => Some(SecretRef {
            name: name.to_owned(),
            namespace: non_empty(&s.namespace).map(str::to_owned),
        }),
        None => {
            ctx.error(
                format!("{field}.name"),
                Problem::Missing {
                    hint: "the Secret's name",
                },
            );
            None
        }
    }
}

fn key_sources(k: &wire::KeyRef) -> Vec<&'static str> {
    [
        non_empty(&k.data).map(|_| "data"),
        k.secret_ref.as_ref().map(|_| "secretRef"),
        non_empty(&k.kms).map(|_| "kms"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn validate_key(ctx: &mut Ctx, field: &str, k: &wire::KeyRef) -> Option<KeyAuthority> {
    let present = key_sources(k);
    let hash_algorithm = match non_empty(&k.hash_algorithm) {
        None | Some("sha256") => HashAlgorithm::Sha256,
        Some("sha224") => HashAlgorithm::Sha224,
        Some("sha384") => HashAlgorithm::Sha384,
        Some("sha512") => HashAlgorithm::Sha512,
        Some(other) => {
            ctx.error(
                format!("{field}.hashAlgorithm"),
                Problem::NotAllowed {
                    found: other.to_owned(),
                    expected: "sha224, sha256, sha384 or sha512",
                },
            );
            return None;
        }
    };
    if present.len() != 1 {
        ctx.error(
            field,
            Problem::ExactlyOne {
                choices: "data, secretRef, kms",
                found: found_list(&present),
            },
        );
        return None;
    }
    let key = if let Some(data) = non_empty(&k.data) {
        match PublicKey::from_pem(data.as_bytes()) {
            Ok(key) => KeySource::Inline(key),
            Err(e) => {
                ctx.error(format!("{field}.data"), Problem::PublicKey(e));
                return None;
            }
        }
    } else if let Some(s) = &k.secret_ref {
        KeySource::Secret(secret_ref(ctx, &format!("{field}.secretRef"), s)?)
    } else {
        let uri = non_empty(&k.kms).unwrap_or_default().to_owned();
        ctx.error(format!("{field}.kms"), Problem::KmsNotSupported { uri });
        return None;
    };
    Some(KeyAuthority {
        key,
        hash_algorithm,
    })
}

fn validate_keyless(ctx: &mut Ctx, field: &str, k: &wire::Keyless) -> Option<KeylessAuthority> {
    let ca = match (non_empty(&k.url), &k.ca_cert) {
        (Some(_), Some(_)) => {
            ctx.error(
                format!("{field}.ca-cert"),
                Problem::Conflict {
                    field: "ca-cert",
                    with: "url",
                },
            );
            return None;
        }
        (Some(url), None) => {
            if !check_url(ctx, &format!("{field}.url"), url) {
                return None;
            }
            CertificateAuthority::Fulcio {
                url: url.to_owned(),
            }
        }
        (None, None) => CertificateAuthority::Fulcio {
            url: DEFAULT_FULCIO_URL.to_owned(),
        },
        (None, Some(c)) => {
            let f = format!("{field}.ca-cert");
            let present = key_sources(c);
            if present.len() != 1 {
                ctx.error(
                    &f,
                    Problem::ExactlyOne {
                        choices: "data, secretRef, kms",
                        found: found_list(&present),
                    },
                );
                return None;
            }
            if let Some(pem) = non_empty(&c.data) {
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    ctx.error(format!("{f}.data"), Problem::CaCertificate);
                    return None;
                }
                CertificateAuthority::Inline {
                    pem: pem.to_owned(),
                }
            } else if let Some(s) = &c.secret_ref {
                CertificateAuthority::Secret(secret_ref(ctx, &format!("{f}.secretRef"), s)?)
            } else {
                let uri = non_empty(&c.kms).unwrap_or_default().to_owned();
                ctx.error(format!("{f}.kms"), Problem::KmsNotSupported { uri });
                return None;
            }
        }
    };
    if k.identities.is_empty() {
        ctx.error(
            format!("{field}.identities"),
            Problem::Missing {
                hint: "at least one identity with issuer (or issuerRegExp) and subject (or subjectRegExp); without one, any certificate the CA issued would pass",
            },
        );
        return None;
    }
    let mut identities = Vec::new();
    for (i, id) in k.identities.iter().enumerate() {
        let f = format!("{field}.identities[{i}]");
        let issuer = matcher(
            ctx,
            &f,
            ("issuer", &id.issuer),
            ("issuerRegExp", &id.issuer_reg_exp),
        );
        let subject = matcher(
            ctx,
            &f,
            ("subject", &id.subject),
            ("subjectRegExp", &id.subject_reg_exp),
        );
        if let (Some(issuer), Some(subject)) = (issuer, subject) {
            identities.push(Identity { issuer, subject });
        }
    }
    if identities.len() != k.identities.len() {
        return None;
    }
    Some(KeylessAuthority {
        ca,
        identities,
        trust_root_ref: non_empty(&k.trust_root_ref).map(str::to_owned),
        insecure_ignore_sct: k.insecure_ignore_sct.unwrap_or(false),
    })
}

fn matcher(
    ctx: &mut Ctx,
    field: &str,
    (exact_name, exact): (&'static str, &Option<String>),
    (regex_name, regex): (&'static str, &Option<String>),
) -> Option<Matcher> {
    match (non_empty(exact), non_empty(regex)) {
        (Some(_), Some(_)) => {
            ctx.error(
                format!("{field}.{regex_name}"),
                Problem::Conflict {
                    field: regex_name,
                    with: exact_name,
                },
            );
            None
        }
        (Some(s), None) => Some(Matcher::Exact(s.to_owned())),
        (None, Some(pattern)) => match Regex::new(pattern) {
            Ok(r) => Some(Matcher::Regex(r)),
            Err(e) => {
                ctx.error(
                    format!("{field}.{regex_name}"),
                    Problem::Regex {
                        pattern: pattern.to_owned(),
                        reason: e
                            .to_string()
                            .lines()
                            .last()
                            .unwrap_or_default()
                            .trim()
                            .trim_start_matches("error: ")
                            .to_owned(),
                    },
                );
                None
            }
        },
        (None, None) => {
            ctx.error(
                format!("{field}.{exact_name}"),
                Problem::Missing {
                    hint: if exact_name == "issuer" {
                        "issuer or issuerRegExp: the OIDC issuer the certificate must name"
                    } else {
                        "subject or subjectRegExp: the identity (email, workflow URI) the certificate must name"
                    },
                },
            );
            None
        }
    }
}

fn validate_match(ctx: &mut Ctx, field: &str, m: &wire::MatchResource) -> Option<MatchResource> {
    const RESOURCES: &str = "pods, deployments, replicasets, statefulsets, daemonsets, jobs, cronjobs or replicationcontrollers";
    let Some(resource_name) = non_empty(&m.resource) else {
        ctx.error(
            format!("{field}.resource"),
            Problem::Missing { hint: RESOURCES },
        );
        return None;
    };
    let Some(resource) = WorkloadKind::from_resource(resource_name) else {
        ctx.error(
            format!("{field}.resource"),
            Problem::NotAllowed {
                found: resource_name.to_owned(),
                expected: RESOURCES,
            },
        );
        return None;
    };
    let group = m.group.as_deref().unwrap_or_default();
    if group != resource.group() {
        ctx.error(
            format!("{field}.group"),
            Problem::WrongGroup {
                resource: resource.resource(),
                expected: resource.group(),
                found: group.to_owned(),
            },
        );
        return None;
    }
    let version = match non_empty(&m.version) {
        None => {
            ctx.error(
                format!("{field}.version"),
                Problem::Missing {
                    hint: "the API version, e.g. v1, or \"*\" for any",
                },
            );
            return None;
        }
        Some("*") => None,
        Some(v) => Some(v.to_owned()),
    };
    let selector = match &m.selector {
        None => None,
        Some(s) => {
            let mut match_expressions = Vec::new();
            for (i, r) in s.match_expressions.iter().enumerate() {
                let f = format!("{field}.selector.matchExpressions[{i}]");
                let Some(key) = non_empty(&r.key) else {
                    ctx.error(
                        format!("{f}.key"),
                        Problem::Missing {
                            hint: "a label key",
                        },
                    );
                    continue;
                };
                let operator = match non_empty(&r.operator) {
                    Some("In") => LabelOperator::In,
                    Some("NotIn") => LabelOperator::NotIn,
                    Some("Exists") => LabelOperator::Exists,
                    Some("DoesNotExist") => LabelOperator::DoesNotExist,
                    other => {
                        ctx.error(
                            format!("{f}.operator"),
                            Problem::NotAllowed {
                                found: other.unwrap_or_default().to_owned(),
                                expected: "In, NotIn, Exists or DoesNotExist",
                            },
                        );
                        continue;
                    }
                };
                let needs_values = matches!(operator, LabelOperator::In | LabelOperator::NotIn);
                if needs_values == r.values.is_empty() {
                    ctx.error(
                        format!("{f}.values"),
                        if needs_values {
                            Problem::Missing {
                                hint: "at least one value for In and NotIn",
                            }
                        } else {
                            Problem::Conflict {
                                field: "values",
                                with: "Exists and DoesNotExist",
                            }
                        },
                    );
                    continue;
                }
                match_expressions.push(LabelRequirement {
                    key: key.to_owned(),
                    operator,
                    values: r.values.clone(),
                });
            }
            Some(LabelSelector {
                match_labels: s.match_labels.clone(),
                match_expressions,
            })
        }
    };
    Some(MatchResource {
        resource,
        version,
        selector,
    })
}
