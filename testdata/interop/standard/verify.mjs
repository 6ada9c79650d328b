// Verifies requests captured by standard_test.go with the npm Standard
// Webhooks libraries, as a receiver written in JavaScript would.
//
//   node verify.mjs <dir>
//
// <dir>/config.json:
//   {"secret": "whsec_…", "wrong_secret": "whsec_…",
//    "public_key": "whpk_…", "wrong_public_key": "whpk_…",
//    "requests": [{"name": "req-000", "kind": "v1" | "v1a"}, …]}
// <dir>/<name>.json: {"headers": {"Webhook-Id": "…", …}}
// <dir>/<name>.body: the body, byte for byte as received.
//
// For a "v1" (HMAC) request, the Webhook class of `standardwebhooks` and of
// `svix` must each accept it as sent (with the header names as sent and
// lowercased), and reject it with one body byte changed, with the timestamp
// changed, and under a wrong secret.
//
// The npm `standardwebhooks` package only implements v1 (its verify skips
// every signature whose version is not "v1"), and so does svix's, which
// wraps it. A "v1a" (ed25519) request is therefore verified with node:crypto
// against the "whpk_" public key, following the specification; the script
// also checks that `standardwebhooks` rejects it, which documents the gap
// (if a later version supports v1a, that check tells us).
//
// Prints one line per check; exits 1 when any check fails.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import crypto from "node:crypto";

const require = createRequire(import.meta.url);
const libs = [
  ["standardwebhooks@" + require("standardwebhooks/package.json").version, require("standardwebhooks").Webhook],
  ["svix@" + require("svix/package.json").version, require("svix").Webhook],
];

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node verify.mjs <dir>");
  process.exit(2);
}
const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));

let failures = 0;
let checks = 0;
function pass(name, what) {
  checks++;
  console.log(`ok   ${name}: ${what}`);
}
function fail(name, what, err) {
  checks++;
  failures++;
  console.log(`FAIL ${name}: ${what}${err ? ": " + (err.message ?? err) : ""}`);
}

// mustAccept and mustReject run fn and record the outcome.
function mustAccept(name, what, fn) {
  try {
    fn();
    pass(name, what);
  } catch (err) {
    fail(name, what, err);
  }
}
function mustReject(name, what, fn) {
  try {
    fn();
    fail(name, what + " was accepted");
  } catch (err) {
    pass(name, `${what} rejected (${err.message ?? err})`);
  }
}

function lower(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

// tamper returns a copy of body with one byte changed, in the middle.
function tamper(body) {
  const b = Buffer.from(body);
  if (b.length === 0) return Buffer.from(" ");
  const i = b.length >> 1;
  b[i] = b[i] === 0x20 ? 0x21 : 0x20;
  return b;
}

function bumpTimestamp(headers) {
  const h = lower(headers);
  h["webhook-timestamp"] = String(Number(h["webhook-timestamp"]) - 1);
  return h;
}

// ed25519 verification of "v1a" signatures, from the specification:
// signed content "<id>.<timestamp>.<body>", key "whpk_<base64 raw 32 bytes>".
function ed25519Verify(publicKey, headers, body) {
  const h = lower(headers);
  const id = h["webhook-id"];
  const ts = h["webhook-timestamp"];
  const sigs = h["webhook-signature"];
  if (!id || !ts || !sigs) throw new Error("missing required headers");
  const now = Math.floor(Date.now() / 1000);
  const t = Number.parseInt(ts, 10);
  if (Number.isNaN(t) || Math.abs(now - t) > 5 * 60) throw new Error("timestamp out of tolerance");
  const raw = Buffer.from(publicKey.replace(/^whpk_/, ""), "base64");
  if (raw.length !== 32) throw new Error("public key is not 32 bytes");
  const key = crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
  const msg = Buffer.concat([Buffer.from(`${id}.${ts}.`), body]);
  for (const s of sigs.split(" ")) {
    const [version, b64] = s.split(",");
    if (version !== "v1a" || !b64) continue;
    if (crypto.verify(null, msg, key, Buffer.from(b64, "base64"))) return;
  }
  throw new Error("no matching v1a signature");
}

for (const req of config.requests) {
  const name = req.name;
  const { headers } = JSON.parse(readFileSync(join(dir, name + ".json"), "utf8"));
  const body = readFileSync(join(dir, name + ".body"));

  if (req.kind === "v1") {
    for (const [lib, Webhook] of libs) {
      mustAccept(name, `as sent: ${lib}`, () => {
        const got = new Webhook(config.secret).verify(body, headers);
        // verify returns the parsed JSON: it must be the body's.
        if (JSON.stringify(got) !== JSON.stringify(JSON.parse(body.toString("utf8")))) {
          throw new Error("verify returned a different payload");
        }
      });
      mustAccept(name, `as sent, lowercase header names: ${lib}`, () => new Webhook(config.secret).verify(body, lower(headers)));
      mustReject(name, `one body byte changed: ${lib}`, () => new Webhook(config.secret).verify(tamper(body), headers));
      mustReject(name, `timestamp changed: ${lib}`, () => new Webhook(config.secret).verify(body, bumpTimestamp(headers)));
      mustReject(name, `wrong secret: ${lib}`, () => new Webhook(config.wrong_secret).verify(body, headers));
    }
  } else if (req.kind === "v1a") {
    mustAccept(name, "as sent: ed25519 (node:crypto)", () => ed25519Verify(config.public_key, headers, body));
    mustReject(name, "one body byte changed: ed25519 (node:crypto)", () => ed25519Verify(config.public_key, headers, tamper(body)));
    mustReject(name, "timestamp changed: ed25519 (node:crypto)", () => ed25519Verify(config.public_key, bumpTimestamp(headers), body));
    mustReject(name, "wrong public key: ed25519 (node:crypto)", () => ed25519Verify(config.wrong_public_key, headers, body));
    // standardwebhooks has no v1a support: any secret must fail to verify it.
    const [lib, Webhook] = libs[0];
    mustReject(name, `v1a only, unsupported by ${lib}`, () => new Webhook(config.secret).verify(body, headers));
  } else {
    fail(name, `unknown kind ${JSON.stringify(req.kind)}`);
  }
}

console.log(`${checks - failures}/${checks} checks passed (${libs.map(([l]) => l).join(", ")}, node ${process.version})`);
process.exit(failures === 0 && checks > 0 ? 0 : 1);
