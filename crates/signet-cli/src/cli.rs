//! Command-line arguments, shaped like cosign's so that scripts run unchanged.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// signet: sign and verify container images, compatible with cosign.
#[derive(Parser, Debug)]
#[command(name = "signet", version, about, disable_help_subcommand = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Generate a key pair in cosign's encrypted format.
    GenerateKeyPair(GenerateKeyPair),
    /// Print the public key of a key pair.
    PublicKey(PublicKeyArgs),
    /// Import a PEM private key (PKCS#1, SEC1, PKCS#8, encrypted PKCS#8) into cosign's format.
    ImportKeyPair(ImportKeyPair),
    /// Sign images.
    Sign(SignArgs),
    /// Verify image signatures.
    Verify(VerifyArgs),
    /// Print where an image's signatures, attestations or SBOM live.
    Triangulate(TriangulateArgs),
    /// List an image's signatures, attestations and SBOMs.
    Tree(TreeArgs),
    /// Verify a Sigstore bundle (v0.1–v0.3) for a file or `sha256:<hex>`, offline.
    VerifyBlob(VerifyBlobArgs),
    /// Sign a file with a key and write a Sigstore bundle (v0.3).
    SignBlob(SignBlobArgs),
    /// Run the Kubernetes admission webhook (HTTPS), or `check` a manifest offline.
    Admission(crate::admission::AdmissionArgs),
    /// Serve a private Sigstore stack: a Fulcio-compatible CA, a Rekor-compatible log
    /// and an RFC 3161 TSA (or one of them), writing the trust files clients need.
    Serve(ServeArgs),
    /// Print an identity token from the development OIDC issuer of `serve --dev-oidc`.
    DevToken(DevTokenArgs),
    /// Maintain the transparency log of `signet serve`.
    Log(LogArgs),
}

#[derive(Args, Debug)]
pub(crate) struct LogArgs {
    #[command(subcommand)]
    pub(crate) command: LogCommand,
}

/// `signet log` subcommands.
#[derive(Subcommand, Debug)]
pub(crate) enum LogCommand {
    /// Check a stopped log: recompute the tree from its leaves and verify every stored
    /// node, checkpoint and consistency proof, and that no leaf is stored twice.
    Fsck {
        /// The data directory of `signet serve` (or the log's own directory).
        #[arg(long)]
        data_dir: PathBuf,
    },
}

/// The services of `signet serve`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum ServeService {
    /// The Fulcio v2 certificate authority (with its CT log key).
    Ca,
    /// The Rekor v1 transparency log.
    Log,
    /// The RFC 3161 timestamp authority.
    Tsa,
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Serve only this service (default: all of them).
    #[arg(value_enum)]
    pub(crate) service: Option<ServeService>,
    /// Where keys, the log and the trust files live (created if missing).
    #[arg(long)]
    pub(crate) data_dir: PathBuf,
    /// The address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: std::net::SocketAddr,
    /// The URL clients use to reach this address (default: http://ADDR).
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// A YAML or JSON file: `issuers: [{url, type: email|uri|username|github-workflow,
    /// audience, subject_domain}]`, `url`.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Add a development OIDC issuer that mints tokens for any identity, and trust it.
    /// For local testing only.
    #[arg(long)]
    pub(crate) dev_oidc: bool,
}

#[derive(Args, Debug)]
pub(crate) struct DevTokenArgs {
    /// The data directory of a `signet serve --dev-oidc`.
    #[arg(long)]
    pub(crate) data_dir: PathBuf,
    /// The identity (`sub`; also a verified `email` when it contains `@`).
    #[arg(long)]
    pub(crate) subject: String,
    /// Another `iss` (to test that the CA rejects unknown issuers).
    #[arg(long)]
    pub(crate) issuer: Option<String>,
}

/// Key algorithms `generate-key-pair` offers.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Algorithm {
    /// ECDSA P-256 with SHA-256 (cosign's only choice).
    EcdsaP256,
    /// ECDSA P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
}

#[derive(Args, Debug)]
pub(crate) struct GenerateKeyPair {
    /// Write <PREFIX>.key and <PREFIX>.pub.
    #[arg(long, default_value = "cosign")]
    pub(crate) output_key_prefix: String,
    /// The key algorithm.
    #[arg(long, value_enum, default_value = "ecdsa-p256")]
    pub(crate) algorithm: Algorithm,
    /// Overwrite existing files without asking.
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
}

