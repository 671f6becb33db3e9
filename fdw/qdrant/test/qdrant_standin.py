#!/usr/bin/env python3
"""A CONTRACT stand-in for Qdrant's REST API (no Qdrant server can be had on
this machine): it reproduces the request and response shapes of Qdrant's
documented API (v1.x) for what mesh_qdrant sends, keeps points in memory,
and validates every request it receives, rejecting a malformed one with a
Qdrant-shaped error (HTTP 400 {"status": {"error": "..."}, "time": t}), so
mesh's requests are checked against the contract. It is not Qdrant: a test
against it is a contract test.

  GET    /                                      {"title", "version"}
  GET    /healthz                               "healthz check passed" (no api key needed)
  GET    /collections/{c}                       collection info, 404 if absent
  PUT    /collections/{c}                       {"vectors": {"size", "distance"}}
  DELETE /collections/{c}
  PUT    /collections/{c}/points?wait=true      upsert {"points": [{id, vector, payload}]}
  POST   /collections/{c}/points/delete         {"points": [ids]}
  POST   /collections/{c}/points                retrieve {"ids", "with_payload", "with_vector"}
  POST   /collections/{c}/points/search         {"vector", "limit", "filter"?, "with_payload"?}
  POST   /collections/{c}/points/count          {"exact": true}
  POST   /collections/{c}/points/scroll         {"limit", "offset"?, "with_payload"?, "with_vector"?}

Answers: {"result": ..., "status": "ok", "time": seconds}. Point ids are
unsigned integers or UUID strings (canonical form). Scores: Cosine (vectors
normalised at upsert, as Qdrant does), Dot, Euclid (the distance, ascending).
Filters: {"must"|"should"|"must_not": [{"key": k, "match": {"value": v}}]}.
With the environment variable QDRANT_API_KEY set, every request needs the
header api-key with that value (else 401, as Qdrant answers).

Usage: qdrant_standin.py PORT [HOST]      Stops on SIGTERM or SIGINT.
"""

import json
import math
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

VERSION = "1.12.4"
API_KEY = os.environ.get("QDRANT_API_KEY")
LOCK = threading.Lock()
COLLECTIONS = {}  # name -> {"size", "distance", "points": {id: (vector, payload)}}
OPERATION = [0]
NAME_RE = re.compile(r"^[^/\x00]{1,255}$")


class Invalid(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def need(cond, message, status=400):
    if not cond:
        raise Invalid(status, message)


def point_id(v):
    """A point id as Qdrant accepts it: an unsigned integer or a UUID string."""
    if isinstance(v, bool):
        raise Invalid(400, "Format error in JSON body: value %r is not a valid point ID, valid values are either an unsigned integer or a UUID" % (v,))
    if isinstance(v, int) and v >= 0:
        return v
    if isinstance(v, str):
        try:
            return str(uuid.UUID(v))
        except ValueError:
            pass
    raise Invalid(400, "Format error in JSON body: value %s is not a valid point ID, valid values are either an unsigned integer or a UUID" % json.dumps(v))


def vector(v, size, what="vector"):
    need(isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v),
         "Format error in JSON body: %s must be an array of numbers" % what)
    need(len(v) == size, "Wrong input: Vector dimension error: expected dim: %d, got %d" % (size, len(v)))
    return [float(x) for x in v]


