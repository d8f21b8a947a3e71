#!/usr/bin/env bash
# test-env.sh - local OCI registries + deterministic sample images for signet's tests.
#
# Everything comes from Debian apt (no other network): distribution 2.8 ("docker-registry"),
# busybox-static for image content, cosign/oras from Debian trixie .debs (extracted only).
#
# Usage: scripts/test-env.sh <command>
#   deps            apt-get install what the tests need (apt-get update only if something is missing)
#   tools           cosign 2.5 + oras 1.2 from trixie .debs into $SIGNET_TEST_CACHE/bin (system untouched)
#   start           plain HTTP registry (:15000, access log) + TLS/basic-auth registry (:15443)
#                   + in-memory registry with the OCI 1.1 referrers API (:15020, "refreg":
#                   go-containerregistry built from Debian source, see refreg_src)
#   status          exit 0 if all three registries answer
#   images          build the deterministic OCI layout (refs a, b, multi) in $SIGNET_TEST_DIR/oci
#   push            push the layout to both registries and check the digests
#   reset-images    restore the demo tags after tests mutated them (same as push; cheap when blobs exist)
#   many N [REPO]   push N distinct small images REPO:0..N-1 (default demo/many) to the plain
#                   registry (SIGNET_REG_PORT) -> many.txt
#   ggcr            build and start go-containerregistry's in-memory registry on :15010
#                   (SIGNET_GGCR_PORT), for throughput benchmarks
#   refreg          build (cached) and start only the referrers registry
#   oracles         sigstore-python (PyPI) and @sigstore/verify (npm) into $SIGNET_TEST_CACHE/oracles
#   env             write and print $SIGNET_TEST_DIR/env.sh
#   up              deps + tools + start + images + push + oracles + env (what CI runs)
#   stop [--purge]  stop the registries (by PID file); --purge also deletes $SIGNET_TEST_DIR
#
# Settings: SIGNET_TEST_DIR (/tmp/signet-test-env), SIGNET_TEST_CACHE (/tmp/signet-test-cache),
#           SIGNET_REG_PORT (15000), SIGNET_TLS_REG_PORT (15443), SIGNET_REFERRERS_REG_PORT (15020),
#           SIGNET_DEBIAN_MIRROR (http://deb.debian.org/debian, for the trixie tools).
set -euo pipefail

DIR=${SIGNET_TEST_DIR:-/tmp/signet-test-env}
CACHE=${SIGNET_TEST_CACHE:-/tmp/signet-test-cache}
PORT=${SIGNET_REG_PORT:-15000}
TLS_PORT=${SIGNET_TLS_REG_PORT:-15443}
GGCR_PORT=${SIGNET_GGCR_PORT:-15010}
REF_PORT=${SIGNET_REFERRERS_REG_PORT:-15020}
MIRROR=${SIGNET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST=127.0.0.1
TLS_USER=ci
TLS_PASSWORD=secret
OCI="$DIR/oci"
CERT="$DIR/tls/registry.crt"

MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_INDEX=application/vnd.oci.image.index.v1+json
MT_CONFIG=application/vnd.oci.image.config.v1+json
MT_LAYER=application/vnd.oci.image.layer.v1.tar+gzip

log() { printf '[test-env] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The registries are named by their subdirectory: "http" (plain), "tls" and "ref" (plain,
# with the referrers API).
reg_port() { case $1 in tls) echo "$TLS_PORT" ;; ref) echo "$REF_PORT" ;; *) echo "$PORT" ;; esac; }
reg_url() { if [ "$1" = tls ]; then echo "https://$HOST:$TLS_PORT"; else echo "http://$HOST:$(reg_port "$1")"; fi; }
rcurl() { # rcurl http|tls CURL_ARGS...
  local r=$1; shift
  if [ "$r" = tls ]; then
    curl -sS --cacert "$CERT" -u "$TLS_USER:$TLS_PASSWORD" "$@"
  else
    curl -sS "$@"
  fi
}
sha256_of() { printf 'sha256:%s' "$(sha256sum "$1" | cut -d' ' -f1)"; }