#[derive(Args, Debug)]
pub(crate) struct PublicKeyArgs {
    /// The private key: a path or env://VAR.
    #[arg(long)]
    pub(crate) key: String,
    /// Write the key here instead of stdout.
    #[arg(long)]
    pub(crate) outfile: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct ImportKeyPair {
    /// The PEM private key to import.
    #[arg(short = 'k', long)]
    pub(crate) key: PathBuf,
    /// Write <PREFIX>.key and <PREFIX>.pub.
    #[arg(short = 'o', long, default_value = "import-cosign")]
    pub(crate) output_key_prefix: String,
    /// Overwrite existing files without asking.
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
}

/// Registry connection flags, as cosign spells them.
#[derive(Args, Debug, Clone)]
pub(crate) struct RegistryArgs {
    /// Username for the registry (overrides the docker config).
    #[arg(long, env = "SIGNET_REGISTRY_USERNAME")]
    pub(crate) registry_username: Option<String>,
    /// Password for the registry.
    #[arg(long, env = "SIGNET_REGISTRY_PASSWORD", hide_env_values = true)]
    pub(crate) registry_password: Option<String>,
    /// PEM file of CA certificates to trust for registry TLS.
    #[arg(long)]
    pub(crate) registry_cacert: Option<PathBuf>,
    /// Accept any TLS certificate from the registry.
    #[arg(long)]
    pub(crate) allow_insecure_registry: bool,
    /// Allow plain HTTP to the registry.
    #[arg(long)]
    pub(crate) allow_http_registry: bool,
    /// Docker config file for credentials (default $DOCKER_CONFIG/config.json or ~/.docker/config.json).
    #[arg(long)]
    pub(crate) docker_config: Option<PathBuf>,
    /// Timeout for the whole command, e.g. 30s, 3m.
    #[arg(short = 't', long, default_value = "3m", value_parser = parse_duration)]
    pub(crate) timeout: std::time::Duration,
}

pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 30s, 3m, 500ms"))?;
    Ok(match unit {
        "ms" => std::time::Duration::from_millis(n),
        "s" | "" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_secs(n * 60),
        "h" => std::time::Duration::from_secs(n * 3600),
        _ => return Err(format!("invalid duration {s:?}: use e.g. 30s, 3m, 500ms")),
    })
}

fn parse_annotation(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("annotation {s:?} is not key=value"))
}

#[derive(Args, Debug)]
pub(crate) struct SignArgs {
    /// The private key: a path or env://VAR.
    #[arg(long)]
    pub(crate) key: Option<String>,
    /// Annotations to add to the payload (key=value; repeatable, or comma-separated).
    #[arg(short = 'a', long = "annotations", value_delimiter = ',', value_parser = parse_annotation)]
    pub(crate) annotations: Vec<(String, String)>,
    /// Sign every child manifest of an index too.
    #[arg(short = 'r', long)]
    pub(crate) recursive: bool,
    /// Skip confirmation prompts (accepted for cosign compatibility).
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    /// Upload to the transparency log (accepted; signet has no log yet, so key-based signing uses none).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = clap::value_parser!(bool))]
    pub(crate) tlog_upload: bool,
    /// Push the signature (accepted for cosign compatibility; must stay true).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = clap::value_parser!(bool))]
    pub(crate) upload: bool,
    /// Write cosign v3's format: a Sigstore bundle (DSSE in-toto statement) stored as an
    /// OCI 1.1 referrer of the image, instead of appending to `sha256-<hex>.sig`.
    /// Default: on for keyless signing, off with `--key` (whose bundles have no log
    /// entry, so cosign 2.x and `.sig` readers would not see them).
    #[arg(long, visible_alias = "bundle-format", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub(crate) new_bundle_format: Option<bool>,
    #[command(flatten)]
    pub(crate) keyless: KeylessArgs,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Images: registry references or oci:PATH[:TAG].
    #[arg(required = true)]
    pub(crate) images: Vec<String>,
}

