//! Host-aware image globs, compatible with policy-controller's `spec.images[].glob`.
//!
//! A glob is matched against the image's *match name*: the reference normalised as
//! go-containerregistry's `Name()` prints it, which is what policy-controller matches:
//!
//! - Docker Hub is spelled `index.docker.io`, and one-word names get `library/`
//!   (`busybox` → `index.docker.io/library/busybox`);
//! - the registry host is lowercased (host names are case-insensitive);
//! - an image with a digest is `host/path@sha256:…` and **its tag is dropped**: the
//!   runtime pulls by digest and ignores the tag, so a tag next to a digest is text the
//!   submitter chose and must not decide which policies apply;
//! - an image without a digest is `host/path:tag`, with `latest` when no tag is given.
//!
//! In the glob, `*` matches any run of characters except `/`, `?` matches one character
//! except `/`, and `**` matches any run of characters including `/`. The glob is
//! anchored at both ends, so `ghcr.io/org/app` does not match `ghcr.io/org/app:v1`:
//! write `ghcr.io/org/app:*`, `ghcr.io/org/app*` or `ghcr.io/org/**`.
//!
//! Globs are normalised too, as policy-controller does for `*` and `*/*` and as Docker
//! does for short names: `*` → `index.docker.io/library/*`, `*/*` →
//! `index.docker.io/*/*`, `busybox:*` → `index.docker.io/library/busybox:*`,
//! `user/app:*` → `index.docker.io/user/app:*`, `docker.io/…` → `index.docker.io/…`.
//!
//! **Host-aware.** Because `*` and `?` never cross `/`, the registry part of a glob
//! (before its first `/`) can only match the image's registry. The one way out would be
//! a `**` written inside the registry part (`**.trusted.example.com/**`), which in
//! policy-controller matches `attacker.example.com/x.trusted.example.com/app` (the
//! Portieris bypass): here such a `**` matches within the registry name only, like `*`.
//! A `**` still crosses `/` when it *is* the whole registry part (`**`, `**/app:*`)
//! or ends a glob that has no `/` (`ghcr**`), since neither names a host.
//!
//! Differences from policy-controller, all in the direction of matching less: no
//! fallback to matching the raw, unnormalised image string (unreachable from its webhook
//! anyway, which passes the normalised name), and `**` confined as above.

use std::fmt;
use std::str::FromStr;

use regex::Regex;
use signet_formats::{DOCKER_HUB, ImageRef};

/// The longest glob accepted, in bytes.
pub const MAX_GLOB_LEN: usize = 1024;

const DOCKER_HUB_MATCH_HOST: &str = "index.docker.io";

/// A compiled image glob.
#[derive(Clone)]
pub struct ImageGlob {
    source: String,
    normalized: String,
    confined_double_star: bool,
    regex: Regex,
}

/// Why a glob does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GlobError {
    /// The glob is empty.
    #[error("the glob is empty: write a pattern such as \"ghcr.io/org/**\"")]
    Empty,
    /// The glob is too long.
    #[error("the glob is {len} bytes long; at most {max} are accepted")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character outside `[a-zA-Z0-9-_:/*.@?]`.
    #[error(
        "the glob {glob:?} contains {character:?}; globs use letters, digits, '-', '_', ':', '/', '.', '@', and the wildcards '*', '**' and '?'"
    )]
    InvalidCharacter {
        /// The glob.
        glob: String,
        /// The first offending character.
        character: char,
    },
    /// The glob compiles to a matcher above the size limit.
    #[error("the glob {glob:?} is too complex to compile; use fewer wildcards")]
    TooComplex {
        /// The glob.
        glob: String,
    },
    /// Three or more `*` in a row.
    #[error(
        "the glob {glob:?} has three or more '*' in a row; use '*' (within a path segment) or '**' (across segments)"
    )]
    StarRun {
        /// The glob.
        glob: String,
    },
}

