#!/usr/bin/env python3
"""Verify every DKIM-Signature of a message with dkimpy (python3-dkim).

Usage: dkim-verify.py MESSAGE RECORDS

RECORDS holds one key a line: "<selector>._domainkey.<domain> <TXT value>";
the verifier's DNS lookups are answered from it, nothing goes to the
network.  Prints one line per signature; exits 0 if there is at least one
signature and all of them verify, 1 if one does not, 2 on a usage error.
"""
import sys

import dkim


def main():
    if len(sys.argv) != 3:
        print("usage: dkim-verify.py MESSAGE RECORDS", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        msg = f.read()
    records = {}
    with open(sys.argv[2], "rb") as f:
        for line in f:
            name, _, txt = line.rstrip(b"\r\n").partition(b" ")
            records[name.lower().rstrip(b".") + b"."] = txt

    def dnsfunc(name, timeout=5):
        return records.get(name.lower())

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