# ------------------------------------------------------------------------ deps
cmd_deps() {
  local want=(docker-registry busybox-static apache2-utils openssl curl jq skopeo ca-certificates)
  local missing=() p
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "deps: all present"; return; fi
  log "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Without systemd the packaged docker-registry service does not start; with systemd it
  # listens on :5000 (its own config), which does not clash with our ports.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ----------------------------------------------------------------------- tools
# Private apt state for Debian trixie: own sources.list, lists, cache and an empty dpkg
# status, so `apt-get download` works without touching the system's apt configuration.
apt_trixie() {
  local a="$CACHE/apt-trixie" arch; arch=$(dpkg --print-architecture)
  mkdir -p "$a/lists/partial" "$a/archives/partial" "$a/sources.list.d" "$a/dl"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$MIRROR" > "$a/sources.list"
  APT_O=(-o APT::Architecture="$arch" -o APT::Architectures::="$arch"
         -o Dir::State::Lists="$a/lists" -o Dir::State::status=/dev/null
         -o Dir::Cache="$a" -o Dir::Cache::archives="$a/archives"
         -o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts="$a/sources.list.d"
         -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  timeout 300 apt-get -qq "${APT_O[@]}" update >/dev/null
}

# go-containerregistry's pkg/registry, built from trixie's -dev package (source) with
# bookworm's golang-go in GOPATH mode: the package imports only the stdlib and ggcr
# itself, so no module proxy is needed.
ggcr_prereqs() { # installs golang-go and unpacks the ggcr source into $CACHE/ggcr-src
  local src="$CACHE/ggcr-src"
  if ! command -v go > /dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go > /dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go > /dev/null; }
  fi
  if [ ! -d "$src/usr/share/gocode" ]; then
    [ -n "${APT_O+x}" ] || apt_trixie
    rm -f "$CACHE/apt-trixie/dl/"golang-github-google-go-containerregistry-dev_*.deb
    (cd "$CACHE/apt-trixie/dl" && timeout 300 apt-get -qq "${APT_O[@]}" download golang-github-google-go-containerregistry-dev > /dev/null)
    rm -rf "$src"; dpkg-deb -x "$CACHE/apt-trixie/dl/"golang-github-google-go-containerregistry-dev_*.deb "$src"
  fi
}

ggcr_build() { # ggcr_build BIN: builds the Go program on stdin against ggcr into BIN
  local out=$1 b; ggcr_prereqs
  b=$(mktemp -d "$CACHE/ggcr-build.XXXXXX"); mkdir -p "$b/src/main"
  cat > "$b/src/main/main.go"
  # No -trimpath and cgo as installed: then Debian's precompiled stdlib is reused and a
  # cold build takes ~2 s instead of ~30 s. Without a C compiler cgo must be off (Go 1.19
  # would try to rebuild net with gcc), which costs the stdlib rebuild once (GOCACHE).
  local cgo=0; command -v gcc > /dev/null && cgo=1
  (cd "$b/src/main" && GO111MODULE=off GOFLAGS= CGO_ENABLED=$cgo GOPATH="$b:$CACHE/ggcr-src/usr/share/gocode" \
     GOCACHE="$CACHE/go-cache" go build -ldflags=-s -o "$out.tmp" .) || { rm -rf "$b"; die "building $out failed"; }
  mv -f "$out.tmp" "$out"; rm -rf "$b"
}

# The plain in-memory registry, for throughput benchmarks: its per-request CPU cost is
# far below distribution's. Listens on $GGCR_PORT.
cmd_ggcr() {
  local bin="$CACHE/bin/ggcr-registry"
  mkdir -p "$CACHE/bin"
  if [ ! -x "$bin" ]; then
    ggcr_build "$bin" <<'GO'
// A plain in-memory OCI registry for benchmarks: go-containerregistry's pkg/registry.
package main

import (
	"io"
	"log"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	log.Fatal(http.ListenAndServe(os.Args[1], registry.New(registry.Logger(log.New(io.Discard, "", 0)))))
}
GO
  fi
  mkdir -p "$DIR/ggcr"
  if curl -fs "http://$HOST:$GGCR_PORT/v2/" > /dev/null 2>&1; then log "ggcr registry already up on $HOST:$GGCR_PORT"; return; fi
  port_busy "$GGCR_PORT" && die "port $GGCR_PORT is in use by something else"
  setsid "$bin" "$HOST:$GGCR_PORT" > "$DIR/ggcr/registry.log" 2>&1 < /dev/null & echo $! > "$DIR/ggcr/pid"
  local i; for i in $(seq 100); do curl -fs "http://$HOST:$GGCR_PORT/v2/" > /dev/null 2>&1 && break; sleep 0.05; done
  curl -fs "http://$HOST:$GGCR_PORT/v2/" > /dev/null || die "ggcr registry did not start"
  log "ggcr in-memory registry on $HOST:$GGCR_PORT"
}

# "refreg": ggcr's in-memory registry with WithReferrersSupport(true), behind a wrapper
# that serves the referrers API per the distribution spec v1.1 (ggcr alone reports
# config.mediaType as artifactType, drops annotations, ignores ?artifactType=, answers
# in random order and sends no OCI-Subject). Listens on $REF_PORT, plain HTTP.
REFREG_BIN="$CACHE/bin/ggcr-refreg"
refreg_src() {
  cat <<'GO'
// refreg: an in-memory OCI registry with a spec-correct OCI 1.1 referrers API, for
// signet's tests. Blobs, manifests and tags are go-containerregistry's pkg/registry
// (with WithReferrersSupport); this wrapper does what that package's referrers
// endpoint does not do per the distribution spec v1.1:
//
//   - artifactType is the manifest's own artifactType, else its config.mediaType;
//   - descriptor annotations are copied from the manifest;
//   - ?artifactType= filters the list and sets "OCI-Filters-Applied: artifactType";
//   - entries are sorted by digest; an unknown repository is an empty list, not a 404;
//   - a manifest PUT with a subject answers 201 with "OCI-Subject: <subject digest>";
//   - a PUT by digest must hash to that digest.
//
// Deleting a manifest by digest removes it from ggcr's store, and so from the lists.
//
// Usage: ggcr-refreg HOST:PORT
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
)

const (
	indexType       = "application/vnd.oci.image.index.v1+json"
	maxManifestSize = 4 << 20
)

var digestRE = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)

type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// The parts of a manifest the referrers API reports.
type referrerFields struct {
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
	Config       struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Subject *struct {
		Digest string `json:"digest"`
	} `json:"subject"`
	Annotations map[string]string `json:"annotations"`
}

type server struct{ inner http.Handler }

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string][]map[string]string{
		"errors": {{"code": code, "message": message}},
	})
}

