#!/usr/bin/env python3
"""azblob_tool.py: test setup for mesh_azblob against Azurite, signed with
the account key (SharedKey) by Python's standard library alone.  Used by
fdw/azblob/harness.sh; not part of mesh.

  azblob_tool.py URL ACCOUNT mkcontainer CONTAINER [public]
  azblob_tool.py URL ACCOUNT put CONTAINER BLOB [BODY [CONTENT_TYPE [NAME=VALUE...]]]
  azblob_tool.py URL ACCOUNT sas [PERMISSIONS]   print an account SAS token
                                                 (Blob service, 1 day)

URL is the account's endpoint (Azurite: http://127.0.0.1:PORT/ACCOUNT); the
key is read from the environment (AZBLOB_ACCOUNT_KEY), not from argv.
"""
import base64
import datetime
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

API_VERSION = "2021-08-06"


def sign(key, message):
    digest = hmac.new(base64.b64decode(key), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def shared_key_request(url, account, method, path, query, headers, body=b""):
    """Send method path?query to url's host with a SharedKey signature."""
    base = urllib.parse.urlsplit(url)
    full_path = base.path.rstrip("/") + path
    headers = dict(headers)
    if method == "PUT":  # urllib would add a form content type of its own
        headers.setdefault("Content-Type", "application/octet-stream")
    headers["x-ms-date"] = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%a, %d %b %Y %H:%M:%S GMT")
    headers["x-ms-version"] = API_VERSION
    ms = sorted((k.lower(), v) for k, v in headers.items() if k.lower().startswith("x-ms-"))
    std = {k.lower(): v for k, v in headers.items()}
    length = str(len(body)) if body else ""
    string_to_sign = "\n".join([
        method, std.get("content-encoding", ""), std.get("content-language", ""), length,
        std.get("content-md5", ""), std.get("content-type", ""), "", "", "", "", "", "",
    ]) + "\n" + "".join("%s:%s\n" % kv for kv in ms) + "/" + account + full_path
    for name, value in sorted((k.lower(), v) for k, v in query):
        string_to_sign += "\n%s:%s" % (name, value)
    headers["Authorization"] = "SharedKey %s:%s" % (
        account, sign(os.environ["AZBLOB_ACCOUNT_KEY"], string_to_sign))
    q = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    target = "%s://%s%s%s" % (base.scheme, base.netloc, full_path, "?" + q if q else "")
    req = urllib.request.Request(target, data=body if method == "PUT" else None,
                                 method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def escape(name):
    return urllib.parse.quote(name, safe="/~")


def mkcontainer(url, account, container, access="private"):
    """Create container; "public": anyone may list and read it (anonymously)."""
    headers = {"x-ms-blob-public-access": "container"} if access == "public" else {}
    status, body = shared_key_request(url, account, "PUT", "/" + escape(container),
                                      [("restype", "container")], headers)
    if status not in (201, 409):  # 409: it exists
        sys.exit("mkcontainer %s: HTTP %d %s" % (container, status, body[:300]))


def put(url, account, container, blob, body="", content_type="application/octet-stream",
        *metadata):
    headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": content_type}
    for kv in metadata:
        name, _, value = kv.partition("=")
        headers["x-ms-meta-" + name] = value
    status, answer = shared_key_request(url, account, "PUT",
                                        "/%s/%s" % (escape(container), escape(blob)), [],
                                        headers, body.encode("utf-8"))
    if status != 201:
        sys.exit("put %s/%s: HTTP %d %s" % (container, blob, status, answer[:300]))


def account_sas(account, permissions="rl"):
    """An account SAS for the Blob service (all resource types), valid a day."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expiry = (now + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = [account, permissions, "b", "sco", start, expiry, "", "", API_VERSION, ""]
    sig = sign(os.environ["AZBLOB_ACCOUNT_KEY"], "\n".join(fields) + "\n")
    query = [("sv", API_VERSION), ("ss", "b"), ("srt", "sco"), ("sp", permissions),
             ("st", start), ("se", expiry), ("sig", sig)]
    return urllib.parse.urlencode(query, quote_via=urllib.parse.quote, safe="")


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    url, account, command, args = argv[1], argv[2], argv[3], argv[4:]
    if command == "mkcontainer" and len(args) in (1, 2):
        mkcontainer(url, account, *args)
    elif command == "put" and len(args) >= 2:
        put(url, account, *args)
    elif command == "sas" and len(args) <= 1:
        print(account_sas(account, *args))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
