//! Image references, parsed and normalised as Docker does (`docker.io/library/x`,
//! ports, tags, digests, tag+digest), plus the `oci:PATH[:TAG]` layout form.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::{Digest, FormatError};

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
const MAX_NAME_LEN: usize = 255;

/// A registry host, with an optional port (`ghcr.io`, `127.0.0.1:5000`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Registry(String);

impl Registry {
    /// The name as written in references (`docker.io` for Docker Hub).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host to send registry API requests to.
    pub fn api_host(&self) -> &str {
        if self.0 == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            &self.0
        }
    }

    /// The name go-containerregistry prints (`index.docker.io` for Docker Hub); cosign
    /// puts this form in its payloads.
    pub fn ggcr_name(&self) -> &str {
        if self.0 == DOCKER_HUB {
            "index.docker.io"
        } else {
            &self.0
        }
    }

    /// Whether this is a loopback registry, which Docker and cosign talk to over plain
    /// HTTP when TLS fails.
    pub fn is_localhost(&self) -> bool {
        let host = self.host();
        host == "localhost" || host == "127.0.0.1" || host == "[::1]" || host.starts_with("127.")
    }

    fn host(&self) -> &str {
        match self.0.rfind(':') {
            Some(i) if !self.0[i..].contains(']') => &self.0[..i],
            _ => &self.0,
        }
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A repository: a registry and a path within it (`docker.io/library/busybox`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    registry: Registry,
    path: String,
}

impl Repository {
    /// Parses `registry/path` or a Docker short name (`busybox`, `user/app`).
    pub fn parse(s: &str) -> Result<Self, FormatError> {
        let r: ImageRef = s.parse()?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(invalid(s, "a repository has no tag or digest"));
        }
        Ok(r.repository)
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The path within the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `<registry>/<path>` as go-containerregistry names it (`index.docker.io/library/x`):
    /// the `docker-reference` cosign writes in its payloads.
    pub fn ggcr_name(&self) -> String {
        format!("{}/{}", self.registry.ggcr_name(), self.path)
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Tag {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, FormatError> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let ok = !s.is_empty()
            && s.len() <= 128
            && word(s.as_bytes()[0])
            && s.bytes().all(|b| word(b) || b == b'.' || b == b'-');
        if ok {
            Ok(Tag(s.to_owned()))
        } else {
            Err(invalid(
                s,
                "tags are [A-Za-z0-9_.-], at most 128 characters",
            ))
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reference to an image in a registry: a repository and a tag, a digest, or both.
/// With both, the digest decides what is fetched.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    repository: Repository,
    tag: Option<Tag>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// A reference to `digest` in `repository`.
    pub fn with_digest(repository: Repository, digest: Digest) -> Self {
        ImageRef {
            repository,
            tag: None,
            digest: Some(digest),
        }
    }

    /// A reference to `tag` in `repository`.
    pub fn with_tag(repository: Repository, tag: Tag) -> Self {
        ImageRef {
            repository,
            tag: Some(tag),
            digest: None,
        }
    }

    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&Tag> {
        self.tag.as_ref()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry for: the digest if there is one, else the tag
    /// (`latest` when neither was given).
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The reference as go-containerregistry's `Name()` prints it (cosign's verify
    /// header and output): `index.docker.io/library/x:latest`, `reg/repo@sha256:…`.
    pub fn ggcr_name(&self) -> String {
        match &self.digest {
            Some(d) => format!("{}@{}", self.repository.ggcr_name(), d),
            None => format!("{}:{}", self.repository.ggcr_name(), self.reference()),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn invalid(s: &str, why: &str) -> FormatError {
    FormatError::InvalidReference {
        reference: s.chars().take(300).collect(),
        reason: why.to_owned(),
    }
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rfind(':') {
        Some(i) if !d[i..].contains(']') => (&d[..i], Some(&d[i + 1..])),
        _ => (d, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5)
    {
        return false;
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        })
}

fn valid_path_component(c: &str) -> bool {
    // alnum+ (separator alnum+)*, separator = [_.] | __ | -+
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

impl FromStr for ImageRef {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, FormatError> {
        if s.is_empty() {
            return Err(invalid(s, "the reference is empty"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                s,
                "references contain no spaces or control characters",
            ));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(
                    d.parse::<Digest>()
                        .map_err(|_| invalid(s, "the digest is not sha256:<64 hex>"))?,
                ),
            ),
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (
                    &rest[..i],
                    Some(rest[i + 1..].parse::<Tag>().map_err(|e| match e {
                        FormatError::InvalidReference { reason, .. } => invalid(s, &reason),
                        other => other,
                    })?),
                )
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(invalid(s, "the repository name is empty"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(invalid(
                s,
                "the repository name is longer than 255 characters",
            ));
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.to_lowercase() != first =>
            {
                (first, remainder.to_owned())
            }
            _ => (DOCKER_HUB, name.to_owned()),
        };
        if !valid_domain(domain) {
            return Err(invalid(s, "the registry host is not a valid host[:port]"));
        }
        let domain = if domain == "index.docker.io" {
            DOCKER_HUB
        } else {
            domain
        };
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if !path.split('/').all(valid_path_component) {
            return Err(invalid(
                s,
                "repository path components are lowercase letters and digits separated by '.', '_', '__' or '-'",
            ));
        }
        Ok(ImageRef {
            repository: Repository {
                registry: Registry(domain.to_owned()),
                path,
            },
            tag,
            digest,
        })
    }
}

/// Where an image lives: in a registry, or in an OCI image layout on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageLocation {
    /// An image in a registry.
    Registry(ImageRef),
    /// An image in an OCI image layout directory (`oci:PATH[:TAG]` or `oci:PATH@DIGEST`).
    Layout(LayoutRef),
}

/// A reference into an OCI image layout directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutRef {
    /// The layout directory.
    pub path: PathBuf,
    /// The `org.opencontainers.image.ref.name` to look up (`latest` when neither is given).
    pub tag: Option<Tag>,
    /// The manifest digest, which wins over the tag.
    pub digest: Option<Digest>,
}

impl FromStr for ImageLocation {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, FormatError> {
        let Some(rest) = s.strip_prefix("oci:") else {
            return Ok(ImageLocation::Registry(s.parse()?));
        };
        let (rest, digest) = match rest.rsplit_once('@') {
            Some((p, d)) if d.contains(':') => (
                p,
                Some(
                    d.parse::<Digest>()
                        .map_err(|_| invalid(s, "the digest is not sha256:<64 hex>"))?,
                ),
            ),
            _ => (rest, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (path, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&rest[..i], Some(rest[i + 1..].parse::<Tag>()?))
            }
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(invalid(
                s,
                "an OCI layout reference is oci:PATH[:TAG] and the path is empty",
            ));
        }
        Ok(ImageLocation::Layout(LayoutRef {
            path: PathBuf::from(path),
            tag,
            digest,
        }))
    }
}

impl fmt::Display for ImageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageLocation::Registry(r) => write!(f, "{r}"),
            ImageLocation::Layout(l) => {
                write!(f, "oci:{}", l.path.display())?;
                if let Some(t) = &l.tag {
                    write!(f, ":{t}")?;
                }
                if let Some(d) = &l.digest {
                    write!(f, "@{d}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageRef {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("busybox", "docker.io/library/busybox", None, "latest"),
            (
                "busybox:1.36",
                "docker.io/library/busybox",
                Some("1.36"),
                "1.36",
            ),
            ("user/app", "docker.io/user/app", None, "latest"),
            (
                "docker.io/busybox",
                "docker.io/library/busybox",
                None,
                "latest",
            ),
            (
                "index.docker.io/library/busybox:x",
                "docker.io/library/busybox",
                Some("x"),
                "x",
            ),
            ("localhost/app", "localhost/app", None, "latest"),
            (
                "localhost:5000/app:v1",
                "localhost:5000/app",
                Some("v1"),
                "v1",
            ),
            (
                "127.0.0.1:15000/demo/app:v1",
                "127.0.0.1:15000/demo/app",
                Some("v1"),
                "v1",
            ),
            (
                "ghcr.io/o/r/deep/path:tag_1.2-x",
                "ghcr.io/o/r/deep/path",
                Some("tag_1.2-x"),
                "tag_1.2-x",
            ),
            ("[::1]:5000/app", "[::1]:5000/app", None, "latest"),
            ("Registry/app", "Registry/app", None, "latest"),
            (
                "a/b__c/d-e--f/g.h",
                "docker.io/a/b__c/d-e--f/g.h",
                None,
                "latest",
            ),
        ];
        for (input, repo, tag, reference) in cases {
            let r = parse(input);
            assert_eq!(r.repository().to_string(), repo, "{input}");
            assert_eq!(r.tag().map(Tag::as_str), tag, "{input}");
            assert_eq!(r.reference(), reference, "{input}");
        }
    }

    #[test]
    fn digest_and_tag_plus_digest() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = parse(&format!("reg.io:443/x/y:v1@{d}"));
        assert_eq!(r.tag().map(Tag::as_str), Some("v1"));
        assert_eq!(r.reference(), d);
        assert_eq!(r.to_string(), format!("reg.io:443/x/y:v1@{d}"));
        assert_eq!(r.ggcr_name(), format!("reg.io:443/x/y@{d}"));
        assert_eq!(
            parse("ubuntu").ggcr_name(),
            "index.docker.io/library/ubuntu:latest"
        );
        assert_eq!(
            parse("ubuntu").repository().ggcr_name(),
            "index.docker.io/library/ubuntu"
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "UPPER",
            "app:",
            ":tag",
            "app@sha256:abc",
            "app@",
            "a//b",
            "a/-b",
            "a/b-",
            "a/b..c",
            "app:-tag",
            "app:tag with space",
            "host:99999999/app",
            "reg.io/app:t@g",
            &format!("app:{}", "t".repeat(129)),
            &format!("a/{}", "b".repeat(300)),
        ] {
            assert!(
                matches!(
                    bad.parse::<ImageRef>(),
                    Err(FormatError::InvalidReference { .. })
                ),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn layout_references() {
        let l: ImageLocation = "oci:/tmp/x:y/layout:v1".parse().unwrap();
        let ImageLocation::Layout(l) = l else {
            panic!()
        };
        assert_eq!(l.path, PathBuf::from("/tmp/x:y/layout"));
        assert_eq!(l.tag.unwrap().as_str(), "v1");
        let l: ImageLocation = "oci:./layout".parse().unwrap();
        let ImageLocation::Layout(l) = l else {
            panic!()
        };
        assert_eq!(l.path, PathBuf::from("./layout"));
        assert!(l.tag.is_none());
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let ImageLocation::Layout(l) = format!("oci:lay@{d}").parse().unwrap() else {
            panic!()
        };
        assert_eq!(l.digest.unwrap().to_string(), d);
        assert!(matches!(
            "oci:".parse::<ImageLocation>(),
            Err(FormatError::InvalidReference { .. })
        ));
    }
}
