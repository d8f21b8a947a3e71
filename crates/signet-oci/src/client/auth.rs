//! Registry authentication: `WWW-Authenticate` challenges, credentials from flags or
//! the docker config, and bearer tokens.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Url;
use signet_formats::Registry;

use super::error::RegistryError;

/// Text that must never be printed: passwords and tokens.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(s: String) -> Self {
        Secret(s)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Credentials for one registry.
#[derive(Clone, Debug)]
pub(crate) enum Credential {
    /// A username and password (or personal access token).
    UserPassword { username: String, password: Secret },
    /// An OAuth2 refresh token (`identitytoken` in the docker config).
    IdentityToken(Secret),
}

impl Credential {
    /// The `Authorization: Basic` value, if these credentials can be sent that way.
    pub(crate) fn basic_header(&self) -> Option<Secret> {
        match self {
            Credential::UserPassword { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                Some(Secret(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )))
            }
            Credential::IdentityToken(_) => None,
        }
    }
}

/// One challenge from a `WWW-Authenticate` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme, lowercased (`bearer`, `basic`).
    pub(crate) scheme: String,
    /// The parameters, names lowercased, values unquoted.
    pub(crate) params: Vec<(String, String)>,
}

impl Challenge {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses a `WWW-Authenticate` value (RFC 7235): one or more challenges, each a scheme
/// followed by `name=value` or `name="quoted, value"` parameters (or a token68).
/// Malformed trailing input is ignored; this never panics.
pub(crate) fn parse_www_authenticate(header: &str) -> Vec<Challenge> {
    let chars: Vec<char> = header.chars().collect();
    let mut i = 0;
    let mut out: Vec<Challenge> = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && (chars[*i] == ' ' || chars[*i] == '\t') {
            *i += 1;
        }
    };
    let read_token = |i: &mut usize| {
        *i = (*i).min(chars.len());
        let start = *i;
        while *i < chars.len() && is_tchar(chars[*i]) {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    loop {
        // Skip separators between challenges.
        while i < chars.len() && (chars[i] == ',' || chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let scheme = read_token(&mut i);
        if scheme.is_empty() {
            // Not a token: skip one character and resynchronise.
            i += 1;
            continue;
        }
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
        };
        // Parameters.
        loop {
            skip_ws(&mut i);
            while i < chars.len() && chars[i] == ',' {
                i += 1;
                skip_ws(&mut i);
            }
            let save = i;
            let name = read_token(&mut i);
            if name.is_empty() {
                break;
            }
            skip_ws(&mut i);
            if i >= chars.len() || chars[i] != '=' {
                // A bare token: the next challenge's scheme (or a token68 we ignore).
                i = save;
                break;
            }
            i += 1; // '='
            // token68 padding (`abc==`) is not a parameter.
            if i < chars.len() && chars[i] == '=' {
                while i < chars.len() && chars[i] == '=' {
                    i += 1;
                }
                continue;
            }
            skip_ws(&mut i);
            let value = if i < chars.len() && chars[i] == '"' {
                i += 1;
                let mut v = String::new();
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    v.push(chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    i += 1; // closing quote
                }
                v
            } else {
                read_token(&mut i)
            };
            challenge.params.push((name.to_ascii_lowercase(), value));
        }
        out.push(challenge);
    }
    out
}

/// How a registry wants to be authenticated, learnt from its first 401.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    /// `Authorization: Basic` on every request.
    Basic,
    /// Tokens from `realm`.
    Bearer { realm: Url, service: Option<String> },
}

/// Picks the method to use from a 401's challenges: Bearer (with a usable realm) over
/// Basic; unknown schemes are ignored.
pub(crate) fn select_method(challenges: &[Challenge]) -> Option<AuthMethod> {
    let bearer = challenges.iter().find_map(|c| {
        if c.scheme != "bearer" {
            return None;
        }
        let realm = Url::parse(c.param("realm")?).ok()?;
        if realm.scheme() != "https" && realm.scheme() != "http" {
            return None;
        }
        Some(AuthMethod::Bearer {
            realm,
            service: c.param("service").map(str::to_owned),
        })
    });
    bearer.or_else(|| {
        challenges
            .iter()
            .any(|c| c.scheme == "basic")
            .then_some(AuthMethod::Basic)
    })
}

/// What a request needs to do in a repository; decides the token scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    Pull,
    Push,
    Delete,
}

