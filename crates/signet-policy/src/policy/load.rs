//! Loading policy files: a directory of `*.yaml`/`*.yml`, several documents per file,
//! every document validated, every failure reported with its file, document and field.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use signet_formats::Digest;

use super::trust_root::{TRUST_ROOT_KIND, TrustRoot, TrustRootDocument, validate_trust_root};
use super::validate::{Ctx, validate_spec};
use super::wire;
use super::{
    ClusterImagePolicy, DocumentLocation, Generation, LoadNote, Note, POLICY_GROUP, POLICY_KIND,
    PolicyError, PolicySet, Problem,
};

/// One loaded document.
enum Loaded {
    Policy(ClusterImagePolicy, Vec<u8>),
    TrustRoot(TrustRoot, Vec<u8>),
}

/// The largest policy file read, in bytes.
pub const MAX_POLICY_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Past this many errors, loading stops collecting them.
const MAX_ERRORS: usize = 100;

/// A policy file's name and text (what [`PolicySet::from_files`] reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFile {
    /// The file's path, used in messages.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// Why a policy directory does not load. Nothing is ever skipped silently: a document
/// that does not parse or validate is an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The directory cannot be listed.
    #[error(
        "cannot read the policy directory {dir}: {source}; check the --policy path and its permissions"
    )]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file cannot be read.
    #[error("cannot read policy file {file}: {source}")]
    ReadFile {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is too large.
    #[error(
        "policy file {file} is {size} bytes, above the {limit}-byte limit: split it into several files"
    )]
    FileTooLarge {
        /// The file.
        file: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A file is not UTF-8.
    #[error("policy file {file} is not UTF-8 text")]
    NotUtf8 {
        /// The file.
        file: PathBuf,
    },
    /// Documents that do not load.
    #[error("{} policy problem(s); fix them and reload:\n{}", errors.len(), ErrorList(errors))]
    Invalid {
        /// Every problem found (up to 100).
        errors: Vec<PolicyError>,
    },
}

struct ErrorList<'a>(&'a [PolicyError]);

impl fmt::Display for ErrorList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl PolicySet {
    /// A set with no policy.
    pub fn empty() -> Self {
        Self::build(Vec::new(), BTreeMap::new(), Vec::new())
    }

    /// Loads every `*.yaml` and `*.yml` file directly in `dir` (not in subdirectories;
    /// names starting with `.` are skipped, as are the `..data` links of a mounted
    /// ConfigMap), in name order. This and [`PolicySet::from_files`] are the crate's
    /// only I/O.
    ///
    /// # Errors
    /// A [`LoadError`]: I/O, or every document that does not parse or validate.
    pub fn load_dir(dir: &Path) -> Result<Self, LoadError> {
        Self::from_files(read_dir(dir)?)
    }
}

/// Reads the policy files [`PolicySet::load_dir`] would load (same selection, order and
/// limits) without loading them, so that a caller can add documents from elsewhere
/// (ClusterImagePolicy resources from the Kubernetes API) before
/// [`PolicySet::from_files`].
///
/// # Errors
/// The I/O [`LoadError`]s of [`PolicySet::load_dir`].
pub fn read_dir(dir: &Path) -> Result<Vec<PolicyFile>, LoadError> {
    let read_dir_error = |source| LoadError::ReadDir {
        dir: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_dir_error)? {
        let entry = entry.map_err(read_dir_error)?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if name.starts_with('.') || !yaml {
            continue;
        }
        // Follows symlinks, as ConfigMap mounts use them.
        let meta = fs::metadata(&path).map_err(|source| LoadError::ReadFile {
            file: path.clone(),
            source,
        })?;
        if !meta.is_file() {
            continue;
        }
        if meta.len() > MAX_POLICY_FILE_BYTES {
            return Err(LoadError::FileTooLarge {
                file: path,
                size: meta.len(),
                limit: MAX_POLICY_FILE_BYTES,
            });
        }
        paths.push(path);
    }
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = fs::read(&path).map_err(|source| LoadError::ReadFile {
            file: path.clone(),
            source,
        })?;
        let text =
            String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 { file: path.clone() })?;
        files.push(PolicyFile { path, text });
    }
    Ok(files)
}

