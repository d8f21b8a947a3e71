use std::path::{Path, PathBuf};

use super::*;
use crate::workload::ContainerImage;

fn testdata(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/policies")
        .join(sub)
}

fn load_file(path: &Path) -> Result<PolicySet, LoadError> {
    PolicySet::from_files([PolicyFile {
        path: path.to_owned(),
        text: std::fs::read_to_string(path).unwrap(),
    }])
}

fn errors(result: Result<PolicySet, LoadError>) -> Vec<PolicyError> {
    match result {
        Err(LoadError::Invalid { errors }) => errors,
        Err(other) => panic!("unexpected error {other}"),
        Ok(set) => panic!(
            "loaded {:?}",
            set.policies().iter().map(|p| &p.name).collect::<Vec<_>>()
        ),
    }
}

fn workload(kind: WorkloadKind, labels: &[(&str, &str)]) -> Workload {
    Workload {
        kind,
        version: "v1".into(),
        namespace: "team-a".into(),
        name: "w".into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        images: Vec::<ContainerImage>::new(),
    }
}

#[test]
fn the_valid_directory_loads() {
    let set = PolicySet::load_dir(&testdata("valid")).unwrap();
    let names: Vec<&str> = set.policies().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "allow-base-images",
            "audit-prod-deployments",
            "block-latest-dockerhub",
            "github-actions",
            "release-key",
            "vuln-scanned"
        ]
    );

    let release = set.get("release-key").unwrap();
    assert_eq!(release.mode, PolicyMode::Enforce);
    assert!(release.mutate_digest && release.verify_digest && !release.fail_open);
    assert!(matches!(
        &release.authorities[0].kind,
        AuthorityKind::Key(KeyAuthority {
            key: KeySource::Inline(_),
            ..
        })
    ));
    match &release.authorities[1].kind {
        AuthorityKind::Key(k) => {
            assert_eq!(
                k.key_secret(),
                Some(&SecretRef {
                    name: "rotated-release-key".into(),
                    namespace: Some("signet-system".into())
                })
            );
            assert_eq!(k.hash_algorithm, HashAlgorithm::Sha256);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(release.origin.document, 1);
    assert_eq!(release.origin.line, 3);

    let gh = set.get("github-actions").unwrap();
    assert_eq!(gh.authorities[0].name, "authority-0");
    assert_eq!(gh.authorities[1].name, "staging-ca");
    assert_eq!(gh.authorities[1].signature_format, SignatureFormat::Bundle);
    assert_eq!(
        gh.authorities[1].rfc3161_timestamp,
        Some(TrustRootRef {
            name: "private-sigstore".into()
        })
    );
    assert_eq!(
        gh.authorities[0].ctlog,
        Some(TransparencyLog {
            url: Some("https://rekor.sigstore.dev".into()),
            trust_root_ref: None
        })
    );
    let AuthorityKind::Keyless(k) = &gh.authorities[0].kind else {
        panic!()
    };
    assert_eq!(
        k.ca,
        CertificateAuthority::Fulcio {
            url: DEFAULT_FULCIO_URL.into()
        }
    );
    assert_eq!(
        k.identities[0].issuer,
        Matcher::Exact("https://token.actions.githubusercontent.com".into())
    );
    assert!(k.identities[0].subject.matches(
        "https://github.com/example-org/app/.github/workflows/release.yaml@refs/tags/v1.2.0"
    ));
    assert!(!k.identities[0].subject.matches(
        "https://github.com/evil-org/app/.github/workflows/release.yaml@refs/tags/v1.2.0"
    ));
    let AuthorityKind::Keyless(staging) = &gh.authorities[1].kind else {
        panic!()
    };
    assert_eq!(staging.trust_root_ref.as_deref(), Some("private-sigstore"));

    let base = set.get("allow-base-images").unwrap();
    assert!(!base.mutate_digest);
    assert!(matches!(
        &base.authorities[0].kind,
        AuthorityKind::Static(StaticAuthority {
            action: StaticAction::Pass,
            message: None
        })
    ));
    assert_eq!((base.origin.document, base.origin.line), (1, 3));

    let audit = set.get("audit-prod-deployments").unwrap();
    assert_eq!(audit.mode, PolicyMode::Warn);
    assert!(audit.fail_open);
    assert_eq!(audit.match_resources.len(), 2);
    assert_eq!(audit.match_resources[1].version, None, "version \"*\"");
    assert_eq!((audit.origin.document, audit.origin.line), (4, 37));

    let scanned = set.get("vuln-scanned").unwrap();
    assert_eq!(scanned.authorities[0].attestations.len(), 1);
    assert_eq!(
        scanned.authorities[0].source,
        Some(SignatureSource {
            oci: "registry.example.com/signatures".into(),
            signature_pull_secrets: vec!["signature-pull".into()],
            tag_prefix: None,
        })
    );

    let notes: Vec<String> = set
        .notes()
        .iter()
        .map(|n| format!("{:?}", n.note))
        .collect();
    assert_eq!(notes.len(), 3, "{notes:#?}");
    assert!(matches!(&set.notes()[0].note, Note::SkippedKind { kind, .. } if kind == "ConfigMap"));
    assert!(
        matches!(&set.notes()[1].note, Note::AttestationsNotChecked { authority } if authority == "scanner")
    );
    assert!(
        matches!(&set.notes()[2].note, Note::SkippedKind { api_version, .. } if api_version == "config.openshift.io/v1")
    );
    assert!(
        set.notes()[1]
            .to_string()
            .contains("04-v1alpha1-attestations.yml: document 1 (line 3): policy \"vuln-scanned\"")
    );
}

impl KeyAuthority {
    fn key_secret(&self) -> Option<&SecretRef> {
        match &self.key {
            KeySource::Secret(s) => Some(s),
            KeySource::Inline(_) => None,
        }
    }
}

/// Every invalid fixture fails with the file, document, field and problem expected.
#[test]
fn invalid_fixtures_name_the_document_and_the_field() {
    type Check = fn(&Problem) -> bool;
    type Expected = [(usize, &'static str, Check)];
    let cases: &[(&str, &Expected)] = &[
        (
            "kms-key.yaml",
            &[(1, "spec.authorities[0].key.kms", |p| {
                matches!(p, Problem::KmsNotSupported { .. })
            })],
        ),
        (
            "keyless-no-identities.yaml",
            &[(1, "spec.authorities[0].keyless.identities", |p| {
                matches!(p, Problem::Missing { .. })
            })],
        ),
        (
            "two-authority-kinds.yaml",
            &[(
                1,
                "spec.authorities[0]",
                |p| matches!(p, Problem::ExactlyOne { found, .. } if found == "key and static"),
            )],
        ),
        (
            "bad-pem.yaml",
            &[(1, "spec.authorities[0].key.data", |p| {
                matches!(p, Problem::PublicKey(_))
            })],
        ),
        (
            "bad-regex.yaml",
            &[(
                1,
                "spec.authorities[0].keyless.identities[0].subjectRegExp",
                |p| matches!(p, Problem::Regex { .. }),
            )],
        ),
        (
            "typo-field.yaml",
            &[(
                1,
                "spec.authorities[0].keyles",
                |p| matches!(p, Problem::Schema { reason } if reason.contains("keyles")),
            )],
        ),
        (
            "no-images-no-authorities.yaml",
            &[
                (1, "spec.images", |p| matches!(p, Problem::Missing { .. })),
                (1, "spec.authorities", |p| {
                    matches!(p, Problem::Missing { .. })
                }),
            ],
        ),
        (
            "second-document-broken.yaml",
            &[(
                2,
                "spec.mode",
                |p| matches!(p, Problem::NotAllowed { found, .. } if found == "audit"),
            )],
        ),
        (
            "yaml-syntax.yaml",
            &[(1, "(document)", |p| matches!(p, Problem::Yaml { .. }))],
        ),
        (
            "cue-policy.yaml",
            &[(1, "spec.policy", |p| {
                matches!(p, Problem::PolicyNotSupported)
            })],
        ),
        (
            "bad-glob.yaml",
            &[(1, "spec.images[0].glob", |p| {
                matches!(
                    p,
                    Problem::Glob(GlobError::InvalidCharacter { character: '[', .. })
                )
            })],
        ),
        (
            "duplicate-names.yaml",
            &[(
                2,
                "metadata.name",
                |p| matches!(p, Problem::DuplicateName { first } if first.document == 1),
            )],
        ),
        (
            "unknown-version.yaml",
            &[(1, "apiVersion", |p| {
                matches!(p, Problem::UnknownApiVersion { .. })
            })],
        ),
        (
            "match-wrong-group.yaml",
            &[(1, "spec.match[0].group", |p| {
                matches!(
                    p,
                    Problem::WrongGroup {
                        expected: "apps",
                        ..
                    }
                )
            })],
        ),
        (
            "identity-no-subject.yaml",
            &[(
                1,
                "spec.authorities[0].keyless.identities[0].subject",
                |p| matches!(p, Problem::Missing { .. }),
            )],
        ),
        (
            "wrong-type.yaml",
            &[(1, "spec.images", |p| matches!(p, Problem::Schema { .. }))],
        ),
        (
            "list.yaml",
            &[(1, "kind", |p| matches!(p, Problem::ListNotSupported { .. }))],
        ),
        (
            "duplicate-key.yaml",
            &[(
                1,
                "(document)",
                |p| matches!(p, Problem::Yaml { reason } if reason.contains("duplicate")),
            )],
        ),
    ];
    let on_disk = std::fs::read_dir(testdata("invalid")).unwrap().count();
    assert_eq!(on_disk, cases.len(), "every invalid fixture has a case");
    for (file, expected) in cases {
        let path = testdata("invalid").join(file);
        let errs = errors(load_file(&path));
        assert_eq!(errs.len(), expected.len(), "{file}: {errs:#?}");
        for (err, (document, field, check)) in errs.iter().zip(expected.iter()) {
            assert_eq!(err.location.file, path);
            assert_eq!(err.location.document, *document, "{file}: {err}");
            assert_eq!(err.field, *field, "{file}: {err}");
            assert!(check(&err.problem), "{file}: {err}");
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("{}: document {document} (line ", path.display())),
                "{text}"
            );
            assert!(text.contains(field), "{text}");
        }
    }
}

#[test]
fn error_messages_read_well() {
    let errs = errors(load_file(&testdata("invalid/second-document-broken.yaml")));
    assert_eq!(
        errs[0].to_string(),
        format!(
            "{}: document 2 (line 9): policy \"audit-mode\": spec.mode: \"audit\" is not allowed: use enforce or warn",
            testdata("invalid/second-document-broken.yaml").display()
        )
    );
    let errs = errors(load_file(&testdata("invalid/yaml-syntax.yaml")));
    let Problem::Yaml { reason } = &errs[0].problem else {
        panic!()
    };
    assert!(
        reason.contains("line 8"),
        "the parser's line is the file's: {reason}"
    );
    // The whole load error lists every problem, one per line.
    let all = LoadError::Invalid {
        errors: errors(load_file(&testdata(
            "invalid/no-images-no-authorities.yaml",
        ))),
    }
    .to_string();
    assert_eq!(all.lines().count(), 3, "{all}");
    assert!(all.starts_with("2 policy problem(s)"), "{all}");
}

#[test]
fn the_whole_invalid_directory_reports_every_file() {
    let errs = errors(PolicySet::load_dir(&testdata("invalid")));
    let files: std::collections::BTreeSet<_> =
        errs.iter().map(|e| e.location.file.clone()).collect();
    assert_eq!(files.len(), 18);
}

#[test]
fn generation_tracks_content_not_layout() {
    let a = r#"
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: a}
spec:
  images: [{glob: "a.example.com/**"}]
  authorities: [{static: {action: pass}}]
"#;
    let b = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: b}\nspec: {images: [{glob: \"b.example.com/**\"}], authorities: [{static: {action: fail}}]}\n";
    let g = |files: &[(&str, &str)]| {
        PolicySet::from_files(files.iter().map(|(n, t)| PolicyFile {
            path: n.into(),
            text: t.to_string(),
        }))
        .unwrap()
        .generation()
        .clone()
    };
    let base = g(&[("a.yaml", a), ("b.yaml", b)]);
    assert_eq!(
        base,
        g(&[("b.yaml", b), ("a.yaml", a)]),
        "file order does not matter"
    );
    assert_eq!(
        base,
        g(&[("all.yaml", &format!("{a}\n---\n# comment\n{b}"))]),
        "file layout does not matter"
    );
    let reformatted = a.replace(
        "images: [{glob: \"a.example.com/**\"}]",
        "images:\n  - glob: a.example.com/**",
    );
    assert_eq!(
        base,
        g(&[("a.yaml", &reformatted), ("b.yaml", b)]),
        "YAML style does not matter"
    );
    assert_ne!(
        base,
        g(&[
            ("a.yaml", &a.replace("a.example.com", "c.example.com")),
            ("b.yaml", b)
        ])
    );
    assert_ne!(
        base,
        g(&[("a.yaml", &a.replace("pass", "fail")), ("b.yaml", b)])
    );
    assert_ne!(
        base,
        g(&[
            ("a.yaml", &a.replace("spec:", "spec:\n  failOpen: true")),
            ("b.yaml", b)
        ])
    );
    assert_ne!(base, g(&[("a.yaml", a)]));
    assert_ne!(PolicySet::empty().generation(), &base);
    assert_eq!(base.to_string().len(), 16);
}

#[test]
fn match_resources_and_selectors() {
    let set = PolicySet::load_dir(&testdata("valid")).unwrap();
    let audit = set.get("audit-prod-deployments").unwrap();
    let img = "ghcr.io/x/y:1";
    let name = crate::glob::match_name(&img.parse().unwrap());
    let prod = workload(WorkloadKind::Deployment, &[("tier", "prod")]);
    assert!(audit.applies_to(&name, &prod));
    assert!(!audit.applies_to(
        &name,
        &workload(WorkloadKind::Deployment, &[("tier", "dev")])
    ));
    assert!(!audit.applies_to(
        &name,
        &workload(
            WorkloadKind::Deployment,
            &[("tier", "prod"), ("team", "sandbox")]
        )
    ));
    assert!(
        audit.applies_to(&name, &workload(WorkloadKind::Pod, &[])),
        "pods, any version, no selector"
    );
    assert!(!audit.applies_to(
        &name,
        &workload(WorkloadKind::StatefulSet, &[("tier", "prod")])
    ));
    // Without `match`, a policy applies to every kind.
    let release = set.get("release-key").unwrap();
    let signet = crate::glob::match_name(&"registry.example.com/signet/app:1".parse().unwrap());
    for kind in WorkloadKind::ALL {
        assert!(release.applies_to(&signet, &workload(kind, &[])));
    }

    let labels = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let req = |key: &str, operator, values: &[&str]| LabelRequirement {
        key: key.into(),
        operator,
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    let empty = LabelSelector::default();
    assert!(
        empty.matches(&labels(&[])),
        "an empty selector selects everything"
    );
    let sel = LabelSelector {
        match_labels: labels(&[("app", "web")]),
        match_expressions: vec![
            req("env", LabelOperator::In, &["prod", "stage"]),
            req("legacy", LabelOperator::DoesNotExist, &[]),
            req("team", LabelOperator::Exists, &[]),
        ],
    };
    assert!(sel.matches(&labels(&[("app", "web"), ("env", "prod"), ("team", "a")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("env", "dev"), ("team", "a")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("env", "prod")])));
    assert!(!sel.matches(&labels(&[
        ("app", "web"),
        ("env", "prod"),
        ("team", "a"),
        ("legacy", "")
    ])));
    assert!(!sel.matches(&labels(&[("app", "api"), ("env", "prod"), ("team", "a")])));
    assert!(
        req("x", LabelOperator::NotIn, &["a"]).matches(&labels(&[])),
        "NotIn holds for a missing label"
    );
}

#[test]
fn yaml_bombs_and_odd_documents_fail_cleanly() {
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
    let errs = errors(PolicySet::from_yaml("bomb.yaml", bomb));
    assert!(
        matches!(errs[0].problem, Problem::Yaml { .. }),
        "{:?}",
        errs[0]
    );
    for (text, field) in [
        ("just a string", "(document)"),
        ("- a\n- b\n", "(document)"),
        ("kind: ClusterImagePolicy\n", "apiVersion"),
        ("apiVersion: policy.sigstore.dev/v1beta1\n", "kind"),
        (
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {}\nspec: {}\n",
            "metadata.name",
        ),
        (
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: x}\n",
            "spec",
        ),
    ] {
        let errs = errors(PolicySet::from_yaml("odd.yaml", text));
        assert_eq!(errs[0].field, field, "{text:?}: {}", errs[0]);
    }
    assert!(
        PolicySet::from_yaml("empty.yaml", "# nothing\n---\n...\n")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn loader_notes_for_surprising_globs() {
    let text = r#"
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: globs}
spec:
  images:
  - glob: "**.trusted.example.com/**"
  - glob: "trusted.example.com*/**"
  - glob: "ghcr.io/org/app:v1"
  authorities: [{static: {action: pass}}]
"#;
    let set = PolicySet::from_yaml("globs.yaml", text).unwrap();
    let notes: Vec<&Note> = set.notes().iter().map(|n| &n.note).collect();
    assert!(matches!(notes[0], Note::ConfinedDoubleStar { .. }));
    assert!(matches!(notes[1], Note::OpenEndedHost { .. }));
    assert!(matches!(notes[2], Note::GlobNamesTag { .. }));
}

#[test]
fn io_errors_name_the_path() {
    let missing = testdata("does-not-exist");
    let err = PolicySet::load_dir(&missing).unwrap_err();
    assert!(matches!(err, LoadError::ReadDir { .. }));
    assert!(err.to_string().contains("does-not-exist"));
    let dir = std::env::temp_dir().join(format!("signet-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad.yaml"), [0xff, 0xfe, 0x00]).unwrap();
    let err = PolicySet::load_dir(&dir).unwrap_err();
    assert!(matches!(err, LoadError::NotUtf8 { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest::proptest! {
    /// Arbitrary text never panics the loader; arbitrary edits of a valid policy either
    /// load or fail with a located error.
    #[test]
    fn the_loader_never_panics(text in ".{0,400}", cut in 0usize..2000, insert in "[ :\\-\\[\\]{}#&*!|>'\"a-z0-9\n]{0,8}") {
        crate::fuzzing::fuzz_policy(text.as_bytes());
        let valid = std::fs::read_to_string(testdata("valid/03-static-and-more.yaml")).unwrap();
        let mut at = cut.min(valid.len());
        while !valid.is_char_boundary(at) {
            at -= 1;
        }
        let edited = format!("{}{insert}{}", &valid[..at], &valid[at..]);
        match PolicySet::from_yaml("edited.yaml", &edited) {
            Ok(_) => {}
            Err(LoadError::Invalid { errors }) => proptest::prop_assert!(!errors.is_empty()),
            Err(other) => proptest::prop_assert!(false, "{other}"),
        }
    }
}
