#!/usr/bin/env python3
"""Regenerates ../signing_vectors.json with Python's hmac module.

The expected signatures are computed here, independently of the Go signer,
so that signer_test.go checks the Go code against a second implementation.

    python3 testdata/interop/gen_vectors.py > testdata/signing_vectors.json
"""
import hashlib
import hmac
import json
import sys


def sign(secret, timestamp, body):
    message = f"{timestamp}.".encode() + body.encode("utf-8")
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


CASES = [
    {
        "name": "simple json body",
        "secret": "whsec_test_secret",
        "timestamp": 1705405200,
        "body": '{"id":"evt_abc123xyz","event":"created","timestamp":"2026-01-16T12:00:00Z",'
                '"model":{"app":"store","name":"Order","label":"store.Order"},'
                '"object":{"id":"42","reference":"ORD-2026-0042","status":"pending","total":"299.99"},'
                '"changes":null,"user":{"id":"1","username":"admin"}}',
    },
    {
        "name": "non-ascii body",
        "secret": "secret_crm_123",
        "timestamp": 1768564800,
        "body": '{"name":"Café Élysée","city":"東京","note":"日本語テキスト","mood":"🎉🚀","flag":"🇫🇷"}',
    },
    {
        "name": "quotes and backslashes",
        "secret": "secret_analytics_456",
        "timestamp": 1768566600,
        "body": '{"quote":"she said \\"hi\\"","path":"C:\\\\Users\\\\x","regex":"^\\\\d+$","tab":"a\\tb"}',
    },
    {
        "name": "empty object",
        "secret": "s",
        "timestamp": 1700000000,
        "body": "{}",
    },
    {
        "name": "empty body",
        "secret": "whsec_test_secret",
        "timestamp": 1700000001,
        "body": "",
    },
    {
        "name": "long secret (longer than the sha256 block)",
        "secret": "k" * 64 + "-" + "0123456789abcdef" * 8 + "-é-日本",
        "timestamp": 2000000000,
        "body": '{"id":"1","status":"shipped"}',
    },
    {
        "name": "non-ascii secret",
        "secret": "clé-secrète-日本-🔑",
        "timestamp": 1768564801,
        "body": '{"ok":true}',
    },
    {
        "name": "timestamp with fewer digits",
        "secret": "whsec_test_secret",
        "timestamp": 5,
        "body": '{"a":1}',
    },
]

ROTATION = {
    "name": "rotation with two secrets",
    "secrets": ["new_secret_2026", "old_secret_2025"],
    "timestamp": 1768564800,
    "body": '{"id":"42","status":"shipped","note":"Crème brûlée 🍮"}',
}


def main():
    out = []
    for c in CASES:
        v = dict(c)
        v["signature"] = sign(c["secret"], c["timestamp"], c["body"])
        out.append(v)
    r = dict(ROTATION)
    r["signature"] = " ".join(sign(s, r["timestamp"], r["body"]) for s in r["secrets"])
    out.append(r)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
