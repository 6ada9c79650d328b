#!/usr/bin/env python3
"""Checks captured webhook requests with the seed's Python verifier.

    python3 testdata/interop/verify.py DIR

DIR holds config.json ({"secret", "requests", "vectors"}) and, per request,
req-NNN.json ({"headers": {name: [values]}}) with its exact body in
req-NNN.body. Every request must be accepted by verify_webhook, and the same
request with a tampered body, a tampered timestamp, a wrong secret or no
signature must be rejected. The signing vectors named by config.json are
checked the same way. Exits 1 on any failure, printing each one.

verify_webhook below is copied verbatim from seed/webhooks.md ("HMAC
Signature", "Verification (Python)"); only the request adapter and the loop
around it are ours.
"""
import json
import os
import sys

# ---- verbatim from seed/webhooks.md -------------------------------------
import hmac
import hashlib

def verify_webhook(request, secret):
    """
    Verifies webhook signature.

    Args:
        request: HTTP request.
        secret: Shared secret.

    Returns:
        True if signature is valid.
    """
    signature = request.headers.get("X-Webhook-Signature")
    timestamp = request.headers.get("X-Webhook-Timestamp")

    if not signature or not timestamp:
        return False

    # Build message
    message = f"{timestamp}.{request.body.decode()}"

    # Calculate expected signature
    expected = "sha256=" + hmac.new(
        secret.encode(),
        message.encode(),
        hashlib.sha256
    ).hexdigest()

    return hmac.compare_digest(signature, expected)
# ---- end of the verbatim copy -------------------------------------------


class Headers:
    """Case-insensitive, first value of each header, like Django's request.headers."""

    def __init__(self, headers):
        self._h = {}
        for name, values in headers.items():
            if isinstance(values, str):
                values = [values]
            if values:
                self._h.setdefault(name.lower(), values[0])

    def get(self, name, default=None):
        return self._h.get(name.lower(), default)

    def with_(self, name, value):
        h = Headers({})
        h._h = dict(self._h)
        if value is None:
            h._h.pop(name.lower(), None)
        else:
            h._h[name.lower()] = value
        return h


class Request:
    """The two attributes of a Django HttpRequest that verify_webhook reads."""

    def __init__(self, headers, body):
        self.headers = headers
        self.body = body


failures = []


def expect(label, want, request, secret):
    try:
        got = verify_webhook(request, secret)
    except Exception as e:  # a crash is a failure, whichever answer was wanted
        failures.append(f"{label}: verify_webhook raised {type(e).__name__}: {e}")
        return
    if got is not want:
        failures.append(f"{label}: verify_webhook returned {got!r}, want {want!r}")


def check(label, headers, body, secret):
    """A valid request passes; every alteration of it fails."""
    expect(f"{label}: as sent", True, Request(headers, body), secret)
    for i, tampered in enumerate([
        body + b"\n",
        body.replace(b'"', b"'", 1),
        body[:-1],
        b"{}" if body != b"{}" else b"[]",
    ]):
        if tampered != body:
            expect(f"{label}: tampered body {i + 1}", False, Request(headers, tampered), secret)
    expect(f"{label}: wrong secret", False, Request(headers, body), secret + "x")
    expect(f"{label}: truncated secret", False, Request(headers, body), secret[:-1])
    ts = headers.get("X-Webhook-Timestamp") or "0"
    expect(f"{label}: tampered timestamp", False,
           Request(headers.with_("X-Webhook-Timestamp", str(int(ts) + 1)), body), secret)
    expect(f"{label}: no signature", False,
           Request(headers.with_("X-Webhook-Signature", None), body), secret)
    expect(f"{label}: no timestamp", False,
           Request(headers.with_("X-Webhook-Timestamp", None), body), secret)


def main():
    if len(sys.argv) != 2:
        print("usage: verify.py DIR", file=sys.stderr)
        return 2
    d = sys.argv[1]
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    secret = config["secret"]

    names = sorted(n[:-len(".json")] for n in os.listdir(d)
                   if n.startswith("req-") and n.endswith(".json"))
    if len(names) != config["requests"] or not names:
        failures.append(f"found {len(names)} requests, want {config['requests']}")
    for name in names:
        with open(os.path.join(d, name + ".json"), encoding="utf-8") as f:
            meta = json.load(f)
        with open(os.path.join(d, name + ".body"), "rb") as f:
            body = f.read()
        check(name, Headers(meta["headers"]), body, secret)

    vectors = 0
    if config.get("vectors"):
        with open(config["vectors"], encoding="utf-8") as f:
            for v in json.load(f):
                body = v["body"].encode("utf-8")
                ts = str(v["timestamp"])
                # The seed's verifier compares the whole header with one
                # signature, so a rotation header is checked one value at a time.
                secrets = v.get("secrets") or [v["secret"]]
                sigs = v["signature"].split(" ")
                if len(sigs) != len(secrets):
                    failures.append(f"vector {v['name']!r}: {len(sigs)} signatures for {len(secrets)} secrets")
                    continue
                for s, sig in zip(secrets, sigs):
                    h = Headers({"X-Webhook-Signature": [sig], "X-Webhook-Timestamp": [ts]})
                    check(f"vector {v['name']!r}", h, body, s)
                    vectors += 1

    if failures:
        for f in failures:
            print("FAIL", f)
        print(f"python: {len(failures)} failure(s)")
        return 1
    print(f"python: seed verify_webhook accepted {len(names)} requests and {vectors} vector signatures, "
          "rejected every tampered body, timestamp and wrong secret")
    return 0


if __name__ == "__main__":
    sys.exit(main())
