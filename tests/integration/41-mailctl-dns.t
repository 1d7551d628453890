#!/usr/bin/env python3
# mailctl dns and mailctl dns check: the records printed for the domains
# of mail.conf are served by a private dnsmasq exactly as printed, and
# the check finds them all ok (exit 0); zones broken one way at a time
# (no MX, MX elsewhere, SPF without -all, two SPF records, another DKIM
# key, no DMARC, no PTR, PTR not forward-confirmed, odd bytes) are
# reported as that record and nothing else (exit 1); a DNS server that
# does not answer, or answers SERVFAIL, is reported as such in bounded
# time; bad arguments exit 2, an unknown domain 1.
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

MAILCTL = os.path.join(t.REPO, "mailctl")
HOST = "mx.test"                   # maildtest's hostname
V4, V6 = "192.0.2.10", "2001:db8::10"


def mailctl(*args, timeout=60):
    r = subprocess.run([MAILCTL] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return (r.returncode, r.stdout.decode("utf-8", "replace"),
            r.stderr.decode("utf-8", "replace"))


def unquote(s):
    """The bytes of the "..." strings of a zone file TXT record."""
    out = []
    for q in re.findall(r'"((?:[^"\\]|\\.)*)"', s):
        b = bytearray()
        i = 0
        while i < len(q):
            if q[i] == "\\" and q[i + 1:i + 4].isdigit():
                b.append(int(q[i + 1:i + 4]))
                i += 4
            elif q[i] == "\\":
                b += q[i + 1].encode()
                i += 2
            else:
                b += q[i].encode()
                i += 1
        out.append(bytes(b))
    return out


def parse_zone(text):
    """(name, type, data) of each record printed, PTR lines included
    (they are commented out: the provider's zone holds them)."""
    recs = []
    for line in text.splitlines():
        m = re.match(r"^(?:; )?(\S+)\. IN (A|AAAA|MX|TXT|PTR) (.*)$", line)
        if not m or "<" in line:
            continue
        name, typ, data = m.groups()
        if typ == "MX":
            pref, target = data.split()
            data = (int(pref), target.rstrip("."))
        elif typ == "TXT":
            data = unquote(data)
        elif typ == "PTR":
            data = data.rstrip(".")
        recs.append((name, typ, data))
    return recs


def dnsmasq_opts(recs):
    """The records as dnsmasq options (--address: no automatic PTR)."""
    opts = []
    for name, typ, data in recs:
        if typ in ("A", "AAAA"):
            opts.append("--address=/%s/%s" % (name, data))
        elif typ == "MX":
            opts.append("--mx-host=%s,%s,%d" % (name, data[1], data[0]))
        elif typ == "TXT":
            opts.append("--txt-record=%s,%s" % (name, ",".join(
                p.decode("latin-1") for p in data)))
        elif typ == "PTR":
            opts.append("--ptr-record=%s,%s" % (name, data))
    return opts


def rev4(ip):
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def problems(out):
    """The report lines that are not ok."""
    return [line for line in out.splitlines()
            if not re.match(r"^\S+ \S+: ok\b", line)]


class FakeDNS(threading.Thread):
    """A DNS server on the resolver's port that never answers, or that
    answers SERVFAIL to everything."""

    def __init__(self, addr, port, servfail):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, port))
        self.sock.settimeout(0.2)
        self.servfail = servfail
        self.queries = 0
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            self.queries += 1
            if self.servfail and len(q) >= 12:
                # QR, the query's opcode and RD, RA, RCODE 2; no records
                # but the question.
                r = q[:2] + bytes([0x80 | (q[2] & 0x79), 0x82]) + \
                    q[4:6] + b"\0\0\0\0\0\0" + q[12:]
                self.sock.sendto(r, peer)

    def stop(self):
        self.stopping = True
        self.join(5)
        self.sock.close()


