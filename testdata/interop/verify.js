// Checks captured webhook requests with the seed's Node.js verifier.
//
//     node testdata/interop/verify.js DIR
//
// DIR holds config.json ({"secret", "requests", "vectors"}) and, per request,
// req-NNN.json ({"headers": {name: [values]}}) with its exact body in
// req-NNN.body. Every request must be accepted by verifyWebhook, and the same
// request with a tampered body, a tampered timestamp, a wrong secret or no
// signature must be rejected. The signing vectors named by config.json are
// checked the same way. Exits 1 on any failure, printing each one.
//
// verifyWebhook below is copied verbatim from seed/webhooks.md ("HMAC
// Signature", "Verification (Node.js)"); only the request adapter and the
// loop around it are ours.
"use strict";

const fs = require("fs");
const path = require("path");

// ---- verbatim from seed/webhooks.md ----------------------------------------
const crypto = require("crypto");

function verifyWebhook(req, secret) {
  const signature = req.headers["x-webhook-signature"];
  const timestamp = req.headers["x-webhook-timestamp"];

  if (!signature || !timestamp) return false;

  const message = `${timestamp}.${req.body}`;
  const expected =
    "sha256=" +
    crypto.createHmac("sha256", secret).update(message).digest("hex");

  return crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
}
// ---- end of the verbatim copy ----------------------------------------------

// request builds what an Express handler with a text body parser sees:
// lower-case header names (first value of each) and the body as a UTF-8 string.
function request(headers, body) {
  const h = {};
  for (const [name, values] of Object.entries(headers)) {
    const list = Array.isArray(values) ? values : [values];
    const key = name.toLowerCase();
    if (list.length > 0 && !(key in h)) h[key] = list[0];
  }
  return { headers: h, body: body.toString("utf8") };
}

function withHeader(req, name, value) {
  const headers = { ...req.headers };
  if (value === undefined) delete headers[name];
  else headers[name] = value;
  return { headers, body: req.body };
}

const failures = [];

function expect(label, want, req, secret) {
  let got;
  try {
    got = verifyWebhook(req, secret);
  } catch (e) {
    // A throw (timingSafeEqual on a length mismatch) is a failure either way.
    failures.push(`${label}: verifyWebhook threw ${e}`);
    return;
  }
  if (got !== want) failures.push(`${label}: verifyWebhook returned ${got}, want ${want}`);
}

function check(label, headers, body, secret) {
  const req = request(headers, body);
  expect(`${label}: as sent`, true, req, secret);
  const tamperedBodies = [
    Buffer.concat([body, Buffer.from("\n")]),
    Buffer.from(body.toString("utf8").replace('"', "'"), "utf8"),
    body.subarray(0, body.length - 1),
    Buffer.from(body.equals(Buffer.from("{}")) ? "[]" : "{}"),
  ];
  tamperedBodies.forEach((t, i) => {
    if (!t.equals(body)) {
      expect(`${label}: tampered body ${i + 1}`, false, request(headers, t), secret);
    }
  });
  expect(`${label}: wrong secret`, false, req, secret + "x");
  expect(`${label}: truncated secret`, false, req, secret.slice(0, -1));
  const ts = req.headers["x-webhook-timestamp"] || "0";
  expect(`${label}: tampered timestamp`, false,
    withHeader(req, "x-webhook-timestamp", String(BigInt(ts) + 1n)), secret);
  expect(`${label}: no signature`, false, withHeader(req, "x-webhook-signature", undefined), secret);
  expect(`${label}: no timestamp`, false, withHeader(req, "x-webhook-timestamp", undefined), secret);
}

function main() {
  if (process.argv.length !== 3) {
    console.error("usage: verify.js DIR");
    return 2;
  }
  const dir = process.argv[2];
  const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  const secret = config.secret;

  const names = fs.readdirSync(dir)
    .filter((n) => n.startsWith("req-") && n.endsWith(".json"))
    .map((n) => n.slice(0, -".json".length))
    .sort();
  if (names.length !== config.requests || names.length === 0) {
    failures.push(`found ${names.length} requests, want ${config.requests}`);
  }
  for (const name of names) {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, name + ".json"), "utf8"));
    const body = fs.readFileSync(path.join(dir, name + ".body"));
    check(name, meta.headers, body, secret);
  }

  let vectors = 0;
  if (config.vectors) {
    for (const v of JSON.parse(fs.readFileSync(config.vectors, "utf8"))) {
      const body = Buffer.from(v.body, "utf8");
      const ts = String(v.timestamp);
      // The seed's verifier compares the whole header with one signature,
      // so a rotation header is checked one value at a time.
      const secrets = v.secrets || [v.secret];
      const sigs = v.signature.split(" ");
      if (sigs.length !== secrets.length) {
        failures.push(`vector ${JSON.stringify(v.name)}: ${sigs.length} signatures for ${secrets.length} secrets`);
        continue;
      }
      secrets.forEach((s, i) => {
        const headers = { "X-Webhook-Signature": [sigs[i]], "X-Webhook-Timestamp": [ts] };
        check(`vector ${JSON.stringify(v.name)}`, headers, body, s);
        vectors++;
      });
    }
  }

  if (failures.length > 0) {
    for (const f of failures) console.log("FAIL", f);
    console.log(`node: ${failures.length} failure(s)`);
    return 1;
  }
  console.log(`node: seed verifyWebhook accepted ${names.length} requests and ${vectors} vector signatures, ` +
    "rejected every tampered body, timestamp and wrong secret");
  return 0;
}

process.exitCode = main();
