#!/usr/bin/env python3
"""bench/register.py SOCKET FIRST LAST ID NETNS NAME: register endpoints FIRST..LAST
with netd over one kept-alive connection (a curl each would take minutes at
10,000). ID, NETNS and NAME are %-formats of the endpoint's number, e.g.
'%064x' (a 64-hex container id, as podman sends), '/run/netns/e%d', 'c%d'; the
address is 10.78.(i / 250).(i % 250 + 1)/16 on network "bench"."""
import json
import socket
import sys

sock, first, last, idf, nsf, namef = sys.argv[1:7]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
f = s.makefile("rb")


def fmt(f, i):
    return f % i if "%" in f else f


for i in range(int(first), int(last) + 1):
    body = json.dumps({"containerID": fmt(idf, i), "network": "bench", "netns": fmt(nsf, i),
                       "name": fmt(namef, i), "ips": ["10.78.%d.%d/16" % (i // 250, i % 250 + 1)]}).encode()
    s.sendall(b"POST /v1/endpoints HTTP/1.1\r\nHost: netd\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    status = f.readline().split()[1]
    length = 0
    while True:
        h = f.readline().strip()
        if not h:
            break
        if h.lower().startswith(b"content-length:"):
            length = int(h.split(b":")[1])
    f.read(length)
    if status not in (b"200", b"201"):
        sys.exit("register %s: HTTP %s" % (fmt(idf, i), status.decode()))
