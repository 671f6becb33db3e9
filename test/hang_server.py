#!/usr/bin/env python3
"""A TCP server that accepts connections and never answers.

Used by the tests as the "hanging" backend: a connect succeeds at once, but
every read by the client blocks until the client's own timeout fires.  Each
accepted connection is kept open (and what the client sends is read and
dropped) until the client closes it; nothing is ever written back.

Usage: hang_server.py PORT [HOST]   (HOST defaults to 127.0.0.1)
Stops on SIGTERM or SIGINT.
"""

import selectors
import signal
import socket
import sys


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: hang_server.py PORT [HOST]", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"

    running = True

    def stop(_signum, _frame):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(1024)
    listener.setblocking(False)

    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    print(f"hang_server listening on {host}:{port}", flush=True)

    while running:
        try:
            events = sel.select(timeout=0.5)
        except InterruptedError:
            continue
        for key, _mask in events:
            sock = key.fileobj
            if sock is listener:
                try:
                    conn, _addr = listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, "client")
                continue
            # A client: swallow its bytes, never reply; close when it closes.
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(sock)
                sock.close()

    for key in list(sel.get_map().values()):
        key.fileobj.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