// route splits /v2/<name>/<kind>/<reference>.
func route(path string) (name, kind, ref string, ok bool) {
	if !strings.HasPrefix(path, "/v2/") {
		return "", "", "", false
	}
	parts := strings.Split(strings.TrimPrefix(path, "/v2/"), "/")
	if len(parts) < 3 {
		return "", "", "", false
	}
	n := len(parts)
	return strings.Join(parts[:n-2], "/"), parts[n-2], parts[n-1], true
}

// call runs a request against the wrapped registry and returns its recorded answer.
func (s *server) call(orig *http.Request, method, path string, body []byte) *httptest.ResponseRecorder {
	r := orig.Clone(orig.Context())
	r.Method = method
	r.URL = &url.URL{Path: path}
	r.RequestURI = path
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, r)
	return rec
}

func forward(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, kind, ref, ok := route(r.URL.Path)
	switch {
	case ok && kind == "referrers" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.referrers(w, r, name, ref)
	case ok && kind == "manifests" && r.Method == http.MethodPut:
		s.putManifest(w, r, name, ref)
	default:
		s.inner.ServeHTTP(w, r)
	}
}

func (s *server) putManifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifestSize+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "reading the body: "+err.Error())
		return
	}
	if len(body) > maxManifestSize {
		writeError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID", "manifest over 4 MiB")
		return
	}
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if strings.Contains(ref, ":") && ref != digest {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "the manifest's sha256 is "+digest+", not "+ref)
		return
	}
	var f referrerFields
	if err := json.Unmarshal(body, &f); err != nil {
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", "not JSON: "+err.Error())
		return
	}
	rec := s.call(r, http.MethodPut, "/v2/"+name+"/manifests/"+ref, body)
	if rec.Code == http.StatusCreated && f.Subject != nil && f.Subject.Digest != "" {
		rec.Header().Set("OCI-Subject", f.Subject.Digest)
	}
	forward(w, rec)
}

func (s *server) referrers(w http.ResponseWriter, r *http.Request, name, subject string) {
	if !digestRE.MatchString(subject) {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "not a digest: "+subject)
		return
	}
	list := index{SchemaVersion: 2, MediaType: indexType, Manifests: []descriptor{}}
	rec := s.call(r, http.MethodGet, "/v2/"+name+"/referrers/"+subject, nil)
	switch rec.Code {
	case http.StatusOK:
		var found index
		if err := json.Unmarshal(rec.Body.Bytes(), &found); err != nil {
			writeError(w, http.StatusInternalServerError, "UNKNOWN", "inner referrers list: "+err.Error())
			return
		}
		for _, d := range found.Manifests {
			m := s.call(r, http.MethodGet, "/v2/"+name+"/manifests/"+d.Digest, nil)
			if m.Code != http.StatusOK {
				continue // deleted since the list was made
			}
			var f referrerFields
			if json.Unmarshal(m.Body.Bytes(), &f) != nil || f.Subject == nil || f.Subject.Digest != subject {
				continue
			}
			at := f.ArtifactType
			if at == "" {
				at = f.Config.MediaType
			}
			mt := m.Header().Get("Content-Type")
			if mt == "" {
				mt = f.MediaType
			}
			list.Manifests = append(list.Manifests, descriptor{
				MediaType:    mt,
				Digest:       d.Digest,
				Size:         int64(m.Body.Len()),
				ArtifactType: at,
				Annotations:  f.Annotations,
			})
		}
	case http.StatusNotFound: // unknown repository: nothing refers to anything in it
	default:
		forward(w, rec)
		return
	}
	if want, filtered := r.URL.Query()["artifactType"]; filtered {
		kept := list.Manifests[:0]
		for _, d := range list.Manifests {
			for _, t := range want {
				if d.ArtifactType == t {
					kept = append(kept, d)
					break
				}
			}
		}
		list.Manifests = kept
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	sort.Slice(list.Manifests, func(i, j int) bool { return list.Manifests[i].Digest < list.Manifests[j].Digest })
	out, err := json.Marshal(list)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	w.Header().Set("Content-Type", indexType)
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(out)
	}
}

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: ggcr-refreg HOST:PORT")
	}
	inner := registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	log.Printf("refreg listening on %s", os.Args[1])
	log.Fatal(http.ListenAndServe(os.Args[1], &server{inner: inner}))
}
GO
}

