#!/usr/bin/python3
"""Tiny TCP/UDP peers for traffic tests: who answered, and from where.

  echo.py serve NAME PORT [PORT...]   answer "NAME <peer address>" on TCP and UDP, every port
  echo.py tcp HOST PORT [TIMEOUT]     print the answer; exit 1 if none
  echo.py udp HOST PORT [TIMEOUT]

The server tells the client's address as it saw it, so a test can assert
both which container a published port reached and whether the source was
translated on the way.
"""
import selectors
import socket
import sys


def serve(name, ports):
    sel = selectors.DefaultSelector()
    for port in ports:
        for fam, addr in ((socket.AF_INET6, "::"),):
            t = socket.socket(fam, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            t.bind((addr, port))
            t.listen(64)
            sel.register(t, selectors.EVENT_READ, "tcp")
            u = socket.socket(fam, socket.SOCK_DGRAM)
            u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            u.bind((addr, port))
            sel.register(u, selectors.EVENT_READ, "udp")
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if key.data == "tcp":
                c, peer = s.accept()
                c.sendall(("%s %s\n" % (name, peer[0].removeprefix("::ffff:"))).encode())
                c.close()
            else:
                _, peer = s.recvfrom(2048)
                s.sendto(("%s %s\n" % (name, peer[0].removeprefix("::ffff:"))).encode(), peer)


def client(proto, host, port, timeout):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        if proto == "tcp":
            s.connect((host, port))
            data = s.recv(2048)
        else:
            s.sendto(b"hi", (host, port))
            data, _ = s.recvfrom(2048)
    except OSError as e:
        print("no answer: %s" % e, file=sys.stderr)
        return 1
    sys.stdout.write(data.decode())
    return 0 if data else 1


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], [int(p) for p in sys.argv[3:]])
    else:
        sys.exit(client(sys.argv[1], sys.argv[2], int(sys.argv[3]),
                        float(sys.argv[4]) if len(sys.argv) > 4 else 1.0))