impl PolicySet {
    /// Loads policies from file texts.
    ///
    /// # Errors
    /// [`LoadError::Invalid`] with every document that does not parse or validate.
    pub fn from_files(files: impl IntoIterator<Item = PolicyFile>) -> Result<Self, LoadError> {
        let mut loaded: Vec<(ClusterImagePolicy, Vec<u8>)> = Vec::new();
        let mut notes = Vec::new();
        let mut errors = Vec::new();
        let mut first_by_name: BTreeMap<String, DocumentLocation> = BTreeMap::new();
        let mut roots: BTreeMap<String, (TrustRoot, Vec<u8>)> = BTreeMap::new();
        for file in files {
            for doc in split_documents(&file.text) {
                if errors.len() >= MAX_ERRORS {
                    break;
                }
                let location = DocumentLocation {
                    file: file.path.clone(),
                    document: doc.number,
                    line: doc.line,
                };
                let mut ctx = Ctx {
                    location,
                    policy: None,
                    errors: Vec::new(),
                    notes: Vec::new(),
                };
                match load_document(&mut ctx, &file.text, doc.text) {
                    Some(Loaded::Policy(policy, canonical)) => {
                        match first_by_name.get(&policy.name) {
                            Some(first) => ctx.error(
                                "metadata.name",
                                Problem::DuplicateName {
                                    first: first.clone(),
                                },
                            ),
                            None => {
                                first_by_name.insert(policy.name.clone(), policy.origin.clone());
                                loaded.push((policy, canonical));
                            }
                        }
                    }
                    Some(Loaded::TrustRoot(root, canonical)) => match roots.get(&root.name) {
                        Some((first, _)) => ctx.error(
                            "metadata.name",
                            Problem::DuplicateName {
                                first: first.origin.clone(),
                            },
                        ),
                        None => {
                            roots.insert(root.name.clone(), (root, canonical));
                        }
                    },
                    None => {}
                }
                errors.extend(ctx.errors);
                notes.extend(ctx.notes);
            }
        }
        if !errors.is_empty() {
            errors.truncate(MAX_ERRORS);
            return Err(LoadError::Invalid { errors });
        }
        Ok(Self::build(loaded, roots, notes))
    }

    /// Loads policies from one YAML text (`name` is used in messages).
    ///
    /// # Errors
    /// As [`PolicySet::from_files`].
    pub fn from_yaml(name: &str, text: &str) -> Result<Self, LoadError> {
        Self::from_files([PolicyFile {
            path: PathBuf::from(name),
            text: text.to_owned(),
        }])
    }

    fn build(
        mut loaded: Vec<(ClusterImagePolicy, Vec<u8>)>,
        roots: BTreeMap<String, (TrustRoot, Vec<u8>)>,
        notes: Vec<LoadNote>,
    ) -> Self {
        loaded.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        let mut canonical = Vec::new();
        let named = loaded
            .iter()
            .map(|(p, bytes)| (p.name.as_str(), bytes))
            .chain(
                roots
                    .iter()
                    .map(|(name, (_, bytes))| (name.as_str(), bytes)),
            );
        for (i, (name, bytes)) in named.enumerate() {
            // Policies and TrustRoots are separate namespaces: the kind is hashed too.
            canonical.push(if i < loaded.len() { b'P' } else { b'T' });
            canonical.extend_from_slice(name.as_bytes());
            canonical.push(0);
            canonical.extend_from_slice(bytes);
            canonical.push(b'\n');
        }
        PolicySet {
            generation: Generation(Digest::sha256_of(&canonical)),
            policies: loaded.into_iter().map(|(p, _)| p).collect(),
            trust_roots: roots.into_iter().map(|(n, (r, _))| (n, r)).collect(),
            notes,
        }
    }
}

/// One YAML document of a file.
struct DocumentText<'a> {
    number: usize,
    line: usize,
    text: &'a str,
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
}

