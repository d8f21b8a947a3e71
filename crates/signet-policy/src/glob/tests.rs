use proptest::prelude::*;

use super::*;

const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn image(s: &str) -> ImageRef {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn glob(s: &str) -> ImageGlob {
    ImageGlob::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn match_names_follow_go_containerregistry() {
    for (input, name) in [
        ("busybox", "index.docker.io/library/busybox:latest"),
        ("busybox:1.36", "index.docker.io/library/busybox:1.36"),
        ("docker.io/user/app:v1", "index.docker.io/user/app:v1"),
        (
            "index.docker.io/library/x",
            "index.docker.io/library/x:latest",
        ),
        ("GHCR.IO/org/app:V1", "ghcr.io/org/app:V1"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
    ] {
        assert_eq!(match_name(&image(input)), name, "{input}");
    }
    // With a digest, the tag is dropped: the runtime ignores it.
    assert_eq!(
        match_name(&image(&format!("ghcr.io/org/app:v1@{DIGEST}"))),
        format!("ghcr.io/org/app@{DIGEST}")
    );
}

#[test]
fn globs_are_normalised() {
    for (input, normalized) in [
        ("*", "index.docker.io/library/*"),
        ("*/*", "index.docker.io/*/*"),
        ("busybox", "index.docker.io/library/busybox"),
        ("busybox:*", "index.docker.io/library/busybox:*"),
        ("foo*", "index.docker.io/library/foo*"),
        ("user/app:*", "index.docker.io/user/app:*"),
        ("docker.io/library/nginx*", "index.docker.io/library/nginx*"),
        ("Registry.Example.com/App/**", "registry.example.com/App/**"),
        ("**", "**"),
        ("ghc**", "ghc**"),
        ("*.Example.com/**", "*.example.com/**"),
        ("localhost/**", "localhost/**"),
    ] {
        assert_eq!(glob(input).normalized(), normalized, "{input}");
    }
}

/// policy-controller's `TestGlobMatch` table (pkg/apis/glob/glob_test.go). Three cases
/// differ, all matched there only by its fallback to the raw image string, which its
/// webhook never reaches (it passes the normalised name): a glob without tag or
/// wildcard (`foo`, `myuser/myapp`) cannot match a name that always ends in a tag or
/// digest, and `foo**` is not a Docker Hub name.
#[test]
fn policy_controller_glob_table() {
    let cases: &[(&str, &str, bool)] = &[
        ("foo", "index.docker.io/library/foo:latest", true),
        ("foo", "index.docker.io/library/foo:*", true),
        ("foo", "index.docker.io/library/*", true),
        ("foo", "index.docker.io/library/*:latest", true),
        ("foo", "index.docker.io/*/*", true),
        ("foo", "index.docker.io/**", true),
        ("foo", "index.docker.**", true),
        ("foo", "inde**", true),
        ("foo", "**", true),
        ("foo", "foo", false), // policy-controller: true (raw fallback)
        ("foo", "foo*", true),
        ("foo", "foo**", false), // policy-controller: true (raw fallback)
        ("myuser/myapp", "index.docker.io/myuser/myapp:latest", true),
        ("myuser/myapp", "index.docker.io/myuser/myapp:*", true),
        ("myuser/myapp", "index.docker.io/myuser/*", true),
        ("myuser/myapp", "index.docker.io/myuser/*:latest", true),
        ("myuser/myapp", "index.docker.io/*/*", true),
        ("myuser/myapp", "index.docker.io/**", true),
        ("myuser/myapp", "index.docker.**", true),
        ("myuser/myapp", "inde**", true),
        ("myuser/myapp", "**", true),
        ("myuser/myapp", "myuser/myapp", false), // policy-controller: true (raw fallback)
        ("myuser/myapp", "myuser/myapp*", true),
        ("myuser/myapp", "myuser/myapp**", true),
        ("ghcr.io/foo/bar", "ghcr.io/*/*", true),
        ("ghcr.io/foo/bar", "ghcr.io/**", true),
        ("ghcr.io/foo", "ghcr.io/*/*", false),
        ("ghcr.io/foo", "ghcr.io/**", true),
        ("ghcr.io/foo", "ghc**", true),
        ("ghcr.io/foo", "**", true),
        ("ghcr.io/foo", "*/**", true),
        ("ghcr.io/foo", "ghcr.io/foo*", true),
        ("ghcr.io/foo", "ghcr.io/foo**", true),
        ("prefix-ghcr.io/foo", "ghcr.io/foo*", false),
        ("ghcr.io/foo-suffix", "ghcr.io/foo", false),
        ("ghcrxio/foo", "ghcr.io/**", false),
        ("foo", "*", true),
        ("myuser/myapp", "*/*", true),
    ];
    for &(img, g, want) in cases {
        assert_eq!(glob(g).matches(&image(img)), want, "image {img} glob {g}");
    }
    for bad in [".+", "[a-z]*", "a b", "ghcr.io/x/***", "", "ghcr.io/{a,b}"] {
        assert!(ImageGlob::parse(bad).is_err(), "{bad:?} should not compile");
    }
    assert_eq!(
        ImageGlob::parse(&"a".repeat(MAX_GLOB_LEN + 1)).map(|_| ()),
        Err(GlobError::TooLong {
            len: MAX_GLOB_LEN + 1,
            max: MAX_GLOB_LEN
        })
    );
}

#[test]
fn star_stays_in_its_segment_and_double_star_crosses() {
    let g = glob("ghcr.io/org/*");
    assert!(g.matches(&image("ghcr.io/org/app:v1")));
    assert!(g.matches(&image(&format!("ghcr.io/org/app@{DIGEST}"))));
    assert!(!g.matches(&image("ghcr.io/org/team/app:v1")));
    assert!(glob("ghcr.io/org/**").matches(&image("ghcr.io/org/team/app:v1")));
    let q = glob("ghcr.io/org/app:v?");
    assert!(q.matches(&image("ghcr.io/org/app:v1")));
    assert!(!q.matches(&image("ghcr.io/org/app:v10")));
    assert!(
        !glob("ghcr.io/org?app:*").matches(&image("ghcr.io/org/app:v1")),
        "? does not match /"
    );
}

/// The Portieris bypass (d305814) and its relatives: a trusted host must be the
/// image's registry, never a path segment, a suffix, a userinfo or a port away.
#[test]
fn host_spoofing_table() {
    let must_not_match: &[(&str, &str)] = &[
        (
            "*.trusted.example.com/**",
            "attacker.example.com/x.trusted.example.com/app:v1",
        ),
        (
            "**.trusted.example.com/**",
            "attacker.example.com/x.trusted.example.com/app:v1",
        ),
        (
            "**trusted.example.com/**",
            "attacker.example.com/trusted.example.com/app:v1",
        ),
        (
            "*.trusted.example.com/**",
            "trusted.example.com.evil.io/app:v1",
        ),
        (
            "*.trusted.example.com/**",
            "a.trusted.example.com.evil.io/app:v1",
        ),
        (
            "trusted.example.com/**",
            "trusted.example.com.evil.io/app:v1",
        ),
        (
            "trusted.example.com/**",
            "evil.io/trusted.example.com/app:v1",
        ),
        ("trusted.example.com/**", "eviltrusted.example.com/app:v1"),
        ("*.trusted.example.com/**", "xtrusted.example.com/app:v1"),
        ("*.trusted.example.com/**", "trusted.example.com/app:v1"),
        // A port is part of the host: write it in the glob to allow it.
        (
            "*.trusted.example.com/**",
            "a.trusted.example.com:443/app:v1",
        ),
        ("trusted.example.com/**", "trusted.example.com:5000/app:v1"),
        // Docker Hub user or organisation named like the host.
        (
            "trusted.example.com/**",
            "docker.io/trusted.example.com/app:v1",
        ),
        (
            "*.trusted.example.com/**",
            "TRUSTED.EXAMPLE.COM.EVIL.IO/app:v1",
        ),
        // A tag next to a digest is ignored for matching.
        (
            "evil.io/app:dev-*",
            "evil.io/app:dev-1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    ];
    for &(g, img) in must_not_match {
        assert!(
            !glob(g).matches(&image(img)),
            "glob {g} must not match {img}"
        );
    }
    let must_match: &[(&str, &str)] = &[
        ("*.trusted.example.com/**", "a.trusted.example.com/app:v1"),
        (
            "*.trusted.example.com/**",
            "a.b.trusted.example.com/x/y/z:v1",
        ),
        ("*.trusted.example.com/**", "A.TRUSTED.EXAMPLE.COM/app:v1"),
        ("**.trusted.example.com/**", "a.trusted.example.com/app:v1"),
        (
            "*.trusted.example.com:*/**",
            "a.trusted.example.com:443/app:v1",
        ),
        (
            "trusted.example.com:5000/**",
            "trusted.example.com:5000/app:v1",
        ),
        ("Trusted.Example.COM/**", "trusted.example.com/app:v1"),
    ];
    for &(g, img) in must_match {
        assert!(glob(g).matches(&image(img)), "glob {g} must match {img}");
    }
    // These are not image references at all: the webhook denies them before any glob.
    for bad in [
        "user@trusted.example.com/app",
        "trusted.example.com@evil.io/app",
        "a.trusted.example.com./app",
        "a..trusted.example.com/app",
        ".trusted.example.com/app",
        "trusted.example.com/../app",
        "trusted.example.com/app/..",
        "trusted.example.com%2fapp",
        "trusted.example.com\\app",
        "trusted.example.com/app:v1@sha256:abc",
        "trusted.example.com /app",
        "trusted.еxample.com/app",
        "trusted.example.com:99999999/app",
        "trusted.example.com:/app",
    ] {
        assert!(bad.parse::<ImageRef>().is_err(), "{bad:?} parses");
    }
}

#[test]
fn lints_for_the_loader() {
    assert!(glob("**.trusted.example.com/**").has_confined_double_star());
    assert!(!glob("**/app:*").has_confined_double_star());
    assert!(!glob("ghcr**").has_confined_double_star());
    assert!(glob("trusted.example.com*/**").has_open_ended_host());
    assert!(!glob("*.trusted.example.com/**").has_open_ended_host());
    assert!(glob("ghcr.io/org/app:v1").names_tag());
    assert!(!glob("ghcr.io/org/**").names_tag());
    assert!(!glob("localhost:5000/app*").names_tag());
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}"
}

fn host() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
}

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        label(),
        host(),
        Just("trusted.example.com".to_owned()),
        Just("x.trusted.example.com".to_owned())
    ]
}

proptest! {
    #[test]
    fn wildcard_host_matches_only_subdomains(
        registry in prop_oneof![host().prop_map(|h| format!("{h}.com")), host().prop_map(|h| format!("{h}.trusted.example.com")), host().prop_map(|h| format!("trusted.example.com.{h}"))],
        path in prop::collection::vec(path_segment(), 1..4),
        tag in "[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,10}",
    ) {
        let reference = format!("{registry}/{}:{tag}", path.join("/"));
        let img: ImageRef = reference.parse().map_err(|e| TestCaseError::fail(format!("{reference}: {e}")))?;
        for g in ["*.trusted.example.com/**", "**.trusted.example.com/**"] {
            let matched = glob(g).matches(&img);
            prop_assert_eq!(matched, registry.ends_with(".trusted.example.com"), "{} vs {}", g, reference);
        }
        let exact = glob("trusted.example.com/**").matches(&img);
        prop_assert_eq!(exact, registry == "trusted.example.com");
    }

    #[test]
    fn single_star_never_crosses_a_slash(
        registry in host().prop_map(|h| format!("{h}.io")),
        path in prop::collection::vec(label(), 1..4),
    ) {
        let img: ImageRef = format!("{registry}/{}:v1", path.join("/")).parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(glob(&format!("{registry}/*")).matches(&img), path.len() == 1);
        let all = glob(&format!("{registry}/**"));
        prop_assert!(all.matches(&img));
    }

    #[test]
    fn an_image_matches_its_own_match_name(
        registry in host().prop_map(|h| format!("{h}.io")),
        path in prop::collection::vec(label(), 1..4),
        tag in "[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,10}",
        pinned in any::<bool>(),
    ) {
        let text = if pinned {
            format!("{registry}/{}@{DIGEST}", path.join("/"))
        } else {
            format!("{registry}/{}:{tag}", path.join("/"))
        };
        let img: ImageRef = text.parse().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert!(glob(&match_name(&img)).matches(&img));
    }

    #[test]
    fn arbitrary_globs_never_panic(g in ".{0,64}", img in "[a-z0-9./:@-]{1,40}") {
        if let (Ok(g), Ok(img)) = (ImageGlob::parse(&g), img.parse::<ImageRef>()) {
            let _ = g.matches(&img);
        }
    }
}
