#!/usr/bin/env python3
"""An HTTP server that answers with garbage, for the error-path tests.

  any GET/POST/PUT/DELETE  200, Content-Type application/json, and a body
                           that is truncated (malformed) JSON
  /status500...            500 with the body "boom"
  /slow...                 sleeps 60 s before answering (a hanging HTTP
                           server: the client's own timeout must fire)

A request body is read (and dropped) before the answer. Each request runs
in its own thread, so a /slow request does not block the others.

Usage: garbage_server.py PORT [HOST]   (HOST defaults to 127.0.0.1)
Stops on SIGTERM or SIGINT.
"""

import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GARBAGE = b'{"results": [ {"series": [ {"name": '
SLOW_SECONDS = 60


class Handler(BaseHTTPRequestHandler):
    server_version = "garbage/1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        if self.path.startswith("/slow"):
            time.sleep(SLOW_SECONDS)
        if self.path.startswith("/status500"):
            status, ctype, body = 500, "text/plain", b"boom"
        else:
            status, ctype, body = 200, "application/json", GARBAGE
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer
    do_PUT = _answer
    do_DELETE = _answer

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))
        sys.stderr.flush()


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: garbage_server.py PORT [HOST]", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"

    def stop(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True  # a /slow request does not delay exit
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"garbage_server listening on {host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
