#!/usr/bin/env python3
"""The harness's commands for the GCS tests (fdw/gcs/harness.sh), with the
JSON API of fake-gcs-server and the auth stand-in's test endpoints.

  gcs_client.py mkbucket URL BUCKET
      POST URL/storage/v1/b {"name": BUCKET} (an existing bucket is fine)
  gcs_client.py put URL BUCKET NAME [BODY [CONTENT_TYPE [KEY=VALUE...]]]
      a multipart upload (POST URL/upload/storage/v1/b/BUCKET/o?
      uploadType=multipart): the object resource (name, contentType,
      metadata from the KEY=VALUE pairs) and the body
  gcs_client.py grants URL [NAME...]
      print the stand-in's counters (NAMEs: grants, refused, proxied,
      unauthorized, scope; all without), one line
  gcs_client.py reset URL       zero them
  gcs_client.py ttl URL SECONDS the lifetime of the tokens it issues next
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def call(method, url, body=None, ctype=None):
    req = urllib.request.Request(url, data=body, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, base = argv[1], argv[2].rstrip("/")
    if cmd == "mkbucket" and len(argv) == 4:
        status, body = call("POST", base + "/storage/v1/b", json.dumps({"name": argv[3]}).encode(),
                            "application/json")
        if status not in (200, 409):
            print("gcs-mkbucket %s: HTTP %d %s" % (argv[3], status, body[:200]), file=sys.stderr)
            return 1
        return 0
    if cmd == "put" and len(argv) >= 5:
        bucket, name = argv[3], argv[4]
        content = argv[5].encode() if len(argv) > 5 else b""
        ctype = argv[6] if len(argv) > 6 else "application/octet-stream"
        resource = {"name": name, "contentType": ctype}
        meta = dict(kv.split("=", 1) for kv in argv[7:])
        if meta:
            resource["metadata"] = meta
        boundary = "mesh-gcs-boundary-7f3a"
        body = (b"--" + boundary.encode() + b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" +
                json.dumps(resource).encode() + b"\r\n--" + boundary.encode() +
                b"\r\nContent-Type: " + ctype.encode() + b"\r\n\r\n" + content +
                b"\r\n--" + boundary.encode() + b"--\r\n")
        url = "%s/upload/storage/v1/b/%s/o?uploadType=multipart" % (base, urllib.parse.quote(bucket, safe=""))
        status, answer = call("POST", url, body, "multipart/related; boundary=" + boundary)
        if status != 200:
            print("gcs-put %s/%s: HTTP %d %s" % (bucket, name, status, answer[:200]), file=sys.stderr)
            return 1
        got = json.loads(answer).get("name")
        if got != name:
            print("gcs-put %s/%s: stored as %r" % (bucket, name, got), file=sys.stderr)
            return 1
        return 0
    if cmd == "grants" and len(argv) >= 3:
        status, body = call("GET", base + "/_grants")
        c = json.loads(body)
        names = argv[3:] or ["grants", "refused", "proxied", "unauthorized", "scope"]
        print(", ".join("%s: %s" % (n, c[n]) for n in names))
        return 0 if status == 200 else 1
    if cmd == "reset" and len(argv) == 3:
        return 0 if call("POST", base + "/_reset")[0] == 200 else 1
    if cmd == "ttl" and len(argv) == 4:
        return 0 if call("POST", base + "/_config?expires_in=%d" % int(argv[3]))[0] == 200 else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