impl Access {
    pub(crate) fn scope(self, path: &str) -> String {
        let actions = match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
            Access::Delete => "delete",
        };
        format!("repository:{path}:{actions}")
    }
}

/// A bearer token and when to stop using it.
#[derive(Clone, Debug)]
pub(crate) struct CachedToken {
    pub(crate) token: Secret,
    pub(crate) expires: Instant,
}

impl CachedToken {
    pub(crate) fn is_fresh(&self) -> bool {
        Instant::now() < self.expires
    }
}

/// The parts of a token service answer we use.
#[derive(serde::Deserialize)]
struct TokenBody {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// Default token lifetime when the service does not say (distribution's spec: 60 s).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// Parses a token service response body. Tokens are used until a little before they
/// expire, so that a request does not race the expiry.
pub(crate) fn parse_token_response(body: &[u8]) -> Result<CachedToken, String> {
    let parsed: TokenBody = serde_json::from_slice(body)
        .map_err(|e| format!("the response is not token JSON ({e})"))?;
    let token = parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| "the response has neither `token` nor `access_token`".to_owned())?;
    let lifetime = match parsed.expires_in {
        Some(s) if s > 0 => Duration::from_secs(s.unsigned_abs()),
        _ => DEFAULT_TOKEN_LIFETIME,
    };
    let margin = (lifetime / 10).min(Duration::from_secs(10));
    Ok(CachedToken {
        token: Secret(format!("Bearer {token}")),
        expires: Instant::now() + lifetime.saturating_sub(margin),
    })
}

/// The docker config key for a registry: Docker Hub's legacy URL, else `host[:port]`.
pub(crate) fn docker_config_key(registry: &Registry) -> String {
    if registry.as_str() == signet_formats::DOCKER_HUB {
        "https://index.docker.io/v1/".to_owned()
    } else {
        registry.as_str().to_owned()
    }
}

/// The default docker config path: `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`.
pub(crate) fn default_docker_config() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

/// A failed credential lookup, kept so that it is reported on every use without
/// being retried.
#[derive(Clone, Debug)]
pub(crate) enum LookupError {
    Config { path: PathBuf, reason: String },
    Helper { helper: String, reason: String },
}

impl LookupError {
    pub(crate) fn to_error(&self, registry: &Registry) -> RegistryError {
        match self {
            LookupError::Config { path, reason } => RegistryError::CredentialConfig {
                path: path.clone(),
                reason: reason.clone(),
            },
            LookupError::Helper { helper, reason } => RegistryError::CredentialHelper {
                helper: helper.clone(),
                registry: registry.to_string(),
                reason: reason.clone(),
            },
        }
    }
}

/// Looks up credentials for `key` in the docker config at `path` (blocking: it may run
/// a credential helper). A missing file means anonymous; a file that does not parse
/// is an error.
pub(crate) fn lookup_docker_config(
    path: &Path,
    key: &str,
) -> Result<Option<Credential>, LookupError> {
    let config_error = |reason: String| LookupError::Config {
        path: path.to_owned(),
        reason,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(config_error(format!("cannot read it ({e})"))),
    };
    lookup_in_docker_config(&bytes, key).map_err(|e| match e {
        ConfigProblem::Config(reason) => config_error(reason),
        ConfigProblem::Helper { helper, reason } => LookupError::Helper { helper, reason },
    })
}

/// Why a docker config's bytes gave no credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ConfigProblem {
    /// The document itself (JSON, structure, an entry).
    Config(String),
    /// A credential helper it names failed.
    Helper { helper: String, reason: String },
}

