#!/usr/bin/env python3
"""Verify every DKIM-Signature of a message with dkimpy (python3-dkim).

Usage: dkim-verify.py MESSAGE RECORDS
       dkim-verify.py MESSAGE --dns ADDRESS PORT

RECORDS holds one key a line: "<selector>._domainkey.<domain> <TXT value>";
the verifier's DNS lookups are answered from it, nothing goes to the
network.  With --dns the keys are TXT records asked of that server (a
test's own dnsmasq), never of the machine's resolver.  Prints one line
per signature; exits 0 if there is at least one signature and all of
them verify, 1 if one does not, 2 on a usage error.
"""
import sys

import dkim


def records_from_file(path):
    records = {}
    with open(path, "rb") as f:
        for line in f:
            name, _, txt = line.rstrip(b"\r\n").partition(b" ")
            records[name.lower().rstrip(b".") + b"."] = txt

    def dnsfunc(name, timeout=5):
        return records.get(name.lower())
    return dnsfunc


def records_from_dns(addr, port):
    import dns.resolver
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [addr]
    res.port = int(port)
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
    return dnsfunc


def main():
    if len(sys.argv) == 3:
        dnsfunc = records_from_file(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[2] == "--dns":
        dnsfunc = records_from_dns(sys.argv[3], sys.argv[4])
    else:
        print("usage: dkim-verify.py MESSAGE RECORDS | "
              "MESSAGE --dns ADDRESS PORT", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        msg = f.read()

    d = dkim.DKIM(msg, minkey=1024)
    n = sum(1 for k, _ in d.headers if k.lower() == b"dkim-signature")
    good = 0
    for i in range(n):
        try:
            res = d.verify(idx=i, dnsfunc=dnsfunc)
        except dkim.DKIMException as e:
            print("signature %d: error: %s" % (i, e))
            res = False
        print("signature %d: %s" % (i, "pass" if res else "fail"))
        good += 1 if res else 0
    if n == 0:
        print("no signature")
    return 0 if n > 0 and good == n else 1


if __name__ == "__main__":
    sys.exit(main())
