#!/usr/bin/env python3
"""An HTTPS server for the TLS tests of mesh's shared HTTP client.

Serves two ports with a certificate signed by the harness's test CA:
  PORT         server authentication only
  CLIENT_PORT  also requires a client certificate signed by the same CA
Every GET/POST answers 200 with a body that any mesh HTTP connector's health
check accepts ({"status": "success", "data": {"version": "tls-test"}}, plain
text version "tls-test" for ClickHouse) and the header
X-Influxdb-Version: tls-test.

Usage: tls_server.py PORT CLIENT_PORT CERT KEY CA   (binds 127.0.0.1)
"""

import signal
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b'{"status": "success", "data": {"version": "tls-test"}}'


class Handler(BaseHTTPRequestHandler):
    server_version = "tls-test/1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        body = b"tls-test\n" if "query=" in self.path else BODY
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Influxdb-Version", "tls-test")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def serve(port, cert, key, ca, require_client):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(ca)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    return httpd


def main():
    port, client_port, cert, key, ca = sys.argv[1:6]
    servers = [serve(int(port), cert, key, ca, False),
               serve(int(client_port), cert, key, ca, True)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()


if __name__ == "__main__":
    main()
