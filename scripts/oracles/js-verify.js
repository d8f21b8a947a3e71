#!/usr/bin/env node
// js-verify.js: sigstore-js (@sigstore/verify) as an offline reference verifier, the way
// shared/spec/sigstore-interop.md §4.2 describes. Exit 0 = verified ("OK" on stdout),
// 1 = not verified ("FAIL: <code>: <message>" on stderr), 2 = usage error.
//
//   node js-verify.js identity BUNDLE ARTIFACT TRUSTED_ROOT IDENTITY ISSUER
//   node js-verify.js key BUNDLE ARTIFACT TRUSTED_ROOT KEY_PEM
//        [--tlog-threshold N] [--ctlog-threshold N] [--timestamp-threshold N]
//   node js-verify.js bench SPEC_JSON
//
// ARTIFACT is a file: the library needs the bytes of a messageSignature artifact. For a
// DSSE bundle the artifact must be a subject of the in-toto statement; @sigstore/verify
// does not check that, so this script does (as the conformance protocol requires).
// Key mode trusts KEY_PEM for any key hint, valid at any time (§4.2), and the Verifier's
// thresholds default to 1 each as in the library.
//
// bench: SPEC_JSON is {"iterations": N, "warmup": W, "cases": [{"name", "bundle",
// "artifact", "trusted_root", "identity", "issuer"} | {..., "key"}]}. Every case is
// verified in-process, round robin, W + N times; each timed call parses the bundle JSON
// and verifies it (trust material is built once per trusted root, as a long-lived
// verifier would). Prints {"runtime", "cases": [{"name", "ns": [...]}]} on stdout.
//
// The packages are loaded from $SIGNET_TEST_SIGSTORE_JS (a node_modules directory, set by
// scripts/test-env.sh oracles), else from node's usual search path.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

function load(name) {
  const dir = process.env.SIGNET_TEST_SIGSTORE_JS;
  return require(dir ? path.join(dir, name) : name);
}
const { bundleFromJSON } = load('@sigstore/bundle');
const { TrustedRoot } = load('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = load('@sigstore/verify');

function usage(msg) {
  console.error(`usage error: ${msg}\n` +
    'usage: js-verify.js identity BUNDLE ARTIFACT TRUSTED_ROOT IDENTITY ISSUER\n' +
    '       js-verify.js key BUNDLE ARTIFACT TRUSTED_ROOT KEY_PEM [--tlog-threshold N] [--ctlog-threshold N] [--timestamp-threshold N]\n' +
    '       js-verify.js bench SPEC_JSON');
  process.exit(2);
}

const readJSON = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

// A verifier for one case: trust material and policy built once.
function makeVerifier(c) {
  const root = TrustedRoot.fromJSON(readJSON(c.trusted_root));
  let material;
  let policy;
  if (c.key) {
    const publicKey = crypto.createPublicKey(fs.readFileSync(c.key));
    material = toTrustMaterial(root, () => ({ publicKey, validFor: () => true }));
    policy = {};
  } else {
    material = toTrustMaterial(root);
    policy = { subjectAlternativeName: c.identity, extensions: { issuer: c.issuer } };
  }
  const verifier = new Verifier(material, c.thresholds || {});
  const artifact = fs.readFileSync(c.artifact);
  const want = crypto.createHash('sha256').update(artifact).digest('hex');
  // Parse and verify one bundle (its JSON text); throws on failure.
  return (bundleText) => {
    const bundle = bundleFromJSON(JSON.parse(bundleText));
    const dsse = bundle.content.$case === 'dsseEnvelope';
    const entity = toSignedEntity(bundle, dsse ? undefined : artifact);
    const signer = verifier.verify(entity, policy);
    if (dsse) {
      const stmt = JSON.parse(Buffer.from(bundle.content.dsseEnvelope.payload).toString());
      if (!(stmt.subject || []).some((s) => s.digest && s.digest.sha256 === want)) {
        const e = new Error(`artifact sha256:${want} is not a subject of the in-toto statement`);
        e.code = 'SUBJECT_MISMATCH';
        throw e;
      }
    }
    return signer;
  };
}

function thresholds(flags) {
  const t = {};
  const names = {
    '--tlog-threshold': 'tlogThreshold',
    '--ctlog-threshold': 'ctlogThreshold',
    '--timestamp-threshold': 'timestampThreshold',
  };
  for (let i = 0; i < flags.length; i += 2) {
    const name = names[flags[i]];
    const n = Number(flags[i + 1]);
    if (!name || !Number.isInteger(n) || n < 0) usage(`bad option ${flags[i]} ${flags[i + 1]}`);
    t[name] = n;
  }
  return t;
}

function bench(specPath) {
  const spec = readJSON(specPath);
  const cases = spec.cases.map((c) => ({
    name: c.name,
    verify: makeVerifier(c),
    text: fs.readFileSync(c.bundle, 'utf8'),
    ns: [],
  }));
  const warmup = spec.warmup || 0;
  for (let i = 0; i < warmup + spec.iterations; i++) {
    for (const c of cases) {
      const t0 = process.hrtime.bigint();
      c.verify(c.text);
      const t1 = process.hrtime.bigint();
      if (i >= warmup) c.ns.push(Number(t1 - t0));
    }
  }
  const out = { runtime: `node ${process.version}`, cases: cases.map((c) => ({ name: c.name, ns: c.ns })) };
  process.stdout.write(JSON.stringify(out) + '\n');
}

function main(argv) {
  const [mode, ...rest] = argv;
  if (mode === 'bench') {
    if (rest.length !== 1) usage('bench takes SPEC_JSON');
    return bench(rest[0]);
  }
  let c;
  if (mode === 'identity') {
    if (rest.length !== 5) usage('identity takes 5 arguments');
    const [bundle, artifact, trustedRoot, identity, issuer] = rest;
    c = { bundle, artifact, trusted_root: trustedRoot, identity, issuer };
  } else if (mode === 'key') {
    if (rest.length < 4) usage('key takes at least 4 arguments');
    const [bundle, artifact, trustedRoot, key, ...flags] = rest;
    c = { bundle, artifact, trusted_root: trustedRoot, key, thresholds: thresholds(flags) };
  } else {
    usage(`unknown mode ${mode}`);
  }
  try {
    makeVerifier(c)(fs.readFileSync(c.bundle, 'utf8'));
    console.log('OK');
  } catch (e) {
    console.error(`FAIL: ${e.code ? e.code + ': ' : ''}${e.message}`);
    process.exit(1);
  }
}

main(process.argv.slice(2));
