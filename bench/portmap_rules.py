#!/usr/bin/python3
"""The nat rules the reference portmap plugin (containernetworking-plugins,
iptables backend, snat on) adds for containers, as an iptables-restore
--noflush input, so bench/ports.sh can put the rules of hundreds of earlier
containers in place in one call instead of hundreds of ADDs.

  portmap_rules.py NETWORK SUBNET < spec > restore-input
  spec: one container a line: "ID IP HOST:CTR[,HOST:CTR...]" (tcp)

Per container (as iptables-save shows after a real ADD): a chain
CNI-DN-<first 21 hex digits of sha512(NETWORK + ID)> holding, per mapping,
two SETMARK jumps (from SUBNET and from 127.0.0.1) and the DNAT; and in
CNI-HOSTPORT-DNAT one jump to it per 15 host ports (multiport's limit),
appended in ADD order. bench/ports.sh checks this against real ADDs
(`check` below) before it relies on it.

  portmap_rules.py lines NETWORK SUBNET < spec   the same rules as
  iptables-save prints them (for that check)
"""
import hashlib
import sys


def chain(network, cid):
    return "CNI-DN-" + hashlib.sha512((network + cid).encode()).hexdigest()[:21]


def rules(network, subnet, spec):
    chains, dn, jumps = [], [], []
    for line in spec:
        f = line.split()
        if not f:
            continue
        cid, ip, maps = f[0], f[1], [m.split(":") for m in f[2].split(",")]
        c = chain(network, cid)
        chains.append(":%s - [0:0]" % c)
        for h, p in maps:
            dn.append("-A %s -s %s -p tcp -m tcp --dport %s -j CNI-HOSTPORT-SETMARK" % (c, subnet, h))
            dn.append("-A %s -s 127.0.0.1/32 -p tcp -m tcp --dport %s -j CNI-HOSTPORT-SETMARK" % (c, h))
            dn.append("-A %s -p tcp -m tcp --dport %s -j DNAT --to-destination %s:%s" % (c, h, ip, p))
        for i in range(0, len(maps), 15):
            ports = ",".join(h for h, _ in maps[i:i + 15])
            jumps.append('-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"%s\\" id: \\"%s\\"" '
                         "-m multiport --dports %s -j %s" % (network, cid, ports, c))
    return chains, dn, jumps


def main():
    args = sys.argv[1:]
    only_lines = args and args[0] == "lines"
    if only_lines:
        args = args[1:]
    network, subnet = args
    chains, dn, jumps = rules(network, subnet, sys.stdin)
    if only_lines:
        print("\n".join(dn + jumps))
        return
    print("*nat")
    print("\n".join(chains + dn + jumps))
    print("COMMIT")


main()