/// Keyless signing (no `--key`): where the token comes from and which CA, log and
/// TSA to use, as cosign spells the flags.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct KeylessArgs {
    /// An OIDC identity token (a JWT, or @FILE). Else SIGSTORE_ID_TOKEN, else GitHub
    /// Actions' ambient credentials, else an interactive sign-in at --oidc-issuer (the
    /// browser flow when stdin is a terminal, else the device flow).
    #[arg(long)]
    pub(crate) identity_token: Option<String>,
    /// How to get the token: `normal` (sign in in a browser), `device` (sign in on any
    /// device with a code), `token` (only --identity-token, SIGSTORE_ID_TOKEN or ambient
    /// CI credentials). Default: a given token if there is one, else `normal` when
    /// stdin is a terminal, else `device`.
    #[arg(long, value_enum)]
    pub(crate) fulcio_auth_flow: Option<AuthFlowArg>,
    /// The OIDC issuer for interactive sign-in (default: the signing config's, else
    /// https://oauth2.sigstore.dev/auth; with `signet serve --dev-oidc`: <url>/oidc).
    #[arg(long)]
    pub(crate) oidc_issuer: Option<String>,
    /// The OIDC client id for interactive sign-in (the token's audience).
    #[arg(long, default_value = "sigstore")]
    pub(crate) oidc_client_id: String,
    /// A file holding the OIDC client secret (confidential clients only).
    #[arg(long)]
    pub(crate) oidc_client_secret_file: Option<PathBuf>,
    /// The browser flow's redirect URL: http on localhost, 127.0.0.1 or [::1], port 0
    /// for any free port (default: http://localhost:<free port>/auth/callback).
    #[arg(long)]
    pub(crate) oidc_redirect_url: Option<String>,
    /// A signing config (v0.2 JSON) naming the CA, log and TSA, as `signet serve`
    /// writes it. The URL flags override it.
    #[arg(long)]
    pub(crate) signing_config: Option<PathBuf>,
    /// The Fulcio URL (default: the signing config's, else https://fulcio.sigstore.dev).
    #[arg(long)]
    pub(crate) fulcio_url: Option<String>,
    /// The Rekor URL (default: the signing config's, else https://rekor.sigstore.dev).
    #[arg(long)]
    pub(crate) rekor_url: Option<String>,
    /// An RFC 3161 timestamp authority URL (default: the signing config's, else none).
    #[arg(long)]
    pub(crate) timestamp_server_url: Option<String>,
    /// The trusted root the new bundle is checked against before it is written
    /// (default: the embedded public-good root).
    #[arg(long = "trusted-root")]
    pub(crate) signing_trusted_root: Option<PathBuf>,
    /// The token audience requested from ambient CI credentials.
    #[arg(long, default_value = "sigstore")]
    pub(crate) oidc_audience: String,
}

/// `--fulcio-auth-flow`, as cosign names the flows.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum AuthFlowArg {
    /// The browser flow (authorization code with PKCE, redirected to a loopback listener).
    Normal,
    /// The device flow (RFC 8628).
    Device,
    /// Only a token given up front; never interactive.
    Token,
}

/// Output formats of `verify`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum Output {
    /// cosign's JSON array.
    Json,
    /// One payload per line.
    Text,
}

/// Keyless identity flags, as cosign spells them (`verify`, `verify-blob`).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct IdentityArgs {
    /// Keyless: the expected certificate identity (any SAN).
    #[arg(long)]
    pub(crate) certificate_identity: Option<String>,
    /// Keyless: a regexp for the certificate identity (unanchored, as in cosign).
    #[arg(long)]
    pub(crate) certificate_identity_regexp: Option<String>,
    /// Keyless: the expected OIDC issuer.
    #[arg(long)]
    pub(crate) certificate_oidc_issuer: Option<String>,
    /// Keyless: a regexp for the OIDC issuer.
    #[arg(long)]
    pub(crate) certificate_oidc_issuer_regexp: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// The public key: a path, env://VAR or an https:// URL.
    #[arg(long)]
    pub(crate) key: Option<String>,
    /// Annotations every accepted signature must carry (key=value).
    #[arg(short = 'a', long = "annotations", value_delimiter = ',', value_parser = parse_annotation)]
    pub(crate) annotations: Vec<(String, String)>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "json")]
    pub(crate) output: Output,
    /// Check the claims in the payload (digest and annotations).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = clap::value_parser!(bool))]
    pub(crate) check_claims: bool,
    /// Skip transparency-log verification. Legacy `.sig` signatures are checked without
    /// a log either way; key-based bundles with no tlog entry or timestamp (`signet sign
    /// --new-bundle-format`, cosign `--tlog-upload=false`) are accepted only with it.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = clap::value_parser!(bool))]
    pub(crate) insecure_ignore_tlog: bool,
    /// Look for Sigstore bundles stored as OCI 1.1 referrers first (cosign v3), then
    /// the `.sig` signatures; `=false` reads only `.sig`.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = clap::value_parser!(bool))]
    pub(crate) new_bundle_format: bool,
    /// A trusted_root.json for bundles' tlog entries, timestamps and certificates
    /// (default: the embedded public-good root).
    #[arg(long)]
    pub(crate) trusted_root: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) identity: IdentityArgs,
    /// How many signature layers of one image to fetch at once.
    #[arg(long, default_value_t = 10)]
    pub(crate) max_workers: usize,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Images: registry references or oci:PATH[:TAG].
    #[arg(required = true)]
    pub(crate) images: Vec<String>,
}