impl ImageGlob {
    /// Compiles a glob.
    ///
    /// # Errors
    /// A [`GlobError`] naming what is wrong.
    pub fn parse(glob: &str) -> Result<Self, GlobError> {
        if glob.is_empty() {
            return Err(GlobError::Empty);
        }
        if glob.len() > MAX_GLOB_LEN {
            return Err(GlobError::TooLong {
                len: glob.len(),
                max: MAX_GLOB_LEN,
            });
        }
        if let Some(character) = glob.chars().find(|c| {
            !(c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | ':' | '/' | '*' | '.' | '@' | '?'))
        }) {
            return Err(GlobError::InvalidCharacter {
                glob: glob.to_owned(),
                character,
            });
        }
        if glob.contains("***") {
            return Err(GlobError::StarRun {
                glob: glob.to_owned(),
            });
        }
        let normalized = normalize(glob);
        let (pattern, confined_double_star) = translate(&normalized);
        // The pattern is built from escaped literals and three fixed fragments, so it
        // always compiles; the error arm is kept only so that nothing here can panic.
        let regex = Regex::new(&pattern).map_err(|_| GlobError::TooComplex {
            glob: glob.to_owned(),
        })?;
        Ok(ImageGlob {
            source: glob.to_owned(),
            normalized,
            confined_double_star,
            regex,
        })
    }

    /// The glob as written in the policy.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The glob after normalisation (`*` → `index.docker.io/library/*`, …).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// Whether a `**` inside the registry part was confined to the registry name (see
    /// the module docs); the loader reports this so that nobody is surprised.
    pub fn has_confined_double_star(&self) -> bool {
        self.confined_double_star
    }

    /// Whether the registry part of the glob ends with a wildcard after a dotted name
    /// (`trusted.example.com*/…`), which also matches other domains
    /// (`trusted.example.com.evil.io`).
    pub fn has_open_ended_host(&self) -> bool {
        match self.normalized.split_once('/') {
            Some((host, _)) => {
                let literal = host.trim_end_matches(['*', '?']);
                literal.len() != host.len() && literal.contains('.')
            }
            None => false,
        }
    }

    /// Whether the glob names a tag (a `:` in its last path segment that is not a
    /// port): such a glob never matches an image pinned to a digest, whose match name
    /// carries the digest and not the tag.
    pub fn names_tag(&self) -> bool {
        match self.normalized.rsplit_once('/') {
            Some((_, last)) => last.contains(':') && !last.contains("**"),
            None => false,
        }
    }

    /// Whether the image matches.
    pub fn matches(&self, image: &ImageRef) -> bool {
        self.regex.is_match(&match_name(image))
    }

    /// Whether an already computed [`match_name`] matches.
    pub fn matches_name(&self, match_name: &str) -> bool {
        self.regex.is_match(match_name)
    }
}

impl fmt::Debug for ImageGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageGlob({:?})", self.source)
    }
}

impl fmt::Display for ImageGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for ImageGlob {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
impl Eq for ImageGlob {}

impl FromStr for ImageGlob {
    type Err = GlobError;
    fn from_str(s: &str) -> Result<Self, GlobError> {
        ImageGlob::parse(s)
    }
}

/// The name globs are matched against (see the module docs):
/// `index.docker.io/library/busybox:latest`, `ghcr.io/org/app@sha256:…`.
pub fn match_name(image: &ImageRef) -> String {
    let repository = image.repository();
    let registry = repository.registry().as_str();
    let host = if registry == DOCKER_HUB {
        DOCKER_HUB_MATCH_HOST.to_owned()
    } else {
        registry.to_ascii_lowercase()
    };
    match image.digest() {
        Some(digest) => format!("{host}/{}@{digest}", repository.path()),
        None => format!("{host}/{}:{}", repository.path(), image.reference()),
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Docker's rule for the first path component: a registry if it has a `.` or a `:`, is
/// `localhost`, or has an uppercase letter.
fn looks_like_host(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first
}

fn normalize(glob: &str) -> String {
    match glob {
        "*" => return format!("{DOCKER_HUB_MATCH_HOST}/library/*"),
        "*/*" => return format!("{DOCKER_HUB_MATCH_HOST}/*/*"),
        _ => {}
    }
    match glob.split_once('/') {
        // Without a '/', a glob is a Docker Hub short name (`busybox:*`, `foo*`), unless it
        // has a `**`, which says "anything" (`**`, `ghcr**`).
        None if glob.contains("**") => glob.to_owned(),
        None => format!("{DOCKER_HUB_MATCH_HOST}/library/{glob}"),
        Some((first, rest)) if has_wildcard(first) => {
            format!("{}/{rest}", first.to_ascii_lowercase())
        }
        Some((first, rest)) if looks_like_host(first) => {
            let host = first.to_ascii_lowercase();
            let host = if host == DOCKER_HUB {
                DOCKER_HUB_MATCH_HOST.to_owned()
            } else {
                host
            };
            format!("{host}/{rest}")
        }
        Some(_) => format!("{DOCKER_HUB_MATCH_HOST}/{glob}"),
    }
}

/// Turns a normalised glob into an anchored regular expression; also says whether a
/// `**` was confined to the registry part.
fn translate(glob: &str) -> (String, bool) {
    let first_slash = glob.find('/');
    let host_is_double_star = glob == "**" || glob.starts_with("**/");
    let mut pattern = String::with_capacity(glob.len() * 2 + 2);
    pattern.push('^');
    let mut confined = false;
    let mut literal = String::new();
    let bytes = glob.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'*' if bytes.get(i + 1) == Some(&b'*') => {
                pattern.push_str(&regex::escape(&literal));
                literal.clear();
                let in_host = first_slash.is_none_or(|slash| i < slash);
                let ends_slashless_glob = first_slash.is_none() && i + 2 == bytes.len();
                if !in_host || host_is_double_star || ends_slashless_glob {
                    pattern.push_str(".*");
                } else {
                    confined = true;
                    pattern.push_str("[^/]*");
                }
                i += 2;
            }
            b'*' => {
                pattern.push_str(&regex::escape(&literal));
                literal.clear();
                pattern.push_str("[^/]*");
                i += 1;
            }
            b'?' => {
                pattern.push_str(&regex::escape(&literal));
                literal.clear();
                pattern.push_str("[^/]");
                i += 1;
            }
            b => {
                literal.push(char::from(b));
                i += 1;
            }
        }
    }
    pattern.push_str(&regex::escape(&literal));
    pattern.push('$');
    (pattern, confined)
}

#[cfg(test)]
mod tests;