def normalise(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n > 0 else v


def score(distance, a, b):
    if distance == "Euclid":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
    return sum(x * y for x, y in zip(a, b))


def matches(payload, flt):
    if flt is None:
        return True
    need(isinstance(flt, dict) and set(flt) <= {"must", "should", "must_not"},
         "Format error in JSON body: unknown filter clause")

    def cond(c):
        need(isinstance(c, dict) and set(c) == {"key", "match"} and isinstance(c["match"], dict)
             and set(c["match"]) == {"value"}, "Format error in JSON body: unsupported condition %s" % json.dumps(c))
        return payload.get(c["key"]) == c["match"]["value"]

    for name in flt:
        need(isinstance(flt[name], list), "Format error in JSON body: %s must be an array" % name)
    if not all(cond(c) for c in flt.get("must", [])):
        return False
    if flt.get("should") and not any(cond(c) for c in flt["should"]):
        return False
    return not any(cond(c) for c in flt.get("must_not", []))


def sort_key(pid):
    return (0, pid, "") if isinstance(pid, int) else (1, 0, pid)


def point_json(pid, vec, payload, with_payload, with_vector):
    p = {"id": pid}
    if with_payload:
        p["payload"] = payload
    if with_vector:
        p["vector"] = vec
    return p


def collection(name):
    c = COLLECTIONS.get(name)
    need(c is not None, "Not found: Collection `%s` doesn't exist!" % name, 404)
    return c


def handle(method, parts, query, body):
    """The result of one request (or raises Invalid)."""
    if parts == [] and method == "GET":
        return None
    need(len(parts) >= 2 and parts[0] == "collections" and NAME_RE.match(parts[1]),
         "Not found: no route %s /%s" % (method, "/".join(parts)), 404)
    name = parts[1]
    rest = parts[2:]
    if rest == []:
        if method == "GET":
            c = collection(name)
            return {"status": "green", "optimizer_status": "ok", "points_count": len(c["points"]),
                    "config": {"params": {"vectors": {"size": c["size"], "distance": c["distance"]}}}}
        if method == "PUT":
            need(isinstance(body, dict) and isinstance(body.get("vectors"), dict),
                 "Format error in JSON body: missing field `vectors`")
            v = body["vectors"]
            need(isinstance(v.get("size"), int) and not isinstance(v.get("size"), bool) and v["size"] >= 1,
                 "Format error in JSON body: vectors.size must be a positive integer")
            need(v.get("distance") in ("Cosine", "Dot", "Euclid", "Manhattan"),
                 "Format error in JSON body: unknown variant `%s`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`" % v.get("distance"))
            need(name not in COLLECTIONS, "Wrong input: Collection `%s` already exists!" % name, 409)
            COLLECTIONS[name] = {"size": v["size"], "distance": v["distance"], "points": {}}
            return True
        if method == "DELETE":
            return COLLECTIONS.pop(name, None) is not None
    c = collection(name)
    pts = c["points"]
    need(isinstance(body, dict), "Format error in JSON body: expected a JSON object")
    if rest == ["points"] and method == "PUT":
        need(query.get("wait") == ["true"], "mesh contract: upserts must be sent with ?wait=true")
        need(set(body) == {"points"} and isinstance(body["points"], list) and body["points"],
             "Format error in JSON body: expected {\"points\": [...]}")
        staged = []
        for p in body["points"]:
            need(isinstance(p, dict) and set(p) <= {"id", "vector", "payload"} and "id" in p and "vector" in p,
                 "Format error in JSON body: a point needs id and vector")
            vec = vector(p["vector"], c["size"])
            payload = p.get("payload") or {}
            need(isinstance(payload, dict), "Format error in JSON body: payload must be an object")
            staged.append((point_id(p["id"]), normalise(vec) if c["distance"] == "Cosine" else vec, payload))
        for pid, vec, payload in staged:
            pts[pid] = (vec, payload)
        OPERATION[0] += 1
        return {"operation_id": OPERATION[0], "status": "completed"}
    if rest == ["points", "delete"] and method == "POST":
        need(query.get("wait") == ["true"], "mesh contract: deletes must be sent with ?wait=true")
        need(set(body) == {"points"} and isinstance(body["points"], list),
             "Format error in JSON body: expected {\"points\": [ids]}")
        for pid in [point_id(x) for x in body["points"]]:
            pts.pop(pid, None)
        OPERATION[0] += 1
        return {"operation_id": OPERATION[0], "status": "completed"}
    if rest == ["points"] and method == "POST":
        need(isinstance(body.get("ids"), list), "Format error in JSON body: missing field `ids`")
        out = []
        for pid in [point_id(x) for x in body["ids"]]:
            if pid in pts:
                out.append(point_json(pid, pts[pid][0], pts[pid][1], body.get("with_payload", True),
                                      body.get("with_vector", False)))
        return out
    if rest == ["points", "search"] and method == "POST":
        q = vector(body.get("vector"), c["size"], "vector")
        limit = body.get("limit")
        need(isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1,
             "Format error in JSON body: limit must be a positive integer")
        if c["distance"] == "Cosine":
            q = normalise(q)
        hits = [(score(c["distance"], q, v), pid, payload) for pid, (v, payload) in pts.items()
                if matches(payload, body.get("filter"))]
        hits.sort(key=lambda h: (h[0] if c["distance"] == "Euclid" else -h[0], sort_key(h[1])))
        return [dict(point_json(pid, None, payload, body.get("with_payload", False), False),
                     version=OPERATION[0], score=s) for s, pid, payload in hits[:limit]]
    if rest == ["points", "count"] and method == "POST":
        need(body.get("exact") is True, "mesh contract: counts must be exact")
        return {"count": sum(1 for _, payload in pts.values() if matches(payload, body.get("filter")))}
    if rest == ["points", "scroll"] and method == "POST":
        limit = body.get("limit", 10)
        need(isinstance(limit, int) and limit >= 1, "Format error in JSON body: limit must be a positive integer")
        ids = sorted(pts, key=sort_key)
        if body.get("offset") is not None:
            start = sort_key(point_id(body["offset"]))
            ids = [i for i in ids if sort_key(i) >= start]
        page = ids[:limit]
        return {"points": [point_json(i, pts[i][0], pts[i][1], body.get("with_payload", True),
                                      body.get("with_vector", False)) for i in page],
                "next_page_offset": ids[limit] if len(ids) > limit else None}
    raise Invalid(404, "Not found: no route %s /%s" % (method, "/".join(parts)))


class Handler(BaseHTTPRequestHandler):
    server_version = "qdrant-standin/" + VERSION

    def answer(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def run(self, method):
        t0 = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if self.path == "/healthz":  # exempt from the api key, as in Qdrant
            data = b"healthz check passed"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if API_KEY is not None and self.headers.get("api-key") != API_KEY:
            data = b"Must provide an API key or an Authorization bearer token"
            self.send_response(401)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        try:
            body = None
            if raw:
                need(self.headers.get("Content-Type", "").startswith("application/json"),
                     "mesh contract: bodies must be sent as application/json")
                try:
                    body = json.loads(raw)
                except ValueError as e:
                    raise Invalid(400, "Format error in JSON body: %s" % e)
            with LOCK:
                result = handle(method, parts, parse_qs(url.query), body)
            if parts == []:
                self.answer(200, {"title": "qdrant - vector search engine (mesh contract stand-in)", "version": VERSION})
                return
            self.answer(200, {"result": result, "status": "ok", "time": time.monotonic() - t0})
        except Invalid as e:
            self.answer(e.status, {"status": {"error": e.message}, "time": time.monotonic() - t0})

    def do_GET(self):
        self.run("GET")

    def do_PUT(self):
        self.run("PUT")

    def do_POST(self):
        self.run("POST")

    def do_DELETE(self):
        self.run("DELETE")

    def log_message(self, fmt, *args):
        pass


def main():
    port = int(sys.argv[1])
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    server = ThreadingHTTPServer((host, port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