/// Looks up credentials for `key` in the bytes of a docker config (`config.json`:
/// `auths`, `credHelpers`, `credsStore`), the one parser for files and Kubernetes
/// pull secrets (which [`DockerAuths`] strips of helpers first). Blocking when the
/// document names a credential helper.
pub(crate) fn lookup_in_docker_config(
    bytes: &[u8],
    key: &str,
) -> Result<Option<Credential>, ConfigProblem> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ConfigProblem::Config(format!("it is not valid JSON ({e})")))?;
    if !value.is_object() {
        return Err(ConfigProblem::Config("it is not a JSON object".to_owned()));
    }
    let helper_name = || {
        value
            .get("credHelpers")
            .and_then(|h| h.get(key))
            .and_then(|h| h.as_str())
            .filter(|h| !h.is_empty())
            .or_else(|| value.get("credsStore").and_then(|h| h.as_str()))
            .unwrap_or("?")
            .to_owned()
    };
    use docker_credential::{CredentialRetrievalError as E, DockerCredential};
    match docker_credential::get_credential_from_reader(bytes, key) {
        Ok(DockerCredential::UsernamePassword(username, password)) => {
            Ok(Some(Credential::UserPassword {
                username,
                password: Secret(password),
            }))
        }
        Ok(DockerCredential::IdentityToken(t)) => Ok(Some(Credential::IdentityToken(Secret(t)))),
        Err(E::NoCredentialConfigured) => Ok(None),
        Err(E::ConfigReadError) => Err(ConfigProblem::Config(
            "it does not have the docker config structure (auths, credsStore, credHelpers)"
                .to_owned(),
        )),
        Err(E::CredentialDecodingError) => Err(ConfigProblem::Config(format!(
            "the `auth` entry for {key} is not base64 of user:password"
        ))),
        Err(E::CredentialMismatchError) => Err(ConfigProblem::Config(format!(
            "the `auth` entry for {key} does not match its username and password fields"
        ))),
        Err(E::HelperFailure {
            helper,
            stdout,
            stderr,
        }) => {
            // docker-credential-* helpers report a missing entry this way; that is
            // anonymous access, as in Docker and go-containerregistry.
            if stdout.contains("credentials not found") || stderr.contains("credentials not found")
            {
                return Ok(None);
            }
            let first_line = stderr
                .lines()
                .chain(stdout.lines())
                .find(|l| !l.trim().is_empty())
                .unwrap_or("it exited with an error")
                .chars()
                .take(200)
                .collect::<String>();
            Err(ConfigProblem::Helper {
                helper: helper
                    .strip_prefix("docker-credential-")
                    .unwrap_or(&helper)
                    .to_owned(),
                reason: first_line,
            })
        }
        Err(E::HelperCommunicationError) => Err(ConfigProblem::Helper {
            helper: helper_name(),
            reason: "it could not be run; is it installed and on PATH?".to_owned(),
        }),
        Err(E::MalformedHelperResponse) => Err(ConfigProblem::Helper {
            helper: helper_name(),
            reason: "it printed something that is not {\"Username\",\"Secret\"} JSON".to_owned(),
        }),
        Err(E::ConfigNotFound) => Ok(None),
    }
}

/// Why registry credentials from a Kubernetes pull secret cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DockerAuthsError {
    /// What is wrong, on one line (never a password).
    pub reason: String,
}

/// The `auths` of a docker config as a Kubernetes image pull secret holds them: the
/// `.dockerconfigjson` of a `kubernetes.io/dockerconfigjson` Secret
/// ([`DockerAuths::from_config_json`]) or the legacy flat map of a
/// `kubernetes.io/dockercfg` Secret's `.dockercfg` ([`DockerAuths::from_dockercfg`]).
///
/// Credential helpers (`credsStore`, `credHelpers`) are dropped: a Secret never makes
/// the webhook run a program. Lookups use the docker config file's parser, so a
/// registry's entry is found under the same keys (`host[:port]`, with or without a
/// scheme and path; Docker Hub's `https://index.docker.io/v1/`, `docker.io`,
/// `index.docker.io`). Every entry is checked when it is parsed, so a malformed
/// Secret is reported when it is read, not when some registry is asked.
#[derive(Clone, PartialEq, Eq)]
pub struct DockerAuths {
    /// `{"auths": {...}}`, serialised.
    config: Vec<u8>,
    registries: Vec<String>,
}