# The cached binary is rebuilt when the wrapper's source (or the Go version) changes.
refreg_build() {
  local want; want=$( { refreg_src; go version 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)
  if [ -x "$REFREG_BIN" ] && [ "$(cat "$REFREG_BIN.src-sha256" 2>/dev/null)" = "$want" ]; then return; fi
  local t0=$SECONDS
  mkdir -p "$CACHE/bin"
  refreg_src | ggcr_build "$REFREG_BIN"
  # go may have just been installed: hash again so the next run finds the same key.
  { refreg_src; go version; } | sha256sum | cut -d' ' -f1 > "$REFREG_BIN.src-sha256"
  log "refreg: built $REFREG_BIN in $((SECONDS - t0)) s"
}

refreg_cmd() { printf '%s %s:%s ' "$REFREG_BIN" "$HOST" "$REF_PORT"; }
refreg_pid_ours() {
  local f="$DIR/ref/registry.pid" pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  [ -r "/proc/$pid/cmdline" ] || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && return 1
  [ "$(tr '\0' ' ' < "/proc/$pid/cmdline")" = "$(refreg_cmd)" ]
}

cmd_refreg() {
  refreg_build
  mkdir -p "$DIR/ref"
  if refreg_pid_ours && reg_up ref; then log "ref registry already running (pid $(cat "$DIR/ref/registry.pid")) at $(reg_url ref)"; return; fi
  port_busy "$REF_PORT" && die "port $REF_PORT is taken by something that is not our referrers registry (choose another with SIGNET_REFERRERS_REG_PORT)"
  setsid "$REFREG_BIN" "$HOST:$REF_PORT" >> "$DIR/ref/registry.err" 2>&1 < /dev/null &
  echo $! > "$DIR/ref/registry.pid"
  local _
  for _ in $(seq 1 200); do
    reg_up ref && break
    refreg_pid_ours || { tail -5 "$DIR/ref/registry.err" >&2; die "ref registry exited"; }
    sleep 0.05
  done
  reg_up ref || die "ref registry did not answer on $(reg_url ref)/v2/"
  log "ref registry (referrers API) started (pid $(cat "$DIR/ref/registry.pid")) at $(reg_url ref)"
}

cmd_tools() {
  # cosign/oras are packaged in trixie only; their .debs need just libc6 >= 2.34 (bookworm: 2.36).
  # Debian's cosign is built without version ldflags ("GitVersion: devel"), so the version
  # is taken from the .deb and kept next to the binary.
  local bin="$CACHE/bin" t want v
  mkdir -p "$bin"
  for t in cosign:2.5 oras:1.2; do
    want=${t#*:}; t=${t%%:*}
    if [ -x "$bin/$t" ] && [[ "$(cat "$bin/$t.version" 2>/dev/null)" == "$want".* ]]; then continue; fi
    [ -n "${APT_O+x}" ] || apt_trixie
    rm -f "$CACHE/apt-trixie/dl/${t}"_*.deb
    (cd "$CACHE/apt-trixie/dl" && timeout 300 apt-get -qq "${APT_O[@]}" download "$t" >/dev/null)
    local deb x; deb=$(echo "$CACHE/apt-trixie/dl/${t}"_*.deb); x=$(mktemp -d "$CACHE/x.XXXXXX")
    v=$(dpkg-deb -f "$deb" Version)
    [[ $v == "$want".* ]] || die "$t in trixie is $v, expected $want.x"
    dpkg-deb -x "$deb" "$x"
    install -m 0755 "$x/usr/bin/$t" "$bin/$t"
    echo "$v" > "$bin/$t.version"
    rm -rf "$x" "$deb"
  done
  # Make sure both actually run on this libc.
  "$bin/cosign" version > /dev/null 2>&1 || die "$bin/cosign does not run"
  "$bin/oras" version > /dev/null 2>&1 || die "$bin/oras does not run"
  log "tools: cosign $(cat "$bin/cosign.version"), oras $(cat "$bin/oras.version") (Debian trixie) in $bin"
}

# ----------------------------------------------------------------------- start
# A PID counts as ours only if its command line is exactly what we started (PIDs get reused).
reg_cmd() { printf 'docker-registry serve %s/%s/config.yml ' "$DIR" "$1"; }
reg_pid_ours() { # reg_pid_ours http|tls -> 0 if the PID file names our live registry
  local f="$DIR/$1/registry.pid" pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  [ -r "/proc/$pid/cmdline" ] || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && return 1
  [ "$(tr '\0' ' ' < "/proc/$pid/cmdline")" = "$(reg_cmd "$1")" ]
}
reg_up() { # 200 (plain) or 200 with credentials (tls) on /v2/
  [ "$(rcurl "$1" -o /dev/null --max-time 2 -w '%{http_code}' "$(reg_url "$1")/v2/" 2>/dev/null)" = 200 ]
}
port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

write_config() { # write_config http|tls
  local d="$DIR/$1" extra=""
  if [ "$1" = tls ]; then
    extra="  tls:
    certificate: $CERT
    key: $DIR/tls/registry.key
auth:
  htpasswd:
    realm: signet-test
    path: $d/htpasswd"
  fi
  # The access log (gorilla combined format) goes to stdout, app logs to stderr; keeping
  # them apart leaves registry.log with exactly one line per request for the benchmarks.
  cat > "$d/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $d/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $HOST:$(reg_port "$1")
  secret: signet-test-not-a-secret
$extra
YAML
}

make_cert() {
  [ -s "$CERT" ] && return
  # CA:FALSE matters: openssl's default self-signed cert is CA:TRUE, which curl and Go
  # accept but rustls rejects as a server certificate (CaUsedAsEndEntity).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$DIR/tls/registry.key" -out "$CERT" -days 3650 -subj "/CN=localhost" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" \
    -addext "extendedKeyUsage=serverAuth" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
}

start_one() { # start_one http|tls
  local r=$1 d="$DIR/$1" port; port=$(reg_port "$1")
  if reg_pid_ours "$r"; then
    wait_up "$r"; log "$r registry already running (pid $(cat "$d/registry.pid")) at $(reg_url "$r")"; return
  fi
  if port_busy "$port"; then
    die "port $port is taken by something that is not our $r registry (choose another with SIGNET_REG_PORT / SIGNET_TLS_REG_PORT)"
  fi
  mkdir -p "$d/storage"
  if [ "$r" = tls ]; then
    make_cert
    htpasswd -Bbn "$TLS_USER" "$TLS_PASSWORD" > "$d/htpasswd"  # distribution only takes bcrypt
  fi
  write_config "$r"
  # setsid: own session, so Ctrl-C or the CI job's process group does not kill it.
  # Append (>>) so tests may truncate registry.log between measurements.
  setsid docker-registry serve "$d/config.yml" >> "$d/registry.log" 2>> "$d/registry.err" < /dev/null &
  echo $! > "$d/registry.pid"
  wait_up "$r"
  log "$r registry started (pid $(cat "$d/registry.pid")) at $(reg_url "$r")"
}

wait_up() {
  local _
  for _ in $(seq 1 200); do
    reg_up "$1" && return
    reg_pid_ours "$1" || { tail -5 "$DIR/$1/registry.err" >&2; die "$1 registry exited"; }
    sleep 0.05
  done
  die "$1 registry did not answer on $(reg_url "$1")/v2/ (see $DIR/$1/registry.err)"
}

cmd_start() {
  command -v docker-registry > /dev/null || die "docker-registry missing (run: $0 deps)"
  command -v htpasswd > /dev/null || die "htpasswd missing (run: $0 deps)"
  mkdir -p "$DIR/http" "$DIR/tls"
  touch "$DIR/.signet-test-env"  # marker: stop --purge only deletes dirs that carry it
  start_one http
  start_one tls
  cmd_refreg
}

cmd_status() {
  local r rc=0
  for r in http tls; do
    if reg_pid_ours "$r" && reg_up "$r"; then echo "$r: up at $(reg_url "$r")"; else echo "$r: down"; rc=1; fi
  done
  if refreg_pid_ours && reg_up ref; then echo "ref: up at $(reg_url ref) (referrers API)"; else echo "ref: down"; rc=1; fi
  return $rc
}

cmd_stop() {
  local r pid _
  for r in http tls; do
    if reg_pid_ours "$r"; then
      pid=$(cat "$DIR/$r/registry.pid")
      kill "$pid"
      for _ in $(seq 1 100); do reg_pid_ours "$r" || break; sleep 0.05; done
      if reg_pid_ours "$r"; then kill -9 "$pid"; fi
      log "stopped $r registry (pid $pid)"
    else
      log "$r registry not running"
    fi
    rm -f "$DIR/$r/registry.pid"
  done
  # the benchmark-only ggcr registry, if it was started
  if [ -f "$DIR/ggcr/pid" ]; then
    pid=$(cat "$DIR/ggcr/pid")
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "ggcr-registry $HOST:$GGCR_PORT"; then
      kill "$pid"; log "stopped ggcr registry (pid $pid)"
    fi
    rm -f "$DIR/ggcr/pid"
  fi
  if refreg_pid_ours; then
    pid=$(cat "$DIR/ref/registry.pid"); kill "$pid"
    for _ in $(seq 1 100); do refreg_pid_ours || break; sleep 0.05; done
    if refreg_pid_ours; then kill -9 "$pid"; fi
    log "stopped ref registry (pid $pid)"
  fi
  rm -f "$DIR/ref/registry.pid"
  if [ "${1:-}" = --purge ] && [ -d "$DIR" ]; then
    [ -e "$DIR/.signet-test-env" ] || die "refusing to delete $DIR: not created by this script"
    rm -rf "$DIR"; log "purged $DIR"
  fi
}

# ---------------------------------------------------------------------- images
# Deterministic: fixed mtimes/owners/order, gzip -n, hand-written JSON. Same busybox-static
# version => same digests on every machine.
blob_in() { # blob_in FILE -> moves FILE into the layout, prints "digest size"
  local d s; d=$(sha256_of "$1"); s=$(stat -c %s "$1")
  mv -f "$1" "$OCI/blobs/sha256/${d#sha256:}"
  echo "$d $s"
}
mk_layer() { # mk_layer ROOTFS -> "digest size diff_id"
  local t; t=$(mktemp "$DIR/tmp.XXXXXX")
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -C "$1" -cf "$t" .
  local diff; diff=$(sha256_of "$t")
  gzip -n -9 -c "$t" > "$t.gz"; rm -f "$t"
  echo "$(blob_in "$t.gz") $diff"
}
file_layer() { # file_layer PATH TEXT -> layer with one file
  local r; r=$(mktemp -d "$DIR/tmp.XXXXXX")
  printf '%s\n' "$2" > "$r/$1"; chmod 0644 "$r/$1"; chmod 0755 "$r"
  mk_layer "$r"; rm -rf "$r"
}
busybox_layer() {
  local r a; r=$(mktemp -d "$DIR/tmp.XXXXXX")
  mkdir -p "$r/bin" "$r/etc" "$r/tmp"
  install -m 0755 /bin/busybox "$r/bin/busybox"
  for a in sh ls cat echo env sleep true; do ln -s busybox "$r/bin/$a"; done
  printf 'root:x:0:0:root:/:/bin/sh\n' > "$r/etc/passwd"
  chmod 0644 "$r/etc/passwd"; chmod 1777 "$r/tmp"; chmod 0755 "$r" "$r/bin" "$r/etc"
  mk_layer "$r"; rm -rf "$r"
}
mk_image() { # mk_image ARCH VARIANT TITLE "LAYER;LAYER..." -> "digest size"
  local arch=$1 variant=$2 title=$3 l d s diff descs="" diffs="" t
  local IFS=';'
  for l in $4; do
    IFS=' ' read -r d s diff <<< "$l"
    descs+="${descs:+,}{\"mediaType\":\"$MT_LAYER\",\"digest\":\"$d\",\"size\":$s}"
    diffs+="${diffs:+,}\"$diff\""
  done
  unset IFS
  t=$(mktemp "$DIR/tmp.XXXXXX")
  printf '{"architecture":"%s",%s"os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh","-c","cat /hello.txt"],"Labels":{"org.opencontainers.image.title":"%s"}},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$arch" "${variant:+\"variant\":\"$variant\",}" "$title" "$diffs" > "$t"
  read -r d s <<< "$(blob_in "$t")"
  t=$(mktemp "$DIR/tmp.XXXXXX")
  printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%s},"layers":[%s]}' \
    "$MT_MANIFEST" "$MT_CONFIG" "$d" "$s" "$descs" > "$t"
  blob_in "$t"
}

