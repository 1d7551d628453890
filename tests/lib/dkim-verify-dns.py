#!/usr/bin/python3
"""Verify every DKIM-Signature of a message with dkimpy (python3-dkim),
fetching the keys over DNS from a test's own server (dnsmasq), never
from the machine's resolver.

Usage: dkim-verify-dns.py MESSAGE DNS-ADDRESS DNS-PORT

Prints one line per signature; exits 0 if there is at least one and all
of them verify, 1 if one does not, 2 on a usage error.
"""
import sys

import dkim
import dns.resolver


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        msg = f.read()
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [sys.argv[2]]
    res.port = int(sys.argv[3])
    res.lifetime = 5

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        try:
            ans = res.resolve(name, "TXT")
        except Exception as e:      # noqa: B902 - NXDOMAIN and the rest
            print("dns %s: %s" % (name, e))
            return None
        return b"".join(b"".join(r.strings) for r in ans)

    d = dkim.DKIM(msg, minkey=1024)
    n = sum(1 for k, _ in d.headers if k.lower() == b"dkim-signature")
    good = 0
    for i in range(n):
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
        except dkim.DKIMException as e:
            print("signature %d: error: %s" % (i, e))
            ok = False
        print("signature %d: %s" % (i, "pass" if ok else "fail"))
        good += 1 if ok else 0
    if n == 0:
        print("no signature")
    return 0 if n > 0 and good == n else 1


if __name__ == "__main__":
    sys.exit(main())
