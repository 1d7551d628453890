#!/usr/bin/env python3
"""SPF checks with pyspf (Debian's python3-spf), the reference of
tests/integration/61-spf.t.

Usage: pyspf-check.py ADDRESS PORT RECEIVER NOW TIMEOUT < CHECKS

CHECKS holds lines "ip helo mailfrom" as tests/unit/spf_tool reads them
(mailfrom "<>" for none; \\s, \\\\ and \\xHH in any field).  pyspf asks
its DNS questions of ADDRESS:PORT only (the test's dnsmasq, never the
machine's resolver), through dnspython, which pyspf uses on Debian 12;
%{r} is RECEIVER, %{t} is NOW, and TIMEOUT seconds bound each check
(pyspf's querytime).  Prints one line per check, in order: the result,
a tab, and on fail the explanation ("" for pyspf's default text).  An
exception out of pyspf prints "exception" and its text.  Checks run on
a few threads: most of the time is spent waiting for dnsmasq.
"""
import concurrent.futures
import re
import sys

import dns.name
import dns.resolver
import spf


def unescape(s):
    return re.sub(r"\\(s|\\|x[0-9a-fA-F]{2})",
                  lambda m: " " if m.group(1) == "s" else
                  "\\" if m.group(1) == "\\" else
                  chr(int(m.group(1)[1:], 16)), s)


def main():
    if len(sys.argv) != 6:
        sys.stderr.write(__doc__)
        return 2
    addr, port, receiver, now, timeout = sys.argv[1:]
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [addr]
    r.port = int(port)
    r.domain = dns.name.root
    r.search = []
    r.use_search_by_default = False
    r.timeout = r.lifetime = float(timeout)
    dns.resolver.default_resolver = r
    default_exp = spf.EXPLANATIONS["fail"]

    def check(line):
        f = [unescape(x) for x in line.split()]
        if len(f) != 3:
            return "badline\t"
        ip, helo, mailfrom = f
        if mailfrom == "<>":
            mailfrom = ""
        try:
            q = spf.query(i=ip, s=mailfrom, h=helo, receiver=receiver,
                          querytime=float(timeout))
            q.t = now
            res, _, exp = q.check()
        except Exception as e:  # pyspf's own bugs are results too
            return "exception\t%s: %s" % (type(e).__name__,
                                          str(e).replace("\t", " "))
        if res != "fail" or exp == default_exp:
            exp = ""
        return "%s\t%s" % (res, exp.replace("\t", " ").replace("\n", " "))

    lines = sys.stdin.read().splitlines()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for out in pool.map(check, lines):
            print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
