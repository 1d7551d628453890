#!/usr/bin/env python3
# SPF (issue 12): the evaluator of src/lib/spf.c, driven by spf_check()
# over dns_query() (tests/unit/spf_tool), against pyspf (python3-spf,
# tests/unit/pyspf-check.py) over one zone generated here and served by
# the test's dnsmasq: every mechanism with each qualifier, CIDR lengths
# at their edges, macros (each letter, transformers, delimiters,
# escaping, %{p}), redirect= and exp=, the lookup and void limits, loops
# and lookup bombs, syntax errors, multiple, empty, split and huge
# records, IPv4, IPv6 and v4-mapped clients, HELO checks, DNS timeouts
# and SERVFAIL.  Every result (and explanation, on fail) must agree.
#
# Where pyspf does not do what RFC 7208 says, the case is in RFC below
# with the section: the C result must be the RFC's, and pyspf's is only
# reported.  Every check must end within the time bound, the lookup
# bombs and loops well within it.
import ipaddress
import os
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

TOOL = os.path.join(t.REPO, "tests", "unit", "spf_tool")
PYSPF = os.path.join(t.REPO, "tests", "unit", "pyspf-check.py")
NOW = 1700000000
RECEIVER = "rcpt.example.net"
TIMEOUT = 3            # seconds per check, both sides
FAST_MS = 1500         # loops and bombs must end well before TIMEOUT

OPTS = []              # dnsmasq options: the zone
CASES = []             # (ip, helo, mailfrom, label)
RFC = {}               # case index -> (result, explanation or None, why)
FAST = set()           # case indexes that must end within FAST_MS


def esc(s):
    """A field for spf_tool and pyspf-check.py: no spaces, no tabs."""
    return "".join("\\s" if c == " " else "\\\\" if c == "\\" else
                   "\\x%02x" % ord(c) if ord(c) < 0x21 or ord(c) > 0x7e
                   else c for c in s)


def txt_rdata(strings):
    """One TXT record's rdata: each string cut into pieces of 255."""
    out = b""
    for s in strings:
        b = s.encode("latin-1") if isinstance(s, str) else s
        while True:
            out += bytes([min(len(b), 255)]) + b[:255]
            b = b[255:]
            if not b:
                break
    return out


def txt(name, *records):
    """TXT records of name; a record is a string or a list of strings."""
    for r in records:
        strings = [r] if isinstance(r, (str, bytes)) else r
        OPTS.append("--dns-rr=%s,16,%s" % (name, txt_rdata(strings).hex()))


def addr(name, *addrs):
    """A and AAAA records (dns-rr: no PTR made behind our back)."""
    for a in addrs:
        ip = ipaddress.ip_address(a)
        OPTS.append("--dns-rr=%s,%d,%s" % (name, 1 if ip.version == 4
                                           else 28, ip.packed.hex()))


def mx(name, *hosts):
    for pref, host in hosts:
        OPTS.append("--mx-host=%s,%s,%d" % (name, host, pref))


def rev(ip):
    return ipaddress.ip_address(ip).reverse_pointer


def ptr(ip, *names):
    for n in names:
        OPTS.append("--ptr-record=%s,%s" % (rev(ip), n))


def case(ip, mailfrom, helo="mail.client.test", label=None, fast=False):
    CASES.append((ip, helo, mailfrom, label or mailfrom))
    if fast:
        FAST.add(len(CASES) - 1)
    return len(CASES) - 1


def rfc(ip, mailfrom, result, why, helo="mail.client.test", exp=None):
    """A case where pyspf and RFC 7208 part: the C result must be this."""
    RFC[case(ip, mailfrom, helo)] = (result, exp, why)


def spf(domain, record, *clients, helo="mail.client.test", user="u"):
    """domain's record, and a check from each client."""
    txt(domain, record)
    for c in clients:
        case(c, "%s@%s" % (user, domain), helo)


# ---------------------------------------------------------------- zone

def basics():
    """Each mechanism with each qualifier, matching and not."""
    addr("host.b.test", "192.0.2.10", "2001:db8:a::10")
    mx("mxd.b.test", (10, "mx1.b.test"), (20, "mx2.b.test"))
    addr("mx1.b.test", "192.0.2.20")
    addr("mx2.b.test", "2001:db8:a::20")
    ptr("192.0.2.30", "h.good.b.test")
    ptr("192.0.2.31", "h.good.b.test")
    ptr("2001:db8:a::30", "h6.good.b.test")
    addr("h.good.b.test", "192.0.2.30")
    addr("h6.good.b.test", "2001:db8:a::30")
    addr("40.2.0.192.list.b.test", "127.0.0.2")
    txt("inc.b.test", "v=spf1 ip4:192.0.2.50 ip6:2001:db8:a::50 -all")
    mechs = [
        ("all", [], ["192.0.2.1", "2001:db8::1"]),
        ("ip4:192.0.2.0/25", ["198.51.100.9", "2001:db8::9"],
         ["192.0.2.9", "::ffff:192.0.2.9"]),
        ("ip6:2001:db8:1::/48", ["2001:db8:2::9", "192.0.2.9"],
         ["2001:db8:1::9"]),
        ("a:host.b.test", ["192.0.2.11", "2001:db8:a::11"],
         ["192.0.2.10", "2001:db8:a::10"]),
        ("mx:mxd.b.test", ["192.0.2.21", "2001:db8:a::21"],
         ["192.0.2.20", "2001:db8:a::20"]),
        ("ptr:good.b.test", ["192.0.2.31", "192.0.2.32"],
         ["192.0.2.30", "2001:db8:a::30"]),
        ("exists:%{ir}.list.b.test", ["192.0.2.41"], ["192.0.2.40"]),
        ("include:inc.b.test", ["192.0.2.51"],
         ["192.0.2.50", "2001:db8:a::50"]),
    ]
    for qi, q in enumerate(["", "+", "-", "~", "?"]):
        other = "-all" if q == "?" else "?all"
        for mi, (m, miss, hit) in enumerate(mechs):
            d = "q%d-m%d.b.test" % (qi, mi)
            rest = "" if m == "all" else " " + other
            spf(d, "v=spf1 %s%s%s" % (q, m, rest), *(hit + miss))