cmd_images() {
  [ -x /bin/busybox ] || die "/bin/busybox missing (run: $0 deps)"
  ldd /bin/busybox > /dev/null 2>&1 && die "/bin/busybox is dynamic; busybox-static is needed"
  mkdir -p "$DIR"; touch "$DIR/.signet-test-env"
  rm -rf "$OCI"; mkdir -p "$OCI/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$OCI/oci-layout"
  local base la lb lx A B X I
  base=$(busybox_layer)
  la=$(file_layer hello.txt "hello from signet test image A")
  lb=$(file_layer hello.txt "hello from signet test image B")
  lx=$(file_layer README "arm64 placeholder: not runnable")
  A=$(mk_image amd64 "" signet-test-a "$base;$la")
  B=$(mk_image amd64 "" signet-test-b "$base;$lb")
  X=$(mk_image arm64 v8 signet-test-arm64-placeholder "$lx")
  local t; t=$(mktemp "$DIR/tmp.XXXXXX")
  printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"%s","digest":"%s","size":%s,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}' \
    "$MT_INDEX" "$MT_MANIFEST" "${A% *}" "${A#* }" "$MT_MANIFEST" "${X% *}" "${X#* }" > "$t"
  I=$(blob_in "$t")
  local ref="org.opencontainers.image.ref.name"
  printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%s,"annotations":{"%s":"a"}},{"mediaType":"%s","digest":"%s","size":%s,"annotations":{"%s":"b"}},{"mediaType":"%s","digest":"%s","size":%s,"annotations":{"%s":"multi"}}]}\n' \
    "$MT_INDEX" "$MT_MANIFEST" "${A% *}" "${A#* }" "$ref" "$MT_MANIFEST" "${B% *}" "${B#* }" "$ref" \
    "$MT_INDEX" "${I% *}" "${I#* }" "$ref" > "$OCI/index.json"
  log "images: a=${A% *} b=${B% *} multi=${I% *}"
}