impl fmt::Debug for DockerAuths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerAuths")
            .field("registries", &self.registries)
            .finish_non_exhaustive()
    }
}

impl DockerAuths {
    /// The largest document accepted (a Kubernetes Secret holds at most 1 MiB).
    pub const MAX_BYTES: usize = 1024 * 1024;

    /// A docker `config.json` document (`{"auths": {"host": {"auth": …}}}`).
    ///
    /// # Errors
    /// Larger than [`DockerAuths::MAX_BYTES`], not JSON, not an object, `auths` not an
    /// object, or an entry whose credentials do not decode.
    pub fn from_config_json(bytes: &[u8]) -> Result<Self, DockerAuthsError> {
        let value = Self::json(bytes)?;
        let auths = match value.get("auths") {
            None | Some(serde_json::Value::Null) => serde_json::Map::new(),
            Some(serde_json::Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(DockerAuthsError {
                    reason: "its `auths` is not a JSON object".to_owned(),
                });
            }
        };
        Self::from_auths(auths)
    }

    /// The legacy `.dockercfg` map (`{"host": {"auth": …}}`, no `auths` wrapper).
    ///
    /// # Errors
    /// As [`DockerAuths::from_config_json`].
    pub fn from_dockercfg(bytes: &[u8]) -> Result<Self, DockerAuthsError> {
        match Self::json(bytes)? {
            serde_json::Value::Object(m) => Self::from_auths(m),
            _ => Err(not_an_object()),
        }
    }

    /// The JSON object in `bytes`, at most [`DockerAuths::MAX_BYTES`].
    fn json(bytes: &[u8]) -> Result<serde_json::Value, DockerAuthsError> {
        if bytes.len() > Self::MAX_BYTES {
            return Err(DockerAuthsError {
                reason: format!(
                    "it is {} bytes, above the {}-byte limit",
                    bytes.len(),
                    Self::MAX_BYTES
                ),
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| DockerAuthsError {
                reason: format!("it is not valid JSON ({e})"),
            })?;
        if !value.is_object() {
            return Err(not_an_object());
        }
        Ok(value)
    }

    fn from_auths(
        auths: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, DockerAuthsError> {
        let invalid = |e: ConfigProblem| DockerAuthsError {
            reason: match e {
                ConfigProblem::Config(r) | ConfigProblem::Helper { reason: r, .. } => r,
            },
        };
        for (key, entry) in &auths {
            if !entry.is_object() {
                return Err(DockerAuthsError {
                    reason: format!("the entry for {key} is not a JSON object"),
                });
            }
            // Each entry checked alone (a lookup by its own key finds it first), so a
            // Secret with many entries costs one parse of each, not of the whole.
            let alone = serde_json::json!({ "auths": { key.as_str(): entry } });
            lookup_in_docker_config(alone.to_string().as_bytes(), key).map_err(invalid)?;
        }
        let registries: Vec<String> = auths.keys().cloned().collect();
        let config = serde_json::to_vec(&serde_json::json!({ "auths": auths })).map_err(|e| {
            DockerAuthsError {
                reason: e.to_string(),
            }
        })?;
        Ok(DockerAuths { config, registries })
    }

    /// The registry keys it has entries for, as written.
    pub fn registries(&self) -> &[String] {
        &self.registries
    }

    /// Whether it holds credentials for `registry`.
    pub fn has(&self, registry: &Registry) -> bool {
        matches!(self.lookup(registry), Ok(Some(_)))
    }

    /// The credentials for `registry`, if it has an entry for it.
    pub(crate) fn lookup(&self, registry: &Registry) -> Result<Option<Credential>, String> {
        let mut keys = vec![docker_config_key(registry)];
        if registry.as_str() == signet_formats::DOCKER_HUB {
            // Keys without a scheme are compared after docker.io -> index.docker.io.
            keys.push("index.docker.io".to_owned());
        }
        for key in keys {
            match lookup_in_docker_config(&self.config, &key) {
                Ok(Some(c)) => return Ok(Some(c)),
                Ok(None) => {}
                Err(ConfigProblem::Config(r) | ConfigProblem::Helper { reason: r, .. }) => {
                    return Err(r);
                }
            }
        }
        Ok(None)
    }
}

fn not_an_object() -> DockerAuthsError {
    DockerAuthsError {
        reason: "it is not a JSON object".to_owned(),
    }
}

/// Registry credentials tried before a client's own (its flags, else its docker
/// config), for [`crate::RegistryClient::with_credentials`]: each source in order, and
/// the first with an entry for the registry answers (the order kubelet and
/// go-containerregistry's k8schain use: the pod's pull secrets, then its
/// ServiceAccount's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialSet {
    sources: Vec<(String, DockerAuths)>,
}

impl CredentialSet {
    /// An empty set.
    pub fn new() -> Self {
        CredentialSet::default()
    }

    /// Adds `auths` after the sources already there; `label` names it in messages
    /// (`Secret team-a/regcred`).
    pub fn push(&mut self, label: impl Into<String>, auths: DockerAuths) {
        self.sources.push((label.into(), auths));
    }

    /// Whether it has no source.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The sources' labels, in order.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(|(l, _)| l.as_str())
    }

    /// The label of the first source with credentials for `registry`.
    pub fn source_for(&self, registry: &Registry) -> Option<&str> {
        self.sources
            .iter()
            .find(|(_, a)| a.has(registry))
            .map(|(l, _)| l.as_str())
    }

    /// The first credentials for `registry`, and the label of their source.
    pub(crate) fn lookup(&self, registry: &Registry) -> Option<(&str, Credential)> {
        self.sources
            .iter()
            .find_map(|(l, a)| a.lookup(registry).ok().flatten().map(|c| (l.as_str(), c)))
    }
}

/// Form-encodes `pairs` (`application/x-www-form-urlencoded`, WHATWG rules).
pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        encode_component(&mut out, k);
        out.push('=');
        encode_component(&mut out, v);
    }
    out
}