def cidr():
    """CIDR lengths at their edges, dual-cidr, bad lengths."""
    base4 = ipaddress.ip_address("198.51.100.77")
    for n in (0, 1, 8, 15, 16, 23, 24, 25, 31, 32):
        net = ipaddress.ip_network("%s/%d" % (base4, n), strict=False)
        clients = {str(net[0]), str(net[-1]), str(base4)}
        if int(net[-1]) < 2 ** 32 - 1:
            clients.add(str(net[-1] + 1))
        if int(net[0]) > 0:
            clients.add(str(net[0] - 1))
        spf("ip4-%d.c.test" % n, "v=spf1 ip4:%s/%d -all" % (base4, n),
            *sorted(clients))
    base6 = ipaddress.ip_address("2001:db8:cafe:1::77")
    for n in (0, 1, 16, 32, 47, 48, 64, 96, 127, 128):
        net = ipaddress.ip_network("%s/%d" % (base6, n), strict=False)
        clients = {str(net[0]), str(net[-1]), str(base6)}
        if int(net[-1]) < 2 ** 128 - 1:
            clients.add(str(net[-1] + 1))
        if int(net[0]) > 0:
            clients.add(str(net[0] - 1))
        spf("ip6-%d.c.test" % n, "v=spf1 ip6:%s/%d -all" % (base6, n),
            *sorted(clients))
    addr("h.c.test", "198.51.100.77", "2001:db8:cafe:1::77")
    mx("m.c.test", (10, "h.c.test"))
    clients = ["198.51.100.77", "198.51.100.78", "198.51.100.200",
               "198.51.101.1", "2001:db8:cafe:1::77", "2001:db8:cafe:1::78",
               "2001:db8:cafe:1:8000::1", "2001:db8:cafe:2::1",
               "::ffff:198.51.100.78"]
    for i, dc in enumerate(("", "/24", "/32", "//64", "/24//64", "/25//48",
                            "/0//0", "/31//127", "//128", "/0", "//0")):
        spf("a%d.c.test" % i, "v=spf1 a:h.c.test%s -all" % dc, *clients)
        spf("mx%d.c.test" % i, "v=spf1 mx:m.c.test%s -all" % dc, *clients)
    bad = ["ip4:192.0.2.1/33", "ip4:192.0.2.1/024", "ip4:192.0.2.1//32",
           "ip4:192.0.2.1/", "ip6:2001:db8::/129", "ip6:2001:db8::/33/33",
           "ip6:2001:db8::1//64", "a/33", "a//129", "a/24/64",
           "mx//129", "mx/", "all/8", "ptr/24", "include:inc.b.test/24",
           "exists:h.c.test/32", "a:h.c.test/-1", "ip4:192.0.2.1/100"]
    for i, b in enumerate(bad):
        spf("bad%d.c.test" % i, "v=spf1 %s -all" % b, "198.51.100.77")