layout_digest() { # layout_digest a|b|multi
  [ -s "$OCI/index.json" ] || die "no OCI layout in $OCI (run: $0 images)"
  jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$OCI/index.json"
}

# ------------------------------------------------------------------------ push
# Plain curl: same bytes as the layout, so digests are preserved, and no skopeo needed.
blob_path() { echo "$OCI/blobs/sha256/${1#sha256:}"; }

media_type() { # media_type FILE: first "mediaType" in our own hand-written JSON = the top-level one
  [[ $(< "$1") =~ \"mediaType\":\"([^\"]+)\" ]] && echo "${BASH_REMATCH[1]}"
}

push_blob() { # push_blob REG REPO DIGEST
  local r=$1 repo=$2 d=$3 url res loc code; url=$(reg_url "$r")
  # Try a cross-repo mount from demo/app first (201 = done, no upload); otherwise the
  # registry opens an upload session (202). 2.8 ignores a body on POST ?digest=, so the
  # data always goes in a PUT ?digest=.
  res=$(rcurl "$r" -o /dev/null -X POST -w '%{http_code} %header{location}' \
    "$url/v2/$repo/blobs/uploads/?mount=$d&from=demo/app")
  [ "${res%% *}" = 201 ] && return
  loc=${res#* }
  if [ "${res%% *}" != 202 ] || [ -z "$loc" ]; then die "blob upload POST $repo on $r -> $res"; fi
  case $loc in http*) ;; *) loc="$url$loc" ;; esac
  case $loc in *\?*) loc+="&digest=$d" ;; *) loc+="?digest=$d" ;; esac
  # Without octet-stream curl sends form-urlencoded and Go's FormValue swallows the body.
  code=$(rcurl "$r" -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
    --data-binary @"$(blob_path "$d")" "$loc")
  [ "$code" = 201 ] || die "blob PUT $repo@$d on $r -> $code"
}

put_manifest() { # put_manifest REG REPO REF DIGEST -> "HTTP-code Docker-Content-Digest"
  local f; f=$(blob_path "$4")
  rcurl "$1" -o "$DIR/last-put.json" -w '%{http_code} %header{docker-content-digest}' -X PUT \
    -H "Content-Type: $(media_type "$f")" --data-binary @"$f" "$(reg_url "$1")/v2/$2/manifests/$3"
}

push_tree() { # push_tree REG REPO REF DIGEST: manifest/index DIGEST plus what it needs, as REF
  local r=$1 repo=$2 ref=$3 d=$4 f c res; f=$(blob_path "$d")
  if [ "$(media_type "$f")" = "$MT_INDEX" ]; then
    for c in $(jq -r '.manifests[].digest' "$f"); do push_tree "$r" "$repo" "$c" "$c"; done
  else
    # Manifest first: when the blobs are already there (reset-images) that is the only request.
    [ "$(put_manifest "$r" "$repo" "$ref" "$d")" = "201 $d" ] && return
    for c in $(jq -r '.config.digest, .layers[].digest' "$f"); do push_blob "$r" "$repo" "$c"; done
  fi
  # The registry's Docker-Content-Digest must equal ours: proves the bytes were kept.
  res=$(put_manifest "$r" "$repo" "$ref" "$d")
  [ "$res" = "201 $d" ] || die "manifest PUT $repo:$ref on $r -> $res (want 201 $d) $(cat "$DIR/last-put.json")"
}

