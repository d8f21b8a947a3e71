#!/usr/bin/env bash
# The main job end to end on the embedded default (an OCI image layout on disk, no
# registry): generate a key pair, build a small image, sign it, verify it, then show
# that tampered copies are rejected, with cosign's exit codes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p signet-cli
signet=$PWD/target/release/signet
work=$(mktemp -d "${TMPDIR:-/tmp}/signet-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
export COSIGN_PASSWORD=demo-password

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
blob() { local d; d=$(sha "$2"); mv "$2" "$1/blobs/sha256/$d"; echo "$d"; }

# A one-layer OCI image, built by hand so the demo needs nothing but coreutils.
build_image() { # build_image DIR TEXT: an image tagged v1 in the layout DIR (created or updated)
  local dir=$1
  mkdir -p rootfs "$dir/blobs/sha256"
  printf '%s\n' "$2" > rootfs/hello.txt
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C rootfs -cf layer.tar .
  local diff_id; diff_id=$(sha layer.tar)
  gzip -n -9 layer.tar
  local layer_size layer config_size config manifest_size manifest
  layer_size=$(stat -c %s layer.tar.gz); layer=$(blob "$dir" layer.tar.gz)
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["cat","/hello.txt"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff_id" > config.json
  config_size=$(stat -c %s config.json); config=$(blob "$dir" config.json)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":%s,"digest":"sha256:%s"},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":%s,"digest":"sha256:%s"}]}' \
    "$config_size" "$config" "$layer_size" "$layer" > manifest.json
  manifest_size=$(stat -c %s manifest.json); manifest=$(blob "$dir" manifest.json)
  printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  [ -f "$dir/index.json" ] || printf '{"schemaVersion":2,"manifests":[]}' > "$dir/index.json"
  # point the tag v1 at the new manifest, keeping every other tag (signatures included)
  python3 - "$dir/index.json" "$manifest" "$manifest_size" <<'PY'
import json, sys
path, digest, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
idx = json.load(open(path))
idx["mediaType"] = "application/vnd.oci.image.index.v1+json"
idx["manifests"] = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != "v1"]
idx["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": size,
    "digest": "sha256:" + digest, "annotations": {"org.opencontainers.image.ref.name": "v1"}})
json.dump(idx, open(path, "w"))
PY
  rm -rf rootfs
  echo "sha256:$manifest"
}

step "generate a key pair (cosign's encrypted format)"
"$signet" generate-key-pair
head -1 cosign.key; cat cosign.pub

step "build a small OCI image layout"
digest=$(build_image image "hello from signet")
echo "oci:image:v1 -> $digest"

step "sign it"
"$signet" sign --key cosign.key oci:image:v1

step "verify it"
"$signet" verify --key cosign.pub oci:image:v1

step "tamper: a copy of the image with other content under the same tag"
cp -r image tampered
evil=$(build_image tampered "hello from an attacker")
echo "oci:tampered:v1 -> $evil"
set +e
"$signet" verify --key cosign.pub oci:tampered:v1; code=$?
set -e
echo "exit code $code (10: no signatures for the tampered digest)"
[ "$code" = 10 ] || { echo "expected exit 10"; exit 1; }

step "tamper: replay the original signature onto the tampered image"
python3 - "$work/tampered/index.json" "${digest#sha256:}" "${evil#sha256:}" <<'PY'
import json, sys
path, good, evil = sys.argv[1:]
idx = json.load(open(path))
sig = next(m for m in idx["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == f"sha256-{good}.sig")
copy = dict(sig, annotations={"org.opencontainers.image.ref.name": f"sha256-{evil}.sig"})
idx["manifests"].append(copy)
json.dump(idx, open(path, "w"))
PY
set +e
"$signet" verify --key cosign.pub oci:tampered:v1; code=$?
set -e
echo "exit code $code (12: the signature names another digest)"
[ "$code" = 12 ] || { echo "expected exit 12"; exit 1; }

step "the original still verifies"
"$signet" verify --key cosign.pub "oci:image@$digest" > /dev/null && echo "oci:image@$digest: verified"