/// Whether a line carries no content: blank, a comment, or a directive (`%YAML`).
fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || line.starts_with('%')
}

/// Splits a YAML stream into documents at `---` and `...` lines. A marker at the start
/// of a line always separates documents in YAML (it may not appear inside a scalar), so
/// this split is exact. Documents with no content are dropped and not numbered.
fn split_documents(text: &str) -> Vec<DocumentText<'_>> {
    let mut docs: Vec<DocumentText<'_>> = Vec::new();
    let mut push = |from: usize, to: usize, line: usize| {
        let number = docs.len() + 1;
        docs.push(DocumentText {
            number,
            line,
            text: &text[from..to],
        });
    };
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut has_content = false;
    let mut after_marker = false;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let line_no = i + 1;
        let bare = line.trim_end_matches(['\n', '\r']);
        if is_marker(bare, "---") {
            if has_content {
                push(start, offset, start_line);
            }
            start = offset;
            start_line = line_no;
            after_marker = true;
            // Content after the marker on the same line (`--- {a: 1}`).
            has_content = bare[3..]
                .split('#')
                .next()
                .is_some_and(|r| !r.trim().is_empty());
        } else if is_marker(bare, "...") {
            if has_content {
                push(start, offset, start_line);
            }
            start = offset + line.len();
            start_line = line_no + 1;
            has_content = false;
            after_marker = false;
        } else if !is_blank(bare) {
            if !has_content && !after_marker {
                start_line = line_no;
            }
            has_content = true;
        }
        offset += line.len();
    }
    if has_content {
        push(start, text.len(), start_line);
    }
    docs
}

fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    options
}

/// The field named in errors about a document as a whole.
const DOC: &str = "(document)";

/// Parses and validates one document. Returns the policy or TrustRoot and its canonical
/// bytes, or `None` (errors and notes are in `ctx`).
fn load_document(ctx: &mut Ctx, file_text: &str, text: &str) -> Option<Loaded> {
    let value: Value = match serde_saphyr::from_str_with_options(text, yaml_options()) {
        Ok(v) => v,
        Err(_) => {
            // Parse again with the lines before this document blanked out, so that the
            // parser's line numbers are the file's.
            let before = file_text.len().saturating_sub(text.len());
            let prefix_lines = file_text
                .get(..before)
                .map_or(0, |p| p.matches('\n').count());
            let padded = format!("{}{text}", "\n".repeat(prefix_lines));
            let reason = match serde_saphyr::from_str_with_options::<Value>(&padded, yaml_options())
            {
                Err(e) => e.to_string().replace(
                    ", set DuplicateKeyPolicy in Options if acceptable",
                    ": remove one of them",
                ),
                Ok(_) => "the document does not parse".to_owned(),
            };
            ctx.error(DOC, Problem::Yaml { reason });
            return None;
        }
    };
    if value.is_null() {
        return None;
    }
    let Some(object) = value.as_object() else {
        ctx.error(DOC, Problem::NotAnObject);
        return None;
    };
    let field_str = |name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let kind = field_str("kind");
    let api_version = field_str("apiVersion");
    if kind.is_empty() {
        ctx.error(
            "kind",
            Problem::Missing {
                hint: "kind: ClusterImagePolicy",
            },
        );
        return None;
    }
    if api_version.is_empty() {
        ctx.error(
            "apiVersion",
            Problem::Missing {
                hint: "apiVersion: policy.sigstore.dev/v1beta1",
            },
        );
        return None;
    }
    if kind == "List" || kind.ends_with("List") && object.contains_key("items") {
        ctx.error("kind", Problem::ListNotSupported { kind });
        return None;
    }
    let (group, version) = api_version
        .split_once('/')
        .unwrap_or(("", api_version.as_str()));
    if kind == TRUST_ROOT_KIND && group == POLICY_GROUP {
        return load_trust_root(ctx, version, &api_version, value);
    }
    if kind != POLICY_KIND || group != POLICY_GROUP {
        ctx.note(Note::SkippedKind { api_version, kind });
        return None;
    }
    if !matches!(version, "v1alpha1" | "v1beta1") {
        ctx.error(
            "apiVersion",
            Problem::UnknownApiVersion { found: api_version },
        );
        return None;
    }
    if let Some(name) = object
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        ctx.policy = Some(name.to_owned());
    }
    let doc: wire::PolicyDocument =
        parse_named(ctx, value, "a policy name", |d: &wire::PolicyDocument| {
            &d.metadata.name
        })?;
    let errors_before = ctx.errors.len();
    let policy = validate_spec(ctx, &doc.metadata.name, &doc.spec);
    if ctx.errors.len() > errors_before {
        return None;
    }
    let canonical = serde_json::to_vec(&(version, &doc.spec)).unwrap_or_default();
    policy.map(|p| Loaded::Policy(p, canonical))
}

