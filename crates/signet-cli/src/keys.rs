//! Key commands and key references (`PATH`, `env://VAR`, `https://URL`), and the
//! password sources cosign uses: `COSIGN_PASSWORD`, then a TTY prompt, then stdin.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use signet_crypto::{KeyAlgorithm, PrivateKey, PublicKey, Signer, cosign, import_private_key};
use zeroize::Zeroizing;

use crate::cli::{Algorithm, GenerateKeyPair, ImportKeyPair, PublicKeyArgs};

/// Most bytes read from a key reference.
const MAX_KEY_BYTES: u64 = 1024 * 1024;

/// Whether a password is asked for once, or twice to confirm a new one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confirm {
    Once,
    Twice,
}

/// Reads the private-key password the way cosign does.
pub(crate) fn read_password(confirm: Confirm) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(p) = std::env::var_os("COSIGN_PASSWORD") {
        return Ok(Zeroizing::new(p.into_encoded_bytes()));
    }
    if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(
            rpassword::prompt_password("Enter password for private key: ")
                .context("reading the password")?,
        );
        if confirm == Confirm::Twice {
            let again = Zeroizing::new(
                rpassword::prompt_password("Enter password for private key again: ")
                    .context("reading the password")?,
            );
            if *first != *again {
                bail!("passwords do not match");
            }
        }
        return Ok(Zeroizing::new(first.as_bytes().to_vec()));
    }
    let mut buf = Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(MAX_KEY_BYTES)
        .read_to_end(&mut buf)
        .context("reading the password from stdin (set COSIGN_PASSWORD to avoid this)")?;
    Ok(buf)
}

/// Reads a key reference: a file path or `env://VAR`, and for public keys `https://`.
pub(crate) async fn read_key_ref(reference: &str, allow_url: bool) -> Result<Vec<u8>> {
    if let Some(var) = reference.strip_prefix("env://") {
        let v = std::env::var_os(var).with_context(|| {
            format!("key reference {reference}: environment variable {var} is not set")
        })?;
        return Ok(v.into_encoded_bytes());
    }
    if reference.starts_with("https://") || reference.starts_with("http://") {
        if !allow_url {
            bail!(
                "key reference {reference}: private keys cannot be fetched from a URL; use a file or env://VAR"
            );
        }
        return fetch_key(reference).await;
    }
    if let Some((scheme, _)) = reference.split_once("://") {
        bail!(
            "key reference {reference}: the {scheme}:// scheme is not supported; use a file path, env://VAR{}",
            if allow_url { " or https://URL" } else { "" }
        );
    }
    let meta = std::fs::metadata(reference).with_context(|| format!("reading key {reference}"))?;
    if meta.len() > MAX_KEY_BYTES {
        bail!(
            "key file {reference} is {} bytes: not a key file",
            meta.len()
        );
    }
    std::fs::read(reference).with_context(|| format!("reading key {reference}"))
}

async fn fetch_key(url: &str) -> Result<Vec<u8>> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .context("building an HTTP client")?;
    let mut resp = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("fetching key {url}"))?;
    if !resp.status().is_success() {
        bail!("fetching key {url}: HTTP {}", resp.status());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .with_context(|| format!("fetching key {url}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > MAX_KEY_BYTES {
            bail!("fetching key {url}: the response is over {MAX_KEY_BYTES} bytes, not a key");
        }
    }
    Ok(body)
}

fn pem_label(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = text[start..].find("-----")?;
    Some(&text[start..start + end])
}

/// Loads a signing key from a reference, asking for the password when it is encrypted.
pub(crate) async fn load_private_key(reference: &str) -> Result<PrivateKey> {
    let pem = Zeroizing::new(read_key_ref(reference, false).await?);
    match pem_label(&pem) {
        Some(cosign::PEM_LABEL | cosign::LEGACY_PEM_LABEL) => {
            let password = read_password(Confirm::Once)?;
            cosign::decrypt_private_key(&pem, &password)
                .with_context(|| format!("loading private key {reference}"))
        }
        Some("ENCRYPTED PRIVATE KEY") => {
            let password = read_password(Confirm::Once)?;
            import_private_key(&pem, Some(&password))
                .with_context(|| format!("loading private key {reference}"))
        }
        _ => import_private_key(&pem, None)
            .with_context(|| format!("loading private key {reference}")),
    }
}