def main():
    dns = t.Dnsmasq([])
    m = t.Maild(domains=("example.org", "example.net"))
    keys = {}
    for typ, sel in (("rsa", "r1"), ("ed25519", "e1"), ("rsa", "r9")):
        keys[sel] = os.path.join(m.dir, "%s.key" % sel)
        rc, out, err = mailctl("dkim", "keygen", "-t", typ, "-s", sel, "-o",
                               keys[sel], "example.org")
        t.is_(rc, 0, "dkim keygen %s %s" % (typ, sel))
        if sel == "r9":
            # Another key, not in mail.conf: the "wrong key" zone.
            other_key = unquote(re.search(r" IN TXT (.*)$", out,
                                          re.M).group(1))
    m.extra = "\n".join([
        dns.conf(),
        'dkim example.org selector r1 key "%s"' % keys["r1"],
        'dkim example.org selector e1 key "%s"' % keys["e1"]])
    m.write_files()
    conf = ["-f", m.conf]

    # -- mailctl dns
    rc, out, err = mailctl(*conf, "dns")
    t.is_(rc, 0, "dns: exit 0")
    t.like(out, r"(?m)^; mx\.test\. IN A <IPv4 address>$",
           "listeners on loopback only: a placeholder for the address")
    t.like(out, r"(?m)^; <reverse name of each address> IN PTR mx\.test\.$",
           "... and for the PTR")
    rc, zone, err = mailctl(*conf, "dns", "-a", V4, "-a", V6)
    t.is_(rc, 0, "dns -a -a: exit 0")
    recs = parse_zone(zone)
    got = sorted((n, ty) for n, ty, d in recs)
    want = sorted([
        (HOST, "A"), (HOST, "AAAA"),
        ("example.org", "MX"), ("example.org", "TXT"),
        ("r1._domainkey.example.org", "TXT"),
        ("e1._domainkey.example.org", "TXT"),
        ("_dmarc.example.org", "TXT"),
        ("example.net", "MX"), ("example.net", "TXT"),
        ("_dmarc.example.net", "TXT"),
        (rev4(V4), "PTR"),
        ("0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
         "ip6.arpa", "PTR")])
    if not t.is_(got, want, "dns: every record of both domains"):
        t.diag(zone)
    rec = dict(((n, ty), d) for n, ty, d in recs)
    t.is_(rec.get(("example.org", "MX")), (10, HOST), "MX 10 mx.test.")
    t.is_(rec.get(("example.org", "TXT")), [b"v=spf1 mx -all"], "SPF")
    t.is_(rec.get(("_dmarc.example.org", "TXT")),
          [b"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org"],
          "DMARC starts at quarantine")
    t.is_(rec.get((rev4(V4), "PTR")), HOST, "PTR to ask for")
    r1 = rec.get(("r1._domainkey.example.org", "TXT"), [])
    t.ok(len(r1) > 1 and all(len(s) <= 255 for s in r1),
         "2048-bit RSA key: %d TXT strings, each <= 255 bytes (%s)"
         % (len(r1), [len(s) for s in r1]))
    t.ok(all(len(s) <= 255 for n, ty, d in recs if ty == "TXT" for s in d),
         "every TXT string <= 255 bytes")
    t.like(b"".join(r1).decode(), r"^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+$",
           "DKIM record of r1")
    comments = [ln for ln in zone.splitlines() if ln.startswith(";")]
    t.ok(len(comments) >= 10, "a comment line before each group")

    rc, out, err = mailctl(*conf, "dns", "example.net")
    t.ok(rc == 0 and "example.net. IN MX" in out and
         "example.org" not in out, "dns example.net: that domain only")

    # -- mailctl dns check, on the records as printed
    dns.records = dnsmasq_opts(recs)
    dns.start()
    check = conf + ["dns", "check", "-a", V4, "-a", V6]
    rc, out, err = mailctl(*check)
    if not t.is_(rc, 0, "check: the printed records are all ok (exit 0)"):
        t.diag(out + err)
    t.is_(problems(out), [], "... every line says ok")
    for line in ("A mx.test", "AAAA mx.test", "PTR " + V4, "FCrDNS " + V4,
                 "PTR " + V6, "FCrDNS " + V6, "MX example.org",
                 "SPF example.org", "DKIM r1._domainkey.example.org",
                 "DKIM e1._domainkey.example.org",
                 "DMARC _dmarc.example.org", "MX example.net",
                 "SPF example.net", "DMARC _dmarc.example.net"):
        t.like(out, r"(?m)^%s: ok" % re.escape(line), "check: %s" % line)
    rc, out, err = mailctl(*conf, "dns", "check", "example.net")
    t.ok(rc == 0 and "example.org" not in out and
         re.search(r"(?m)^MX example\.net: ok", out),
         "check example.net: that domain only, ok without -a")

    # -- broken zones, one thing at a time
    def zone_without(pred, extra=()):
        return [r for r in recs if not pred(*r)] + list(extra)

    broken = [
        ("no MX",
         zone_without(lambda n, ty, d: (n, ty) == ("example.org", "MX")),
         [r"^MX example\.org: missing"]),
        ("MX to another host",
         zone_without(lambda n, ty, d: (n, ty) == ("example.org", "MX"),
                      [("example.org", "MX", (10, "mx.elsewhere.test"))]),
         [r"^MX example\.org: wrong: got mx\.elsewhere\.test, want mx\.test"]),
        ("SPF without -all",
         zone_without(lambda n, ty, d: (n, ty) == ("example.org", "TXT"),
                      [("example.org", "TXT", [b"v=spf1 mx"])]),
         [r'^SPF example\.org: wrong: got "v=spf1 mx", want .*-all']),
        ("SPF ?all",
         zone_without(lambda n, ty, d: (n, ty) == ("example.org", "TXT"),
                      [("example.org", "TXT", [b"v=spf1 mx ?all"])]),
         [r"^SPF example\.org: wrong: .*\?all"]),
        ("SPF not naming this host",
         zone_without(lambda n, ty, d: (n, ty) == ("example.org", "TXT"),
                      [("example.org", "TXT",
                        [b"v=spf1 ip4:198.51.100.0/24 -all"])]),
         [r"^SPF example\.org: wrong: .*no mx"]),
        ("two SPF records",
         recs + [("example.org", "TXT", [b"v=spf1 a -all"])],
         [r"^SPF example\.org: wrong: got 2 v=spf1 records"]),
        ("DKIM with another key",
         zone_without(lambda n, ty, d: n == "r1._domainkey.example.org",
                      [("r1._domainkey.example.org", "TXT", other_key)]),
         [r"^DKIM r1\._domainkey\.example\.org: wrong: got k=rsa p=\.\.\."]),
        ("no DKIM record",
         zone_without(lambda n, ty, d: n == "e1._domainkey.example.org"),
         [r"^DKIM e1\._domainkey\.example\.org: missing"]),
        ("no DMARC",
         zone_without(lambda n, ty, d: n == "_dmarc.example.org"),
         [r"^DMARC _dmarc\.example\.org: missing"]),
        ("DMARC without p=",
         zone_without(lambda n, ty, d: n == "_dmarc.example.org",
                      [("_dmarc.example.org", "TXT", [b"v=DMARC1; rua=x"])]),
         [r"^DMARC _dmarc\.example\.org: wrong: got \"v=DMARC1; rua=x\""]),
        ("no PTR",
         zone_without(lambda n, ty, d: n == rev4(V4)),
         [r"^PTR 192\.0\.2\.10: missing", r"^FCrDNS 192\.0\.2\.10: missing"]),
        ("PTR not forward-confirmed",
         zone_without(lambda n, ty, d: n == rev4(V4),
                      [(rev4(V4), "PTR", "liar.test"),
                       ("liar.test", "A", "192.0.2.99")]),
         [r"^PTR 192\.0\.2\.10: wrong: got liar\.test, want mx\.test",
          r"^FCrDNS 192\.0\.2\.10: wrong: got liar\.test -> 192\.0\.2\.99, "
          r"want 192\.0\.2\.10"]),
        ("PTR to another name that confirms",
         zone_without(lambda n, ty, d: n == rev4(V4),
                      [(rev4(V4), "PTR", "other.test"),
                       ("other.test", "A", V4)]),
         [r"^PTR 192\.0\.2\.10: wrong: got other\.test, want mx\.test"]),
        ("A of the host elsewhere",
         zone_without(lambda n, ty, d: (n, ty) == (HOST, "A"),
                      [(HOST, "A", "192.0.2.20"),
                       (rev4("192.0.2.20"), "PTR", HOST)]),
         [r"^A mx\.test: wrong: got 192\.0\.2\.20, want 192\.0\.2\.10",
          r"^FCrDNS 192\.0\.2\.10: wrong: got mx\.test -> 192\.0\.2\.20"]),
        ("odd bytes in SPF",
         zone_without(lambda n, ty, d: (n, ty) == ("example.org", "TXT"),
                      [("example.org", "TXT", [b"v=spf1 mx \"\x1b -all"])]),
         [r'^SPF example\.org: wrong: got "v=spf1 mx \\"\\027 -all"']),
    ]
    for what, zrecs, expect in broken:
        dns.stop()
        dns.records = dnsmasq_opts(zrecs)
        dns.start()
        rc, out, err = mailctl(*check)
        bad = problems(out)
        ok = t.is_(rc, 1, "%s: exit 1" % what)
        for e in expect:
            ok &= t.like(out, "(?m)" + e, "%s: %s" % (what, e))
        ok &= t.is_(len(bad), len(expect), "%s: nothing else reported"
                    % what)
        ok &= t.like(err, r"missing, wrong or not checked", "%s: summary on stderr"
                     % what)
        if not ok:
            t.diag(out + err)
        t.ok("\x1b" not in out, "%s: no raw control byte printed" % what)

    # -- arguments
    rc, out, err = mailctl(*conf, "dns", "nosuch.example")
    t.ok(rc == 1 and "nosuch.example" in err, "dns unknown domain: exit 1")
    rc, out, err = mailctl(*conf, "dns", "check", "nosuch.example")
    t.ok(rc == 1 and "nosuch.example" in err and out == "",
         "dns check unknown domain: exit 1, nothing checked")
    rc, out, err = mailctl(*conf, "dns", "check", "bad..name")
    t.ok(rc == 1 and "not a domain name" in err, "a bad domain name: 1")
    for args in (["-x"], ["check", "-x"], ["example.org", "example.net"],
                 ["check", "example.org", "example.net"], ["-a"],
                 ["-a", "mx.test"], ["check", "-a", "192.0.2.300"]):
        rc, out, err = mailctl(*conf, "dns", *args)
        t.is_(rc, 2, "dns %s: usage, exit 2" % " ".join(args))

    # -- a DNS server that does not answer, then one that fails
    dns.stop()
    for servfail in (False, True):
        fake = FakeDNS(dns.addr, dns.port, servfail)
        fake.start()
        start = time.monotonic()
        try:
            rc, out, err = mailctl(*check, timeout=60)
        finally:
            fake.stop()
        took = time.monotonic() - start
        what = "SERVFAIL" if servfail else "no answer"
        t.is_(rc, 1, "%s: exit 1" % what)
        t.ok(fake.queries > 0, "%s: the configured resolver was asked (%d)"
             % (what, fake.queries))
        want = "DNS SERVFAIL" if servfail else "DNS timeout"
        lines = out.splitlines()
        t.ok(len(lines) >= 8 and all(("error: %s" % want) in ln
                                     for ln in lines),
             "%s: every record reported as %s" % (what, want)) or \
            t.diag(out)
        if not servfail:
            t.ok(took < 10, "no answer: done in %.1f s" % took)
        else:
            t.ok(took < 5, "SERVFAIL: done in %.1f s" % took)


t.run(main)