/// The TrustRoot branch of [`load_document`].
fn load_trust_root(
    ctx: &mut Ctx,
    version: &str,
    api_version: &str,
    value: Value,
) -> Option<Loaded> {
    if version != "v1alpha1" {
        ctx.error(
            "apiVersion",
            Problem::UnknownApiVersion {
                found: api_version.to_owned(),
            },
        );
        return None;
    }
    let doc: TrustRootDocument =
        parse_named(ctx, value, "a TrustRoot name", |d: &TrustRootDocument| {
            &d.metadata.name
        })?;
    ctx.policy = Some(doc.metadata.name.clone());
    validate_trust_root(ctx, &doc).map(|(r, c)| Loaded::TrustRoot(r, c))
}

/// Deserializes a document, reporting a schema error at its field, or an empty
/// `metadata.name` (`hint` says what the name is for).
fn parse_named<T: serde::de::DeserializeOwned>(
    ctx: &mut Ctx,
    value: Value,
    hint: &'static str,
    name: impl Fn(&T) -> &str,
) -> Option<T> {
    let doc: T = match serde_path_to_error::deserialize(value) {
        Ok(d) => d,
        Err(e) => {
            schema_error(ctx, e);
            return None;
        }
    };
    if name(&doc).is_empty() {
        ctx.error("metadata.name", Problem::Missing { hint });
        return None;
    }
    Some(doc)
}

/// Reports a serde error at the field it names.
fn schema_error(ctx: &mut Ctx, e: serde_path_to_error::Error<serde_json::Error>) {
    let path = e.path().to_string();
    let reason = e.into_inner().to_string();
    // serde reports a missing field at its parent: name the field itself.
    let missing = reason
        .strip_prefix("missing field `")
        .and_then(|r| r.split_once('`'))
        .map(|(name, _)| name.to_owned());
    let field = match (path.as_str(), missing) {
        (".", Some(name)) => name,
        (".", None) => DOC.to_owned(),
        (_, Some(name)) => format!("{path}.{name}"),
        (_, None) => path,
    };
    ctx.error(field, Problem::Schema { reason });
}

#[cfg(test)]
mod split_tests {
    use super::split_documents;

    fn docs(text: &str) -> Vec<(usize, usize, String)> {
        split_documents(text)
            .into_iter()
            .map(|d| (d.number, d.line, d.text.trim().to_owned()))
            .collect()
    }

    #[test]
    fn splits_at_markers_and_numbers_non_empty_documents() {
        let text = "# header\n---\na: 1\n---\n# only a comment\n---\nb: 2\n...\n--- {c: 3}\n---\n";
        assert_eq!(
            docs(text),
            [
                (1, 2, "---\na: 1".to_owned()),
                (2, 6, "---\nb: 2".to_owned()),
                (3, 9, "--- {c: 3}".to_owned()),
            ]
        );
        assert_eq!(docs("a: 1\n"), [(1, 1, "a: 1".to_owned())]);
        assert_eq!(docs("\n\n  \n# x\n"), []);
        assert_eq!(
            docs("\n\nkey: |\n  ---not a marker\n"),
            [(1, 3, "key: |\n  ---not a marker".to_owned())]
        );
        assert_eq!(docs("---a: 1\n").len(), 1, "---a is not a marker");
    }
}