def macros():
    """Each macro letter and transformer, through exp= texts (fail shows
    the expansion), exp= domain-specs and exists."""
    letters = ("[%{s}] [%{l}] [%{o}] [%{d}] [%{i}] [%{h}] [%{v}] [%{c}] "
               "[%{r}] [%{t}]")
    texts = [
        letters,
        "%{d1} %{d2} %{d3} %{d4} %{d99} %{dr} %{d1r} %{d2r}",
        "%{l-} %{l1-} %{lr-} %{l2r-} %{l+-} %{lr+-} %{l1r+-}",
        "%{s.} %{s1} %{sr} %{s2r.-} %{o-} %{or-.}",
        "%{ir} %{i1} %{i2r} %{c} %{v}",
        "%{S} %{L} %{O} %{D} %{H} %{C} %{R} %{V}",
        "%{l=} %{l_} %{l,} %{l/} %{l.-+,/_=}",
        "%% %_ %- %%{d} 100%% %%%_",
        "a.b. trailing dot stays.",
        "%{h1} %{h2r} %{hr}",
        "%{t} %{T} %{t1} %{tr}",
    ]
    for i, x in enumerate(texts):
        txt("e%d.m.test" % i, x)
        txt("x%d.m.test" % i, "v=spf1 -all exp=e%d.m.test" % i)
        for ip in ("192.0.2.1", "203.0.113.250"):
            for user in ("strong-bad", "a.b-c+d=e,f/g_h", "~jack&jill",
                         "x"):
                case(ip, "%s@x%d.m.test" % (user, i), "mx.helo-name.test")
        case("192.0.2.1", "<>", "x%d.m.test" % i, "HELO x%d" % i)
        if "%{s" not in x and "%{S" not in x:
            case("192.0.2.1", "@x%d.m.test" % i)
        if "%{i" not in x and "%{I" not in x:
            case("2001:db8::cb01", "u@x%d.m.test" % i)
    # exp= domain-specs with macros: the TXT sits at the expansion.
    specs = [
        ("%{d}.ed.m.test", "y0.m.test.ed.m.test"),
        ("%{l1r-}.ed.m.test", "bad.ed.m.test"),
        ("%{ir}.%{v}.ed.m.test", "1.2.0.192.in-addr.ed.m.test"),
        ("%{d2}.ed.m.test.", "m.test.ed.m.test"),
        ("%%.%_.%-.ed.m.test", "%. .%20.ed.m.test"),
        ("%{o}.%{h}.ed.m.test", "y5.m.test.mx.helo-name.test.ed.m.test"),
        ("%{L}.ed.m.test", "strong-bad.ed.m.test"),
    ]
    for i, (spec, name) in enumerate(specs):
        txt("y%d.m.test" % i, "v=spf1 -all exp=%s" % spec)
        txt(name, "found y%d" % i)
        case("192.0.2.1", "strong-bad@y%d.m.test" % i, "mx.helo-name.test")
    # exists: with macros; the names that must exist.
    addr("strong.bad.u.m.test", "127.0.0.2")
    addr("1.2.0.192.in-addr.u.m.test", "127.0.0.2")
    addr("z2.m.test.mx.helo-name.test.u.m.test", "127.0.0.2")
    spf("z0.m.test", "v=spf1 exists:%{l-}.u.m.test -all", "192.0.2.1",
        user="strong-bad")
    spf("z1.m.test", "v=spf1 exists:%{ir}.%{v}.u.m.test -all",
        "192.0.2.1", "192.0.2.2")
    spf("z2.m.test", "v=spf1 exists:%{d}.%{h}.u.m.test -all", "192.0.2.1",
        helo="mx.helo-name.test")
    spf("z3.m.test", "v=spf1 exists:%{l-}.u.m.test -all", "192.0.2.1",
        user="weak-bad")
    # %{p}: the validated name, a subdomain of the domain preferred.
    ptr("192.0.2.60", "other.p.test", "mail.z4.m.test")
    addr("other.p.test", "192.0.2.60")
    addr("mail.z4.m.test", "192.0.2.60")
    ptr("192.0.2.61", "unvalidated.p.test")
    addr("unvalidated.p.test", "192.0.2.99")
    ptr("192.0.2.62", "only.p.test")
    addr("only.p.test", "192.0.2.62")
    txt("ep.m.test", "connect from %{p} %{P} %{p2}")
    txt("z4.m.test", "v=spf1 -all exp=ep.m.test")
    for ip in ("192.0.2.60", "192.0.2.61", "192.0.2.62", "192.0.2.63"):
        case(ip, "u@z4.m.test")
    addr("mail.z4.m.test.pe.m.test", "127.0.0.2")
    spf("z5.m.test", "v=spf1 exists:%{p}.pe.m.test -all", "192.0.2.60",
        "192.0.2.62")
    # Syntax errors in macros: permerror everywhere, but an explanation
    # is only left out (6.2).
    for i, m in enumerate(["%{x}", "%{}", "%z", "%", "%{c}", "%{r}",
                           "%{t}", "%{ d}", "%{l1 }"]):
        spf("bad%d.m.test" % i, "v=spf1 a:%s.m.test -all" % m, "192.0.2.1")
        spf("badmod%d.m.test" % i, "v=spf1 foo=%s -all" % m, "192.0.2.1")
        if m != "%{l1 }":
            txt("badexp%d.m.test" % i, "text %s here" % m)
            spf("badx%d.m.test" % i, "v=spf1 -all exp=badexp%d.m.test" % i,
                "192.0.2.1")
    # Where pyspf takes a broken macro as text (7.1).
    for i, (m, why) in enumerate([
            ("%{d", "a macro-expand ends with \"}\": pyspf takes an "
             "unclosed one as text"),
            ("%{d2r.:}", "delimiters are . - + , / _ =: pyspf takes any "
             "character"),
            ("%{l1 }", "delimiters are . - + , / _ =: pyspf splits on a "
             "space")]):
        if " " not in m:
            txt("rb%d.m.test" % i, "v=spf1 a:%s.m.test -all" % m)
            rfc("192.0.2.1", "u@rb%d.m.test" % i, "permerror", "7.1: " + why)
            txt("rbm%d.m.test" % i, "v=spf1 foo=%s -all" % m)
            rfc("192.0.2.1", "u@rbm%d.m.test" % i, "permerror",
                "7.1 (in an unknown modifier): " + why)
        txt("rbe%d.m.test" % i, "text %s here" % m)
        txt("rbx%d.m.test" % i, "v=spf1 -all exp=rbe%d.m.test" % i)
        rfc("192.0.2.1", "u@rbx%d.m.test" % i, "fail", "6.2, 7.1: an "
            "explanation with a syntax error is left out; " + why, exp="")
    # 4.3: "postmaster" stands for no local-part in <sender> too.
    txt("es.m.test", "%{s}")
    txt("s0.m.test", "v=spf1 -all exp=es.m.test")
    rfc("192.0.2.1", "@s0.m.test", "fail", "4.3: with no local-part, "
        "<sender> is postmaster@domain: pyspf keeps %{s} \"@domain\"",
        exp="postmaster@s0.m.test")


