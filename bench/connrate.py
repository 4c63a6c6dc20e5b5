#!/usr/bin/python3
"""connrate.py serve PORT | connrate.py HOST PORT SECONDS

serve: accept and close TCP connections on PORT (all addresses) forever.
client: open and close connections to HOST:PORT for SECONDS, one at a time
from each of 4 processes; print connections per second (all processes).
"""
import multiprocessing
import socket
import sys
import time


def serve(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(4096)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()


def worker(host, port, secs, q):
    n = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # RST on close: no TIME_WAIT, so the port space never runs out
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.settimeout(2)
        try:
            c.connect((host, port))
            n += 1
        except OSError:
            pass
        c.close()
    q.put(n)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=worker, args=(host, port, secs, q)) for _ in range(4)]
    for p in ps:
        p.start()
    total = sum(q.get() for _ in ps)
    for p in ps:
        p.join()
    print("%.0f" % (total / secs))