fn encode_component(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn params(c: &Challenge) -> Vec<(&str, &str)> {
        c.params
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect()
    }

    #[test]
    fn parses_bearer_with_quoted_commas() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#;
        let c = parse_www_authenticate(h);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(
            params(&c[0]),
            vec![
                ("realm", "https://auth.docker.io/token"),
                ("service", "registry.docker.io"),
                ("scope", "repository:samalba/my-app:pull,push"),
            ]
        );
    }

    #[test]
    fn parses_error_params_and_case() {
        let h = r#"BEARER Realm="https://ghcr.io/token", service="ghcr.io",scope="repository:o/r:pull",error="insufficient_scope""#;
        let c = parse_www_authenticate(h);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://ghcr.io/token"));
        assert_eq!(c[0].param("error"), Some("insufficient_scope"));
        assert!(matches!(
            select_method(&c),
            Some(AuthMethod::Bearer { service: Some(s), .. }) if s == "ghcr.io"
        ));
    }

    #[test]
    fn parses_multiple_challenges_and_escapes() {
        let h = r#"Basic realm="a \"quoted\", realm", Bearer realm="https://t.example/token",service=svc, Negotiate abc=="#;
        let c = parse_www_authenticate(h);
        let schemes: Vec<&str> = c.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, vec!["basic", "bearer", "negotiate"]);
        assert_eq!(c[0].param("realm"), Some(r#"a "quoted", realm"#));
        assert_eq!(c[1].param("service"), Some("svc"));
        // Bearer wins over Basic.
        assert!(matches!(select_method(&c), Some(AuthMethod::Bearer { .. })));
    }

    #[test]
    fn parses_basic_and_unquoted() {
        let c = parse_www_authenticate("basic realm=registry");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].param("realm"), Some("registry"));
        assert_eq!(select_method(&c), Some(AuthMethod::Basic));
        let c = parse_www_authenticate(r#"Basic realm="signet-test""#);
        assert_eq!(select_method(&c), Some(AuthMethod::Basic));
    }

    #[test]
    fn tolerates_garbage() {
        for h in [
            "",
            ",,,",
            "=",
            "\"",
            "Bearer realm=\"unterminated",
            "Bearer ,,, realm",
            "Bearer realm=",
            "Bearer realm=\"not a url\"",
            "Bearer realm=\"file:///etc/passwd\"",
            "Digest nonce=\"x\"",
            "\u{1F600} Bearer",
        ] {
            let c = parse_www_authenticate(h);
            let m = select_method(&c);
            assert!(
                !matches!(m, Some(AuthMethod::Bearer { .. })),
                "{h:?}: {m:?}"
            );
        }
    }

    #[test]
    fn token_responses() {
        let t = parse_token_response(br#"{"token":"abc","expires_in":300}"#).unwrap();
        assert_eq!(t.token.expose(), "Bearer abc");
        assert!(t.expires > Instant::now() + Duration::from_secs(280));
        let t = parse_token_response(br#"{"access_token":"xyz"}"#).unwrap();
        assert_eq!(t.token.expose(), "Bearer xyz");
        assert!(t.expires <= Instant::now() + DEFAULT_TOKEN_LIFETIME);
        assert!(parse_token_response(br#"{"token":""}"#).is_err());
        assert!(parse_token_response(b"<html>").is_err());
    }

    #[test]
    fn secrets_are_redacted() {
        let c = Credential::UserPassword {
            username: "u".into(),
            password: Secret("hunter2".into()),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(
            c.basic_header().unwrap().expose(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("u:hunter2")
            )
        );
    }

    #[test]
    fn docker_config_lookup() {
        let dir = std::env::temp_dir().join(format!("signet-oci-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:secret");
        std::fs::write(
            &path,
            format!(r#"{{"auths":{{"reg.example:5000":{{"auth":"{auth}"}},"https://index.docker.io/v1/":{{"identitytoken":"idt"}}}}}}"#),
        )
        .unwrap();
        assert!(matches!(
            lookup_docker_config(&path, "reg.example:5000"),
            Ok(Some(Credential::UserPassword { username, password })) if username == "ci" && password.expose() == "secret"
        ));
        assert!(matches!(
            lookup_docker_config(&path, "https://index.docker.io/v1/"),
            Ok(Some(Credential::IdentityToken(_)))
        ));
        assert!(matches!(
            lookup_docker_config(&path, "other.example"),
            Ok(None)
        ));
        assert!(matches!(
            lookup_docker_config(&dir.join("missing.json"), "x"),
            Ok(None)
        ));
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            lookup_docker_config(&path, "x"),
            Err(LookupError::Config { path: p, .. }) if p == path
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn registry(host: &str) -> Registry {
        format!("{host}/x/y:1")
            .parse::<signet_formats::ImageRef>()
            .unwrap()
            .repository()
            .registry()
            .clone()
    }

    fn user_password(c: Option<Credential>) -> Option<(String, String)> {
        match c {
            Some(Credential::UserPassword { username, password }) => {
                Some((username, password.expose().to_owned()))
            }
            _ => None,
        }
    }

    #[test]
    fn pull_secret_documents() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        // .dockerconfigjson, with a scheme and path on one key and user/password fields
        let json = format!(
            r#"{{"auths":{{"https://reg.example:5000/v1/":{{"auth":"{}"}},"other.example":{{"username":"u","password":"p"}}}},"credsStore":"evil","credHelpers":{{"reg.example:5000":"evil"}}}}"#,
            b64("ci:secret")
        );
        let auths = DockerAuths::from_config_json(json.as_bytes()).unwrap();
        // The helpers were dropped: nothing is run, the `auths` entry answers.
        assert_eq!(
            user_password(auths.lookup(&registry("reg.example:5000")).unwrap()),
            Some(("ci".into(), "secret".into()))
        );
        assert_eq!(
            user_password(auths.lookup(&registry("other.example")).unwrap()),
            Some(("u".into(), "p".into()))
        );
        assert!(auths.has(&registry("other.example")));
        assert!(!auths.has(&registry("reg.example")), "the port matters");
        assert!(!format!("{auths:?}").contains("secret"));
        // .dockercfg: the flat map; Docker Hub under any of its names
        for key in [
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
        ] {
            let cfg = format!(
                r#"{{"{key}":{{"auth":"{}","email":"x@y"}}}}"#,
                b64("hub:pw")
            );
            let auths = DockerAuths::from_dockercfg(cfg.as_bytes()).unwrap();
            assert_eq!(
                user_password(auths.lookup(&registry("docker.io")).unwrap()),
                Some(("hub".into(), "pw".into())),
                "{key}"
            );
        }
        // no auths at all: valid, and empty
        let empty = DockerAuths::from_config_json(b"{}").unwrap();
        assert!(empty.registries().is_empty());
        // malformed documents: a clear reason each, never a panic
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{not json".to_vec(), "not valid JSON"),
            (b"[]".to_vec(), "not a JSON object"),
            (br#"{"auths":[]}"#.to_vec(), "`auths` is not a JSON object"),
            (
                br#"{"auths":{"r.io":"x"}}"#.to_vec(),
                "the entry for r.io is not a JSON object",
            ),
            (
                br#"{"auths":{"r.io":{"auth":"%%%"}}}"#.to_vec(),
                "the `auth` entry for r.io is not base64 of user:password",
            ),
            (
                format!(r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#, b64("nocolon")).into_bytes(),
                "not base64 of user:password",
            ),
            (
                format!(
                    r#"{{"auths":{{"r.io":{{"auth":"{}","username":"a","password":"c"}}}}}}"#,
                    b64("a:b")
                )
                .into_bytes(),
                "does not match its username and password fields",
            ),
            (
                vec![b' '; DockerAuths::MAX_BYTES + 1],
                "above the 1048576-byte limit",
            ),
        ];
        for (bytes, needle) in cases {
            let e = DockerAuths::from_config_json(&bytes).unwrap_err();
            assert!(e.reason.contains(needle), "{needle}: {e}");
            assert!(!e.reason.contains("secret"));
        }
        assert!(
            DockerAuths::from_dockercfg(br#"{"r.io":{"auth":"%%%"}}"#)
                .unwrap_err()
                .reason
                .contains("not base64")
        );
    }

    #[test]
    fn credential_sets_answer_in_order() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let doc = |host: &str, user: &str| {
            DockerAuths::from_config_json(
                format!(
                    r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
                    b64(&format!("{user}:pw"))
                )
                .as_bytes(),
            )
            .unwrap()
        };
        let mut set = CredentialSet::new();
        assert!(set.is_empty());
        set.push("Secret ns/first", doc("a.io", "first"));
        set.push("Secret ns/second", doc("a.io", "second"));
        set.push("Secret ns/third", doc("b.io", "third"));
        let (label, c) = set.lookup(&registry("a.io")).unwrap();
        assert_eq!(label, "Secret ns/first");
        assert_eq!(user_password(Some(c)).unwrap().0, "first");
        assert_eq!(set.source_for(&registry("b.io")), Some("Secret ns/third"));
        assert!(set.lookup(&registry("c.io")).is_none());
        assert_eq!(
            set.labels().collect::<Vec<_>>(),
            ["Secret ns/first", "Secret ns/second", "Secret ns/third"]
        );
    }

    #[test]
    fn scopes_and_forms() {
        assert_eq!(Access::Pull.scope("demo/app"), "repository:demo/app:pull");
        assert_eq!(
            Access::Push.scope("demo/app"),
            "repository:demo/app:pull,push"
        );
        assert_eq!(
            form_encode(&[("a", "x y"), ("scope", "repository:r:pull,push")]),
            "a=x+y&scope=repository%3Ar%3Apull%2Cpush"
        );
        let hub: Registry = "docker.io/library/x"
            .parse::<signet_formats::ImageRef>()
            .unwrap()
            .repository()
            .registry()
            .clone();
        assert_eq!(docker_config_key(&hub), "https://index.docker.io/v1/");
    }
}