def modifiers():
    txt("r1.r.test", "v=spf1 redirect=r2.r.test")
    txt("r2.r.test", "v=spf1 ip4:192.0.2.70 redirect=r3.r.test")
    txt("r3.r.test", "v=spf1 a -all exp=er3.r.test")
    addr("r3.r.test", "192.0.2.71")
    txt("er3.r.test", "%{d} for %{o}")
    txt("er0.r.test", "original exp of %{d}")
    for ip in ("192.0.2.70", "192.0.2.71", "192.0.2.72"):
        case(ip, "u@r1.r.test")
    spf("r4.r.test", "v=spf1 redirect=r3.r.test exp=er0.r.test",
        "192.0.2.72")
    spf("r5.r.test", "v=spf1 include:r3.r.test -all exp=er0.r.test",
        "192.0.2.71", "192.0.2.72")
    spf("r6.r.test", "v=spf1 redirect=nothing.r.test", "192.0.2.1")
    spf("r7.r.test", "v=spf1 redirect=r3.r.test ~all", "192.0.2.72")
    spf("r8.r.test", "v=spf1 ?all redirect=", "192.0.2.1")
    spf("r9.r.test", "v=spf1 redirect=-all", "192.0.2.1")
    spf("r10.r.test", "v=spf1 redirect=r3.r.test redirect=r3.r.test",
        "192.0.2.1")
    spf("r11.r.test", "v=spf1 -all exp=", "192.0.2.1")
    spf("r12.r.test", "v=spf1 -all exp=er0.r.test exp=er0.r.test",
        "192.0.2.1")
    txt("two.er.r.test", "one", "two")
    spf("r13.r.test", "v=spf1 -all exp=two.er.r.test", "192.0.2.1")
    spf("r14.r.test", "v=spf1 -all exp=none.er.r.test", "192.0.2.1")
    txt("nonascii.er.r.test", "caf\xe9")
    spf("r15.r.test", "v=spf1 -all exp=nonascii.er.r.test", "192.0.2.1")
    txt("split.er.r.test", ["You ", "are ", "%{i}, ", "denied."])
    spf("r16.r.test", "v=spf1 -all exp=split.er.r.test", "192.0.2.1")
    spf("r17.r.test", "v=spf1 ~all exp=er0.r.test", "192.0.2.1")
    spf("r18.r.test", "v=spf1 -all exp=x.sf.test", "192.0.2.1")
    spf("r19.r.test", "v=spf1 default=pass", "192.0.2.1")
    spf("r20.r.test", "v=spf1 moo.cow-far_out=man:dog/cat ip4:192.0.2.1 "
        "-all", "192.0.2.1")
    spf("r21.r.test", "v=spf1 moo.cow/far_out=man:dog/cat -all",
        "192.0.2.1")
    spf("r22.r.test", "v=spf1 1up=foo -all", "192.0.2.1")
    spf("r23.r.test", "v=spf1 =all", "192.0.2.1")
    spf("r24.r.test", "v=spf1 ip4:192.0.2.1 redirect:r3.r.test",
        "192.0.2.1")
    spf("r25.r.test", "v=spf1 redirect=r25.r.test", "192.0.2.1")
    txt("r26.r.test", "v=spf1 redirect=r27.r.test")
    spf("r27.r.test", "v=spf1 redirect=r26.r.test", "192.0.2.1")
    spf("r28.r.test", "v=spf1 -all exp=er0.r.test moo=%{l}", "192.0.2.1")
    # RFC 7208 and pyspf part ways.
    txt("r40.r.test", "v=spf1 Redirect=r3.r.test")
    rfc("192.0.2.71", "u@r40.r.test", "pass",
        "modifier names are ABNF literals, case-insensitive (RFC 7208 "
        "A, RFC 5234 2.3): pyspf ignores Redirect=")
    txt("r41.r.test", "v=spf1 ip4:192.0.2.1 EXP=er0.r.test -all")
    rfc("192.0.2.2", "u@r41.r.test", "fail",
        "EXP= is exp= (RFC 7208 A, RFC 5234 2.3)",
        exp="original exp of r41.r.test")
    txt("r42.r.test", "v=spf1 foo=1 foo=2 -all")
    rfc("192.0.2.1", "u@r42.r.test", "fail",
        "only redirect= and exp= may not appear twice (RFC 7208 6): "
        "pyspf refuses any modifier twice")


