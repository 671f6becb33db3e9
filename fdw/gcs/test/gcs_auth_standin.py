#!/usr/bin/env python3
"""A CONTRACT stand-in for Google's OAuth2 token endpoint, and an
authenticating proxy in front of fake-gcs-server (which ignores
credentials), for the tests of mesh_gcs.

  POST /token       the JWT-bearer grant (RFC 7523) as Google's endpoint
                    takes it: grant_type must be
                    urn:ietf:params:oauth:grant-type:jwt-bearer; the
                    assertion's header {"alg":"RS256","typ":"JWT"}; its
                    claims iss (the test service account's client_email),
                    aud (this endpoint's URL), scope (a devstorage or
                    cloud-platform scope), iat and exp (exp > now,
                    exp - iat <= 3600, iat not in the future); its RS256
                    signature checked against the test key's public key
                    (`openssl dgst -sha256 -verify`).  Issues
                    {"access_token", "expires_in", "token_type": "Bearer"};
                    refuses with an OAuth2 error JSON ({"error":
                    "invalid_grant", "error_description": ...}, HTTP 400).
  GET /_grants      {"grants": N, "refused": N, "proxied": N,
                    "unauthorized": N, "scope": last granted scope}
  POST /_reset      counters to zero, issued tokens forgotten
  POST /_config?expires_in=N   the lifetime of tokens issued from now on
  any other GET     needs "Authorization: Bearer <token>" with a token this
                    endpoint issued and that has not expired, or the static
                    token (environment MESH_GCS_STATIC_TOKEN); then it is
                    forwarded as it is (path and query untouched) to the
                    upstream (fake-gcs-server) and its answer returned.
                    Else 401 with Google's JSON error (reason authError).

Usage: gcs_auth_standin.py PORT HOST UPSTREAM_URL PUBLIC_KEY_PEM CLIENT_EMAIL
Stops on SIGTERM or SIGINT.
"""

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPES = {
    "https://www.googleapis.com/auth/devstorage.read_only",
    "https://www.googleapis.com/auth/devstorage.read_write",
    "https://www.googleapis.com/auth/devstorage.full_control",
    "https://www.googleapis.com/auth/cloud-platform",
}


class State:
    def __init__(self, port, host, upstream, public_key, client_email, static_token):
        self.aud = "http://%s:%d/token" % (host, port)
        self.upstream = upstream.rstrip("/")
        self.public_key = public_key
        self.client_email = client_email
        self.static_token = static_token
        self.lock = threading.Lock()
        self.expires_in = 3599
        self.reset()

    def reset(self):
        with self.lock:
            self.tokens = {}
            self.counts = {"grants": 0, "refused": 0, "proxied": 0, "unauthorized": 0}
            self.scope = None

    def count(self, name):
        with self.lock:
            self.counts[name] += 1


STATE = None


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_rs256(signing_input, signature, public_key):
    """True when signature is an RS256 signature of signing_input."""
    with tempfile.TemporaryDirectory() as d:
        data, sig = os.path.join(d, "data"), os.path.join(d, "sig")
        with open(data, "wb") as f:
            f.write(signing_input)
        with open(sig, "wb") as f:
            f.write(signature)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", public_key, "-signature", sig, data],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return r.returncode == 0


def check_grant(form):
    """The grant's scope, or raise ValueError((error, description))."""
    if form.get("grant_type") != GRANT_TYPE:
        raise ValueError(("unsupported_grant_type", "Invalid grant_type: %s" % form.get("grant_type", "")))
    parts = form.get("assertion", "").split(".")
    if len(parts) != 3:
        raise ValueError(("invalid_grant", "Invalid JWT: the assertion is not header.claims.signature."))
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except ValueError:
        raise ValueError(("invalid_grant", "Invalid JWT: a part is not base64url JSON."))
    if header != {"alg": "RS256", "typ": "JWT"}:
        raise ValueError(("invalid_grant", "Invalid JWT header: %s" % json.dumps(header, sort_keys=True)))
    now = int(time.time())
    if claims.get("iss") != STATE.client_email:
        raise ValueError(("invalid_grant", "Invalid JWT: unknown issuer."))
    if claims.get("aud") != STATE.aud:
        raise ValueError(("invalid_grant", "Invalid JWT: aud is not %s." % STATE.aud))
    if claims.get("scope") not in SCOPES:
        raise ValueError(("invalid_scope", "Invalid OAuth scope or ID token audience provided."))
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or exp <= now or iat > now + 60 or exp - iat > 3600:
        raise ValueError(("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."))
    if not verify_rs256((parts[0] + "." + parts[1]).encode(), signature, STATE.public_key):
        raise ValueError(("invalid_grant", "Invalid JWT Signature."))
    return claims["scope"]


GOOGLE_401 = {"error": {"code": 401, "message": "Invalid Credentials",
                        "errors": [{"message": "Invalid Credentials", "domain": "global",
                                    "reason": "authError", "locationType": "header",
                                    "location": "Authorization"}]}}


class Handler(BaseHTTPRequestHandler):
    server_version = "gcs-auth-standin/1"
    protocol_version = "HTTP/1.1"

    def _send(self, status, body, ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        if path == "/token":
            form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace")))
            try:
                scope = check_grant(form)
            except ValueError as e:
                STATE.count("refused")
                error, description = e.args[0]
                self._send(400, {"error": error, "error_description": description})
                return
            token = "ya29.mesh-" + secrets.token_hex(16)
            with STATE.lock:
                STATE.tokens[token] = time.time() + STATE.expires_in
                STATE.counts["grants"] += 1
                STATE.scope = scope
                expires_in = STATE.expires_in
            self._send(200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})
        elif path == "/_reset":
            STATE.reset()
            self._send(200, {"ok": True})
        elif path == "/_config":
            q = dict(urllib.parse.parse_qsl(query))
            with STATE.lock:
                STATE.expires_in = int(q.get("expires_in", STATE.expires_in))
            self._send(200, {"expires_in": STATE.expires_in})
        else:
            self._send(404, {"error": {"code": 404, "message": "Not Found"}})

    def do_GET(self):
        if self.path == "/_grants":
            with STATE.lock:
                self._send(200, dict(STATE.counts, scope=STATE.scope))
            return
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        with STATE.lock:
            ok = token is not None and (token == STATE.static_token or
                                        STATE.tokens.get(token, 0) > time.time())
        if not ok:
            STATE.count("unauthorized")
            self._send(401, GOOGLE_401, headers=[("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')])
            return
        STATE.count("proxied")
        req = urllib.request.Request(STATE.upstream + self.path, method="GET")
        if self.headers.get("Range"):
            req.add_header("Range", self.headers["Range"])
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as e:
            status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "application/json")
        self._send(status, body, ctype)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))
        sys.stderr.flush()


def main() -> int:
    global STATE
    if len(sys.argv) != 6:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    port, host = int(sys.argv[1]), sys.argv[2]
    STATE = State(port, host, sys.argv[3], sys.argv[4], sys.argv[5],
                  os.environ.get("MESH_GCS_STATIC_TOKEN") or None)
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