/// Loads a verification key from a reference.
pub(crate) async fn load_public_key(reference: &str) -> Result<PublicKey> {
    let pem = read_key_ref(reference, true).await?;
    if let Some(label) = pem_label(&pem)
        && label.contains("PRIVATE KEY")
    {
        bail!(
            "key {reference} is a private key; pass the public key instead (derive it with `signet public-key --key {reference}`)"
        );
    }
    PublicKey::from_pem(&pem).with_context(|| format!("loading public key {reference}"))
}

/// Writes `bytes` to `path` with `mode`, atomically (temporary file + rename).
pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key")
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

fn confirm_overwrite(path: &Path, yes: bool) -> Result<()> {
    if !path.exists() || yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("{} already exists; pass -y to overwrite it", path.display());
    }
    eprint!(
        "WARNING: File {} already exists. Overwrite (y/[N])? ",
        path.display()
    );
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("reading the answer")?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("not overwriting {}", path.display());
    }
    Ok(())
}

fn write_key_pair(prefix: &str, key: &PrivateKey, password: &[u8], yes: bool) -> Result<()> {
    let key_path = std::path::PathBuf::from(format!("{prefix}.key"));
    let pub_path = std::path::PathBuf::from(format!("{prefix}.pub"));
    confirm_overwrite(&key_path, yes)?;
    confirm_overwrite(&pub_path, yes)?;
    let encrypted = Zeroizing::new(
        cosign::encrypt_private_key(key, password).context("encrypting the private key")?,
    );
    write_file(&key_path, encrypted.as_bytes(), 0o600)?;
    eprintln!("Private key written to {}", key_path.display());
    write_file(&pub_path, key.public_key().to_pem().as_bytes(), 0o644)?;
    eprintln!("Public key written to {}", pub_path.display());
    Ok(())
}

pub(crate) fn generate_key_pair(args: &GenerateKeyPair) -> Result<()> {
    let alg = match args.algorithm {
        Algorithm::EcdsaP256 => KeyAlgorithm::EcdsaP256,
        Algorithm::EcdsaP384 => KeyAlgorithm::EcdsaP384,
        Algorithm::Ed25519 => KeyAlgorithm::Ed25519,
    };
    let password = read_password(Confirm::Twice)?;
    let key = PrivateKey::generate(alg).context("generating the key")?;
    write_key_pair(&args.output_key_prefix, &key, &password, args.yes)
}

pub(crate) fn import_key_pair(args: &ImportKeyPair) -> Result<()> {
    let meta =
        std::fs::metadata(&args.key).with_context(|| format!("reading {}", args.key.display()))?;
    if meta.len() > MAX_KEY_BYTES {
        bail!(
            "{} is {} bytes: not a key file",
            args.key.display(),
            meta.len()
        );
    }
    let pem = Zeroizing::new(
        std::fs::read(&args.key).with_context(|| format!("reading {}", args.key.display()))?,
    );
    let input_password = match pem_label(&pem) {
        Some("ENCRYPTED PRIVATE KEY") => Some(import_password()?),
        _ => None,
    };
    let key = import_private_key(&pem, input_password.as_ref().map(|p| p.as_slice()))
        .with_context(|| format!("importing {}", args.key.display()))?;
    let password = read_password(Confirm::Twice)?;
    write_key_pair(&args.output_key_prefix, &key, &password, args.yes)
}

/// The password of an encrypted PKCS#8 file being imported: `SIGNET_IMPORT_PASSWORD`,
/// else a TTY prompt.
fn import_password() -> Result<Zeroizing<Vec<u8>>> {
    if let Some(p) = std::env::var_os("SIGNET_IMPORT_PASSWORD") {
        return Ok(Zeroizing::new(p.into_encoded_bytes()));
    }
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("Enter password of the key being imported: ")
            .context("reading the password")?;
        return Ok(Zeroizing::new(p.into_bytes()));
    }
    bail!("the key is encrypted PKCS#8: set SIGNET_IMPORT_PASSWORD to its password")
}

pub(crate) async fn public_key(args: &PublicKeyArgs) -> Result<()> {
    let key = load_private_key(&args.key).await?;
    let pem = key.public_key().to_pem();
    match &args.outfile {
        Some(path) => {
            write_file(path, pem.as_bytes(), 0o644)?;
            eprintln!("Public key written to {}", path.display());
        }
        None => print!("{pem}"),
    }
    Ok(())
}