def limits():
    """4.6.4: 10 lookups, 2 void lookups, MX and PTR names, loops."""
    addr("a.l.test", "192.0.2.200")
    for n in (9, 10, 11):
        spf("lk%d.l.test" % n, "v=spf1 " + "a:a.l.test " * n +
            "ip4:192.0.2.1 -all", "192.0.2.1", "192.0.2.200")
    # Each include counts, and its terms.
    txt("in8.l.test", "v=spf1 " + "a:a.l.test " * 8)
    spf("inc-at.l.test", "v=spf1 a:a.l.test include:in8.l.test "
        "ip4:192.0.2.1 mx:a.l.test -all", "192.0.2.1")
    spf("inc-over.l.test", "v=spf1 a:a.l.test include:in8.l.test "
        "a:a.l.test ip4:192.0.2.1 -all", "192.0.2.1")
    # Nested includes, 9 and 11 deep.
    for depth in (10, 12):
        for k in range(depth):
            nxt = "include:n%d-%d.l.test" % (depth, k + 1) if k + 1 < depth \
                else "ip4:192.0.2.1"
            txt("n%d-%d.l.test" % (depth, k), "v=spf1 %s -all" % nxt)
        case("192.0.2.1", "u@n%d-0.l.test" % depth, fast=True)
    # Loops.
    spf("loop1.l.test", "v=spf1 include:loop1.l.test -all", "192.0.2.1")
    FAST.add(len(CASES) - 1)
    txt("loop2.l.test", "v=spf1 include:loop3.l.test -all")
    spf("loop3.l.test", "v=spf1 include:loop2.l.test", "192.0.2.1")
    FAST.add(len(CASES) - 1)
    spf("loop4.l.test", "v=spf1 ip4:192.0.2.9 redirect=loop4.l.test",
        "192.0.2.1")
    FAST.add(len(CASES) - 1)
    # Void lookups: 2 are fine, the third is a permerror.
    spf("void2.l.test", "v=spf1 a:v1.l.test mx:v2.l.test ?all", "192.0.2.1")
    spf("void3.l.test", "v=spf1 a:v1.l.test mx:v2.l.test exists:v3.l.test "
        "?all", "192.0.2.1")
    spf("void4.l.test", "v=spf1 include:v1.l.test ?all", "192.0.2.1")
    mx("mxv.l.test", (1, "v4.l.test"), (2, "v5.l.test"), (3, "v6.l.test"))
    spf("void5.l.test", "v=spf1 mx:mxv.l.test ?all", "192.0.2.1")
    mx("mxv2.l.test", (1, "v4.l.test"), (2, "a.l.test"))
    spf("void6.l.test", "v=spf1 a:v1.l.test mx:mxv2.l.test ?all",
        "192.0.2.1", "192.0.2.200")
    spf("void7.l.test", "v=spf1 a:v1.l.test a:v1.l.test a:a.l.test ?all",
        "192.0.2.200")
    # MX: 10 names fine, 11 a permerror; null MX; no MX is no match.
    for n in (10, 11):
        mx("mx%d.l.test" % n, *[(i, "h%d.mxn.l.test" % i) for i in range(n)])
        spf("mxn%d.l.test" % n, "v=spf1 mx:mx%d.l.test -all" % n,
            "192.0.2.100", "192.0.2.105")
    for i in range(11):
        addr("h%d.mxn.l.test" % i, "192.0.2.%d" % (100 + i))
    mx("nullmx.l.test", (0, "."))
    addr("nullmx.l.test", "192.0.2.1")
    spf("mxnull.l.test", "v=spf1 mx:nullmx.l.test ?all", "192.0.2.1")
    spf("mximplicit.l.test", "v=spf1 mx:a.l.test ?all", "192.0.2.200")
    # PTR: past 10 names are ignored (the 11th would match).
    # dnsmasq answers PTR names in reverse order of its options.
    ptr("192.0.2.150", *["p%d.ptr.l.test" % i for i in range(10, -1, -1)])
    for i in range(11):
        addr("p%d.ptr.l.test" % i, "192.0.2.%d" % (150 if i == 10 else
                                                   160 + i))
    spf("ptr11.l.test", "v=spf1 ptr:ptr.l.test ?all", "192.0.2.150")
    # No limit on addresses.
    addr("wide.l.test", *["192.0.2.%d" % i for i in range(200, 240)])
    spf("wide.l.test", "v=spf1 a -all", "192.0.2.239", "192.0.2.240")
    # Bomb: 10 includes of 10 mx of 10 names each: ends at the 11th term.
    for i in range(10):
        txt("bomb%d.l.test" % i, "v=spf1 " + " ".join(
            "mx:bx%d-%d.l.test" % (i, j) for j in range(10)) + " -all")
        for j in range(10):
            mx("bx%d-%d.l.test" % (i, j),
               *[(k, "bh%d.l.test" % (k + 10 * j)) for k in range(10)])
    for k in range(100):
        addr("bh%d.l.test" % k, "10.1.%d.%d" % (k // 256, k % 256))
    spf("bomb.l.test", "v=spf1 " + " ".join(
        "include:bomb%d.l.test" % i for i in range(10)) + " -all",
        "192.0.2.1")
    FAST.add(len(CASES) - 1)
    # RFC 7208 and pyspf part ways.
    addr("n.l.test", "192.0.2.201")
    txt("lr.l.test", "v=spf1" + " a:n.l.test" * 9 +
        " a:a.l.test redirect=n.l.test")
    rfc("192.0.2.200", "u@lr.l.test", "pass",
        "redirect= counts as a lookup when it is evaluated (RFC 7208 "
        "4.6.4, 6.1): pyspf counts it before any mechanism, an 11th")


def errors():
    """Syntax errors, selection, multiple, empty, split, huge records."""
    bad = ["foo", "ip4", "ip4:192.0.2", "ip4:192.0.2.1:25", "ip4:192.0.2.01",
           "ip6:2001:db8::g", "ip6::1::2", "a:museum", "a:museum.",
           "a:foo.123", "a:example.-com", "a:", "exists", "exists:",
           "include", "include:", "ptr:", "all:x", "-all.", "=all",
           "a:foo.test,", "-a:1.2.3.4", "mx:", "*all", "ip4:1.2.3.4\t-all",
           "a:x.test\x01", "ip4:192.0.2.1 -all \x80", "a:foo:bar/baz.test",
           "a:foo.xn--zckzah", "a:foo.1-2", "a:%{d}com"]
    addr("foo:bar/baz.test", "192.0.2.1")
    addr("foo.xn--zckzah", "192.0.2.1")
    addr("foo.1-2", "192.0.2.1")
    for i, b in enumerate(bad):
        spf("s%d.e.test" % i, "v=spf1 %s -all" % b, "192.0.2.1",
            "192.0.2.2")
    txt("ctl.e.test", "v=spf1 a:x\x01y.e.test -all")
    rfc("192.0.2.1", "u@ctl.e.test", "permerror", "4.6, 7.1: a control "
        "character is no macro-literal: pyspf looks the name up")
    # Selection (4.5): version, case, multiple records, other records.
    records = [
        ["v=spf1 ip4:192.0.2.1 -all"],
        ["V=SpF1 ip4:192.0.2.1 -all"],
        ["v=spf10 ip4:192.0.2.1 -all"],
        ["v=spf1"],
        ["v=spf1 "],
        ["v=spf1   ip4:192.0.2.1   -all   "],
        [" v=spf1 -all"],
        ["v=spf1 -all", "v=spf1 -all"],
        ["v=spf1 -all", "V=SPF1 +all"],
        ["v=spf1 -all", "spf2.0/pra +all", "google-site-verification=x"],
        ["caf\xe9", "v=spf1 ip4:192.0.2.1 -all"],
        ["v=spf1 ip4:192.0.2.1 -all", ""],
        ["v=spf2 -all"],
        ["v=spf1-all"],
    ]
    for i, recs in enumerate(records):
        txt("sel%d.e.test" % i, *recs)
        case("192.0.2.1", "u@sel%d.e.test" % i)
        case("192.0.2.2", "u@sel%d.e.test" % i)
    # TXT strings are joined without spaces.
    split = [
        ["v=spf1 ", "ip4:192.0.2.1 -all"],
        ["v=spf1", " ip4:192.0.2.1 -all"],
        ["v=spf1", "ip4:192.0.2.1 -all"],
        ["v=spf1 ip4:192.0.2.1", " -all"],
        ["v=spf1 ip4:192.0.", "2.1 -all"],
        ["v=sp", "f1 ip4:192.0.2.1 -all"],
        ["v=spf1 ip4:192.0.2.1 ", "", "-all"],
    ]
    for i, strings in enumerate(split):
        txt("split%d.e.test" % i, strings)
        case("192.0.2.1", "u@split%d.e.test" % i)
        case("192.0.2.2", "u@split%d.e.test" % i)
    # Long and huge: strings over 255 split by the zone, 20 KB records.
    long = "v=spf1 " + " ".join("ip4:10.0.%d.0/24" % i for i in range(40)) \
        + " ip4:192.0.2.1 -all"
    spf("long.e.test", long, "192.0.2.1", "192.0.2.2", "10.0.39.1")
    huge = "v=spf1 " + " ".join("ip4:10.%d.%d.0/24" % (i // 256, i % 256)
                                for i in range(1200))
    spf("huge.e.test", huge + " ip4:192.0.2.1 -all", "192.0.2.1",
        "192.0.2.2", "10.4.175.9")
    spf("hugebad.e.test", huge + " ip4:192.0.2.1 -al", "192.0.2.1")
    spf("hugeerr.e.test", "v=spf1 " + "x" * 20000, "192.0.2.1")
    txt("hugeother.e.test", "y" * 30000, "v=spf1 ip4:192.0.2.1 -all")
    case("192.0.2.1", "u@hugeother.e.test")
    # Domains and identities (4.3): HELO checks, postmaster, cases.
    spf("helo.e.test", "v=spf1 ip4:192.0.2.1 -all")
    for ip in ("192.0.2.1", "192.0.2.2", "::ffff:192.0.2.1"):
        case(ip, "<>", "helo.e.test")
        case(ip, "<>", "HELO.E.Test")
    case("192.0.2.1", "@helo.e.test")
    case("192.0.2.1", "User@Helo.E.Test")
    rfc("192.0.2.1", "<>", "pass", "4.3: a zero-length label at the end "
        "(a final dot) is not malformed: pyspf answers none",
        helo="helo.e.test.")
    rfc("192.0.2.2", "u@helo.e.test.", "fail", "4.3: a final dot, as "
        "above")
    case("192.0.2.1", "helo.e.test", label="MAIL FROM without @")
    case("192.0.2.1", "u@nowhere.e.test")
    case("192.0.2.1", "u@a23456789012345678901234567890123456789012345678901"
         "2345678901234.e.test", label="64-byte label")
    case("192.0.2.1", "u@e..test", label="empty label")
    case("192.0.2.1", "<>", "test", label="HELO a single label")
    rfc("192.0.2.1", "<>", "none", "4.3: a HELO that is not a multi-label "
        "domain name is none: pyspf asks DNS for it", helo="OEMCOMPUTER")
    rfc("192.0.2.1", "<>", "none", "4.3: a domain literal is none: pyspf "
        "asks DNS for it", helo="[192.0.2.1]")
    # Macros where pyspf parts from RFC 7208 7.
    txt("md0.e.test", "v=spf1 exists:%{d0}.e.test -all")
    rfc("192.0.2.1", "u@md0.e.test", "permerror",
        "7.3: a DIGIT transformer must be nonzero: pyspf drops a part")
    addr("test.e.md1.rv.e.test", "127.0.0.2")
    txt("md1.e.test", "v=spf1 exists:%{dR}.rv.e.test -all")
    rfc("192.0.2.1", "u@md1.e.test", "pass",
        "7.1: transformers = *DIGIT [ \"r\" ] is case-insensitive (RFC "
        "5234 2.3): pyspf does not reverse for \"R\"")
    txt("md2.e.test", "v=spf1 -all exp=md2x.e.test")
    txt("md2x.e.test", "%{h-}")
    rfc("192.0.2.1", "u@md2.e.test", "fail",
        "7.3: parts are rejoined with \".\", for every letter: pyspf "
        "keeps the delimiter but for l and s", helo="my-helo.e.test",
        exp="my.helo.e.test")
    txt("md3.e.test", "v=spf1 exists:%%%{d}.e.test -all")
    addr("%md3.e.test.e.test", "127.0.0.2")
    case("192.0.2.1", "u@md3.e.test")
    txt("md4.e.test", "v=spf1 exists:x%%%d.e.test -all")
    rfc("192.0.2.1", "u@md4.e.test", "permerror",
        "7.1: \"%\" must be followed by \"{\", \"%\", \"-\" or \"_\": "
        "pyspf misses it after \"%%\"")
    txt("md5.e.test", "v=spf1 exists:%{d;}.e.test -all")
    rfc("192.0.2.1", "u@md5.e.test", "permerror",
        "7.1: delimiters are . - + , / _ =: pyspf takes any character")
    txt("md6.e.test", "v=spf1 -all exp=md6x.e.test")
    txt("md6x.e.test", "%{i}")
    rfc("2001:db8::cb01", "u@md6.e.test", "fail",
        "7.4: the example of %{ir} for IPv6 is in lowercase nibbles: pyspf "
        "writes them in uppercase", exp="2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0."
        "0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1")
    long_l = "a" * 60 + "." + "b" * 60 + "." + "c" * 60
    txt("md7.e.test", "v=spf1 exists:%{l}.%{l}.%{d} -all")
    addr(long_l + ".md7.e.test", "127.0.0.2")
    rfc("192.0.2.1", long_l + "@md7.e.test", "pass",
        "7.3: over 253 bytes, labels are dropped on the left until it "
        "fits: pyspf drops one label, then dnspython refuses the name")
    # CNAMEs: followed for records and addresses.
    OPTS.append("--host-record=target.cn.e.test,192.0.2.222")
    OPTS.append("--cname=alias.cn.e.test,target.cn.e.test")
    spf("cn.e.test", "v=spf1 a:alias.cn.e.test -all", "192.0.2.222",
        "192.0.2.223")
    # (dnsmasq answers a CNAME to a --dns-rr name malformed: --txt-record.)
    OPTS.append("--txt-record=real.cn.e.test,v=spf1 ip4:192.0.2.222 -all")
    OPTS.append("--cname=txt.cn.e.test,real.cn.e.test")
    OPTS.append("--cname=txt2.cn.e.test,real.cn.e.test")
    spf("cn2.e.test", "v=spf1 include:txt.cn.e.test -all", "192.0.2.222",
        "192.0.2.223")
    spf("cn3.e.test", "v=spf1 include:txt.cn.e.test include:txt2.cn.e.test "
        "-all", "192.0.2.222", "192.0.2.223")
    case("192.0.2.222", "u@txt.cn.e.test")
    case("192.0.2.223", "u@txt2.cn.e.test")


def dnserrors():
    """Timeouts (bh.test: a server that never answers) and SERVFAIL
    (sf.test) at each place a lookup happens."""
    for z in ("bh", "sf"):
        for i, r in enumerate([
                "v=spf1 include:x.%s.test -all",
                "v=spf1 a:x.%s.test -all",
                "v=spf1 mx:x.%s.test -all",
                "v=spf1 mx:mx.d.test -all",
                "v=spf1 exists:x.%s.test -all",
                "v=spf1 ip4:192.0.2.9 redirect=x.%s.test",
                "v=spf1 ip4:192.0.2.1 include:x.%s.test -all",
                "v=spf1 -all exp=x.%s.test"]):
            rec = r % z if "%s" in r else r.replace("mx.d", "mx%s.d" % z)
            spf("e%d.%s.d.test" % (i, z), rec, "192.0.2.1", "192.0.2.2")
        mx("mx%s.d.test" % z, (10, "x.%s.test" % z), (20, "ok.d.test"))
        case("192.0.2.1", "u@x.%s.test" % z)
    addr("ok.d.test", "192.0.2.1")
    # ptr and %{p}: a DNS error there is no match, "unknown" (5.5, 7.3).
    txt("p1.d.test", "v=spf1 ptr:d.test ?all")
    txt("p2.d.test", "v=spf1 -all exp=p2x.d.test")
    txt("p2x.d.test", "from %{p}")
    ptr("203.0.113.67", "srv.sf.test", "ok.d.test")
    addr("ok.d.test", "203.0.113.67")
    rfc("203.0.113.66", "u@p1.d.test", "neutral",
        "5.5: a DNS error on the PTR lookup makes ptr not match: pyspf "
        "answers temperror")
    rfc("203.0.113.67", "u@p1.d.test", "pass",
        "5.5: a DNS error on the address of a PTR name skips that name: "
        "pyspf answers temperror")
    rfc("203.0.113.66", "u@p2.d.test", "fail",
        "7.3: %{p} is \"unknown\" on a DNS error: pyspf drops the "
        "explanation", exp="from unknown")


def serve_servfail(sock):
    """Answer every query with SERVFAIL, until the socket closes."""
    while True:
        try:
            q, peer = sock.recvfrom(4096)
        except OSError:
            return
        if len(q) < 12:
            continue
        end = 12
        while end < len(q) and q[end] != 0:
            end += q[end] + 1
        a = bytearray(q[:12])
        a[2] = 0x80 | (q[2] & 0x01)
        a[3] = 0x82
        a[4:12] = b"\x00\x01\x00\x00\x00\x00\x00\x00"
        try:
            sock.sendto(bytes(a) + q[12:end + 5], peer)
        except OSError:
            return


def main():
    if not os.access(TOOL, os.X_OK):
        t.ok(False, "%s built (make unit)" % TOOL)
        return
    if subprocess.run(["/usr/bin/python3", "-c", "import spf, dns.resolver"],
                      capture_output=True).returncode != 0:
        t.skip_all("python3-spf and python3-dnspython are not installed")
    basics()
    cidr()
    macros()
    modifiers()
    limits()
    errors()
    dnserrors()

    # A server that never answers, one that answers SERVFAIL.
    bh = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bh.bind(("127.0.0.1", 0))
    sf = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sf.bind(("127.0.0.1", 0))
    threading.Thread(target=serve_servfail, args=(sf,), daemon=True).start()
    OPTS.extend(["--server=/bh.test/127.0.0.1#%d" % bh.getsockname()[1],
                 "--server=/sf.test/127.0.0.1#%d" % sf.getsockname()[1],
                 "--server=/66.113.0.203.in-addr.arpa/127.0.0.1#%d"
                 % sf.getsockname()[1]])
    dns = t.Dnsmasq(OPTS).start()
    t.diag("%d zone records, %d checks" % (len(OPTS), len(CASES)))

    lines = "".join("%s %s %s\n" % (esc(ip), esc(helo), esc(mf))
                    for ip, helo, mf, _ in CASES)
    # Both at once: they only wait for dnsmasq.
    t0 = time.time()
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for cmd in ([TOOL, "-r", RECEIVER, "-t", str(NOW), "-T",
                          str(TIMEOUT), "-j", "16", dns.addr, str(dns.port)],
                         ["/usr/bin/python3", PYSPF, dns.addr, str(dns.port),
                          RECEIVER, str(NOW), str(TIMEOUT)])]
    results = [None, None]

    def talk(k):
        out, err = procs[k].communicate(lines, timeout=900)
        results[k] = subprocess.CompletedProcess(procs[k].args,
                                                 procs[k].returncode,
                                                 out, err)
    threads = [threading.Thread(target=talk, args=(k,)) for k in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    c, p = results
    t.diag("spf_tool and pyspf: %.1f s" % (time.time() - t0))
    t.is_(c.returncode, 0, "spf_tool ran: %s" % c.stderr.strip()[-300:])
    t.is_(p.returncode, 0, "pyspf-check.py ran: %s" % p.stderr.strip()[-300:])
    cout = c.stdout.splitlines()
    pout = p.stdout.splitlines()
    if not t.ok(len(cout) == len(CASES) and len(pout) == len(CASES),
                "one line per check from each (%d, %d of %d)"
                % (len(cout), len(pout), len(CASES))):
        return

    agree = disagree = 0
    counts = {}
    for i, (ip, helo, mf, label) in enumerate(CASES):
        cres, cexp, cmech, cprob, cms = (cout[i].split("\t") + [""] * 5)[:5]
        pres, pexp = (pout[i].split("\t", 1) + [""])[:2]
        what = "%s from %s (HELO %s)" % (label, ip, helo)
        counts[cres] = counts.get(cres, 0) + 1
        if i in RFC:
            want, wexp, why = RFC[i]
            good = cres == want and (wexp is None or cexp == wexp)
            t.ok(good, "RFC: %s: %s%s" % (what, want,
                                          "" if wexp is None else
                                          " \"%s\"" % wexp))
            if not good:
                t.diag("  got %s \"%s\" (%s)" % (cres, cexp, cprob))
            t.diag("  %s; pyspf: %s%s" % (why, pres, " \"%s\"" % pexp
                                          if pexp else ""))
            if pres == cres and (pres != "fail" or pexp == cexp):
                t.diag("  (pyspf now agrees with the RFC here)")
            continue
        same = cres == pres and (cres != "fail" or cexp == pexp)
        if same:
            agree += 1
        else:
            disagree += 1
        t.ok(same, "%s: %s%s" % (what, cres,
                                 " \"%s\"" % cexp if cexp else ""))
        if not same:
            t.diag("  C: %s \"%s\" %s (%s); pyspf: %s \"%s\""
                   % (cres, cexp, cmech, cprob, pres, pexp))
    t.diag("agreed with pyspf: %d of %d; RFC over pyspf: %d; results: %s"
           % (agree, agree + disagree, len(RFC),
              ", ".join("%s %d" % kv for kv in sorted(counts.items()))))

    # Bounded time: every check within its bound, loops and bombs fast.
    slow = [(i, int(cout[i].split("\t")[4])) for i in range(len(CASES))
            if int(cout[i].split("\t")[4]) > (TIMEOUT + 1) * 1000]
    t.ok(not slow, "every check within %d s (%s)" % (TIMEOUT + 1, slow))
    slow = [(CASES[i][3], int(cout[i].split("\t")[4])) for i in sorted(FAST)
            if int(cout[i].split("\t")[4]) > FAST_MS]
    t.ok(not slow, "loops and bombs within %d ms (%s)" % (FAST_MS, slow))
    t.ok(all(cout[i].split("\t")[0] == "permerror" for i in FAST
             if "n10-" not in CASES[i][2]),
         "loops and bombs end in permerror")
    bh.close()
    sf.close()


t.run(main)
