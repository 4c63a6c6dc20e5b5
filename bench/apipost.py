#!/usr/bin/python3
"""apipost.py SOCKET METHOD PATH [BODY_FILE]: one request to netd over its
unix socket; prints the status and the wall time of the request in µs
(connection to answer), without a client process start in the measure."""
import http.client
import socket
import sys
import time


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("netd")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def main():
    sock, method, path = sys.argv[1:4]
    body = open(sys.argv[4], "rb").read() if len(sys.argv) > 4 else None
    t = time.monotonic()
    c = UnixConn(sock)
    c.request(method, path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    us = (time.monotonic() - t) * 1e6
    print(r.status, int(us))
    return 0 if r.status < 300 else 1


sys.exit(main())