push_all() {
  local A B I; A=$(layout_digest a); B=$(layout_digest b); I=$(layout_digest multi)
  local r repo tag d
  # "registry repo:tag digest" lines: the fixtures the tests rely on.
  while read -r r repo d; do
    tag=${repo#*:}; repo=${repo%:*}
    # The referrers registry is in memory: re-pushed whenever it runs (after `start`).
    if [ "$r" = ref ] && ! reg_up ref; then continue; fi
    push_tree "$r" "$repo" "$tag" "$d"
  done <<LIST
http demo/app:v1 $A
http demo/app:latest $A
http demo/app:v2 $B
http demo/other:v1 $B
http demo/multi:v1 $I
tls demo/app:v1 $A
tls demo/other:v1 $B
ref demo/app:v1 $A
ref demo/app:latest $A
ref demo/app:v2 $B
ref demo/other:v1 $B
ref demo/multi:v1 $I
LIST
  log "pushed: A=$A B=$B index=$I"
}

cmd_push() {
  { reg_up http && reg_up tls; } || die "registries not running (run: $0 start)"
  [ -s "$OCI/index.json" ] || cmd_images
  push_all
}

# ------------------------------------------------------------------------ many
# N distinct single-layer images in one repo (python3 with keep-alive connections:
# 5 requests per image; curl would fork a process per request).
cmd_many() {
  local n=${1:-} repo=${2:-demo/many}
  [[ $n =~ ^[0-9]+$ ]] || die "usage: $0 many N [REPO]"
  [[ $repo =~ ^[a-z0-9][a-z0-9._/-]*$ ]] || die "many: bad repository name $repo"
  reg_up http || die "plain registry not running (run: $0 start)"
  python3 - "$HOST" "$PORT" "$n" "$DIR/many.txt" "$repo" <<'PY'
import concurrent.futures, gzip, hashlib, http.client, io, json, sys, tarfile, threading, urllib.parse

host, port, n, out, repo = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
local = threading.local()

def req(method, path, body=None, headers=None, want=(200, 201, 202)):
    if not hasattr(local, "conn"):
        local.conn = http.client.HTTPConnection(host, port, timeout=60)
    local.conn.request(method, path, body=body, headers=headers or {})
    r = local.conn.getresponse()
    data = r.read()  # drain, or the connection cannot be reused
    if r.status not in want:
        raise RuntimeError(f"{method} {path} -> {r.status} {data[:300]!r}")
    return r

def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

def push_blob(b):
    d = sha(b)
    loc = req("POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
    u = urllib.parse.urlsplit(loc)
    q = (u.query + "&" if u.query else "") + "digest=" + d
    req("PUT", f"{u.path}?{q}", b, {"Content-Type": "application/octet-stream"}, want=(201,))
    return d

def js(o):
    return json.dumps(o, separators=(",", ":"), sort_keys=True).encode()

def image(i):  # deterministic: fixed mtime/owner, gzip without timestamp
    text = f"signet many image {i}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        ti = tarfile.TarInfo("many.txt")
        ti.size, ti.mode, ti.mtime = len(text), 0o644, 0
        tf.addfile(ti, io.BytesIO(text))
    tar = buf.getvalue()
    tgz = gzip.compress(tar, compresslevel=9, mtime=0)
    # A config per image keeps rootfs.diff_ids true to the layer (valid, pullable images).
    cfg = js({"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
              "config": {}, "rootfs": {"type": "layers", "diff_ids": [sha(tar)]}})
    man = js({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
              "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                         "digest": push_blob(cfg), "size": len(cfg)},
              "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                          "digest": push_blob(tgz), "size": len(tgz)}]})
    r = req("PUT", f"/v2/{repo}/manifests/{i}", man,
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, want=(201,))
    if r.getheader("Docker-Content-Digest") != sha(man):
        raise RuntimeError(f"digest mismatch for {repo}:{i}")
    return f"{host}:{port}/{repo}:{i} {sha(man)}\n"

# The registry, not the client, is the bottleneck (~4 ms/request): a few connections in parallel.
with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    lines = list(pool.map(image, range(n)))
with open(out, "w") as f:
    f.writelines(lines)
PY
  log "many: pushed $n images to $HOST:$PORT/$repo, list in $DIR/many.txt"
}

# --------------------------------------------------------------------- oracles
# Reference verifiers for the differential tests (crates/signet-conformance/tests/oracles.rs)
# and bench/bundles.py: sigstore-python from PyPI in a venv, and sigstore-js's
# @sigstore/verify from npm, both cached under $CACHE/oracles and pinned (the versions of
# shared/spec/sigstore-interop.md). Their caches and TUF data go to scratch XDG dirs there,
# never to $HOME. Nothing here needs the network once installed.
ORACLE_PY_PKG="sigstore==4.5.1"
ORACLE_JS_PKGS=(@sigstore/verify@4.1.3 @sigstore/bundle@5.0.1 @sigstore/protobuf-specs@0.5.2)
oracle_env() { # the scratch dirs every oracle command runs with
  XDG_CACHE_HOME="$CACHE/oracles/xdg-cache" XDG_DATA_HOME="$CACHE/oracles/xdg-data" \
    PIP_CACHE_DIR="$CACHE/oracles/pip-cache" npm_config_cache="$CACHE/oracles/npm-cache" "$@"
}
cmd_oracles() {
  local o="$CACHE/oracles" t0 t1
  mkdir -p "$o/xdg-cache" "$o/xdg-data"
  t0=$(date +%s%N)
  if [ "$(cat "$o/py/.signet-pkg" 2>/dev/null)" != "$ORACLE_PY_PKG" ]; then
    command -v python3 > /dev/null || die "oracles: python3 missing"
    rm -rf "$o/py"
    if ! python3 -m venv "$o/py" > /dev/null 2>&1; then
      # Debian's python3 keeps venv (ensurepip) in a separate package.
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv > /dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv > /dev/null; }
      rm -rf "$o/py"; python3 -m venv "$o/py" || die "oracles: python3 -m venv failed"
    fi
    oracle_env "$o/py/bin/pip" install -q --disable-pip-version-check --no-input "$ORACLE_PY_PKG" \
      || die "oracles: pip install $ORACLE_PY_PKG failed"
    echo "$ORACLE_PY_PKG" > "$o/py/.signet-pkg"
  fi
  if [ "$(cat "$o/js/.signet-pkgs" 2>/dev/null)" != "${ORACLE_JS_PKGS[*]}" ]; then
    command -v npm > /dev/null || die "oracles: npm missing"
    rm -rf "$o/js"; mkdir -p "$o/js"
    printf '{"name":"signet-oracles","private":true}\n' > "$o/js/package.json"
    # The packages declare node >= 22; the verify API works on node 20 (EBADENGINE is a warning).
    oracle_env npm install --prefix "$o/js" --save-exact --no-audit --no-fund --loglevel=error \
      "${ORACLE_JS_PKGS[@]}" > /dev/null 2>&1 || die "oracles: npm install ${ORACLE_JS_PKGS[*]} failed"
    echo "${ORACLE_JS_PKGS[*]}" > "$o/js/.signet-pkgs"
  fi
  # Both must load, offline.
  oracle_env "$o/py/bin/sigstore" --version > /dev/null 2>&1 || die "oracles: $o/py/bin/sigstore does not run"
  (cd "$o/js" && node -e 'require("@sigstore/verify"); require("@sigstore/bundle"); require("@sigstore/protobuf-specs")') \
    || die "oracles: @sigstore/verify does not load with $(node --version)"
  t1=$(date +%s%N)
  log "oracles: $("$o/py/bin/sigstore" --version 2>&1 | tr -d '\n'), ${ORACLE_JS_PKGS[*]} in $o ($(( (t1 - t0) / 1000000 )) ms)"
}

# ------------------------------------------------------------------------- env
cmd_env() {
  local cosign="$CACHE/bin/cosign" oras="$CACHE/bin/oras" a b multi
  a=$(layout_digest a); b=$(layout_digest b); multi=$(layout_digest multi)
  [ -x "$cosign" ] || cosign=""   # empty = not fetched; tests should skip
  [ -x "$oras" ] || oras=""
  local sigpy="$CACHE/oracles/py/bin/python" sigjs="$CACHE/oracles/js/node_modules"
  [ -x "$CACHE/oracles/py/bin/sigstore" ] || sigpy=""   # empty = no oracles; tests skip
  [ -d "$sigjs/@sigstore/verify" ] || sigjs=""
  local referrers=""; reg_up ref && referrers=$HOST:$REF_PORT   # empty = not running; tests skip
  mkdir -p "$DIR"
  cat > "$DIR/env.sh" <<ENV
export SIGNET_TEST_DIR=$DIR
export SIGNET_TEST_REGISTRY=$HOST:$PORT
export SIGNET_TEST_TLS_REGISTRY=$HOST:$TLS_PORT
export SIGNET_TEST_TLS_CA=$CERT
export SIGNET_TEST_TLS_USER=$TLS_USER
export SIGNET_TEST_TLS_PASSWORD=$TLS_PASSWORD
export SIGNET_TEST_REGISTRY_LOG=$DIR/http/registry.log
export SIGNET_TEST_REGISTRY_STORAGE=$DIR/http/storage
export SIGNET_TEST_OCI_LAYOUT=$OCI
export SIGNET_TEST_IMG_A_DIGEST=$a
export SIGNET_TEST_IMG_B_DIGEST=$b
export SIGNET_TEST_IMG_INDEX_DIGEST=$multi
export SIGNET_TEST_COSIGN=$cosign
export SIGNET_TEST_ORAS=$oras
export SIGNET_TEST_SIGSTORE_PYTHON=$sigpy
export SIGNET_TEST_SIGSTORE_JS=$sigjs
export SIGNET_TEST_REFERRERS_REGISTRY=$referrers
ENV
  cat "$DIR/env.sh"
}

cmd_up() {
  local step t0 t1
  for step in deps tools start images push oracles env; do
    t0=$(date +%s%N); "cmd_$step"; t1=$(date +%s%N)
    log "$step: $(( (t1 - t0) / 1000000 )) ms"
  done
}

case ${1:-} in
  deps) cmd_deps ;;
  tools) cmd_tools ;;
  start) cmd_start ;;
  status) cmd_status ;;
  images) cmd_images ;;
  push) cmd_push ;;
  reset-images) cmd_push ;;
  many) cmd_many "${2:-}" "${3:-demo/many}" ;;
  ggcr) cmd_ggcr ;;
  refreg) cmd_refreg ;;
  oracles) cmd_oracles ;;
  env) cmd_env ;;
  up) cmd_up ;;
  stop) cmd_stop "${2:-}" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