/// Which attachment `triangulate` prints.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum AttachmentType {
    /// `.sig`.
    Signature,
    /// `.att`.
    Attestation,
    /// `.sbom`.
    Sbom,
    /// The image digest itself.
    Digest,
}

#[derive(Args, Debug)]
pub(crate) struct TriangulateArgs {
    /// Which attachment.
    #[arg(long = "type", value_enum, default_value = "signature")]
    pub(crate) kind: AttachmentType,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// The image.
    pub(crate) image: String,
}

#[derive(Args, Debug)]
pub(crate) struct TreeArgs {
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// The image.
    pub(crate) image: String,
}

#[derive(Args, Debug)]
pub(crate) struct VerifyBlobArgs {
    /// The Sigstore bundle (JSON).
    #[arg(long)]
    pub(crate) bundle: PathBuf,
    /// The public key (path, env://VAR or https:// URL) for key-based bundles.
    #[arg(long)]
    pub(crate) key: Option<String>,
    #[command(flatten)]
    pub(crate) identity: IdentityArgs,
    /// A trusted_root.json to use instead of the embedded public-good root.
    #[arg(long)]
    pub(crate) trusted_root: Option<PathBuf>,
    /// Use the embedded public-good staging root.
    #[arg(long, conflicts_with = "trusted_root")]
    pub(crate) staging: bool,
    /// With `--key`: accept a bundle that has no transparency-log entry or timestamp.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = clap::value_parser!(bool))]
    pub(crate) insecure_ignore_tlog: bool,
    /// The artifact: a file, or `sha256:<hex>`.
    pub(crate) artifact: String,
}

#[derive(Args, Debug)]
pub(crate) struct SignBlobArgs {
    /// The private key: a path or env://VAR. Without it, signing is keyless.
    #[arg(long)]
    pub(crate) key: Option<String>,
    #[command(flatten)]
    pub(crate) keyless: KeylessArgs,
    /// Write the Sigstore bundle (v0.3 JSON) here.
    #[arg(long)]
    pub(crate) bundle: PathBuf,
    /// Also write the raw signature, base64-encoded, here (cosign `--output-signature`).
    #[arg(long)]
    pub(crate) output_signature: Option<PathBuf>,
    /// Write the bundle format (accepted for cosign compatibility; signet always does).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = clap::value_parser!(bool))]
    pub(crate) new_bundle_format: bool,
    /// Upload to the transparency log (accepted; key-based signing uses no log yet).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = clap::value_parser!(bool))]
    pub(crate) tlog_upload: bool,
    /// Skip confirmation prompts (accepted for cosign compatibility; the bundle is
    /// overwritten, as cosign does).
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    /// The file to sign.
    pub(crate) artifact: PathBuf,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn cosign_style_flags_parse() {
        let c = Cli::try_parse_from([
            "signet",
            "sign",
            "--key",
            "k",
            "-y",
            "--tlog-upload=false",
            "-a",
            "a=b,c=d=e",
            "-a",
            "x=",
            "img",
        ])
        .unwrap();
        let Command::Sign(s) = c.command else {
            panic!()
        };
        assert!(!s.tlog_upload && s.yes);
        assert_eq!(
            s.annotations,
            vec![
                ("a".into(), "b".into()),
                ("c".into(), "d=e".into()),
                ("x".into(), "".into())
            ]
        );
        let c = Cli::try_parse_from([
            "signet",
            "verify",
            "--key",
            "k",
            "--insecure-ignore-tlog",
            "img",
        ])
        .unwrap();
        let Command::Verify(v) = c.command else {
            panic!()
        };
        assert!(v.insecure_ignore_tlog && v.check_claims);
        assert!(
            Cli::try_parse_from(["signet", "sign", "--key", "k", "-a", "novalue", "img"]).is_err()
        );
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("3m").unwrap(),
            std::time::Duration::from_secs(180)
        );
        assert_eq!(
            parse_duration("250ms").unwrap(),
            std::time::Duration::from_millis(250)
        );
        assert!(parse_duration("3 weeks").is_err());
    }
}
