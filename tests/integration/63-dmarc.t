#!/usr/bin/env python3
# DMARC, the Public Suffix List and Authentication-Results (issue 12),
# the library modules psl.c, dmarc.c and authres.c through
# tests/unit/dmarc_tool, against the reference implementations:
#
# 1. PSL: the organisational domain of names made from every rule of
#    /usr/share/publicsuffix/public_suffix_list.dat, against publicsuffix2
#    (what python3-authheaders uses).
# 2. DMARC: a generated table of From domains, envelope (SPF) and DKIM
#    domains and results, DMARC records at the From and organisational
#    domains (p, sp, adkim, aspf, pct), subdomains and PSL cases
#    (a.b.example.co.uk, alice.github.io), against authheaders'
#    check_dmarc() with its own PSL (the same file) and its DNS lookup
#    (dmarc_lookup.query) answering from the test's table.  Then what the
#    reference cannot compute (pct sampling, t=y, temperror, broken From
#    fields, np=) against RFC 7489 / DMARCbis rules written out here.
# 3. Authentication-Results rendered by the tool, with nasty values
#    (quotes, spaces, backslashes, controls, A-labels, long values to
#    fold, many signatures), parsed by python3-authres; and the
#    authserv-id the tool reads from fields authres writes.
#
# Where authheaders disagrees with the RFC, the difference must match one
# of the rules in KNOWN below (RFC section given); any other difference
# fails.  Found so far:
# - sp= (and np=) applied to the record of the From domain itself, when
#   that domain published its own record: RFC 7489 6.3 ("sp: policy for
#   all subdomains") and 6.6.3: a record found at the From domain
#   applies its p=.
# - two DMARC records at the From domain: authheaders goes on to the
#   organisational domain; RFC 7489 6.6.3 steps 3 and 5 say the set was
#   not empty, so discovery ends with no DMARC processing.
# - p= missing or invalid: RFC 7489 6.6.3 step 6 (p=none if rua= holds a
#   valid URI, else no DMARC); authheaders reports none, or fails with
#   the bad value as the policy.
# - "v = DMARC1" (white space around '='): RFC 7489 6.4's ABNF allows
#   it; authheaders requires "v=DMARC1" literally.
# - domains with '-': authheaders' get_domain_part() takes the domain of
#   an address with the regex [a-z0-9.]+ and cuts it at the first '-'.
# - DKIM d= in another case than the From domain: DNS names compare
#   without case (RFC 4343); authheaders compares strings (strict mode).
# - publicsuffix2 takes the parent of a wildcard rule (compute.amazonaws.com
#   of *.compute.amazonaws.com) for a public suffix; the publicsuffix.org
#   algorithm matches a rule only against names of at least as many
#   labels, so the organisational domain is amazonaws.com.  DMARC with
#   authheaders inherits this.
# - an unlisted TLD: the PSL algorithm's default rule "*" makes
#   example.test the organisational domain of a.example.test;
#   publicsuffix2 (strict TLD check) gives "test".
# And one of python3-authres: a quoted-string pvalue must end its resinfo
# (it looks for ';' or the end after it), though RFC 8601 2.2 allows CFWS
# and another propspec; the nasty values that need quotes are therefore
# put last (smtp.mailfrom, header.b, header.from).  Nor does it read an
# authserv-id written as a quoted-string (RFC 8601 2.2: value).
import functools
import os
import random
import re
import subprocess
import sys

SYSPY = "/usr/bin/python3"
try:
    import authheaders  # noqa: F401
except ImportError:
    # Debian's python3-authheaders lives in the system Python.
    if os.path.realpath(sys.executable) != os.path.realpath(SYSPY) and \
            os.path.exists(SYSPY) and not os.environ.get("DMARC_T_REEXEC"):
        os.environ["DMARC_T_REEXEC"] = "1"
        os.execv(SYSPY, [SYSPY] + sys.argv)

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

TOOL = os.path.join(t.REPO, "tests", "unit", "dmarc_tool")
PSL = "/usr/share/publicsuffix/public_suffix_list.dat"


def esc(s):
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif o < 32 or o == 127:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    return "".join(out)


def unesc(s):
    return re.sub(r"\\(x[0-9a-f]{2}|.)",
                  lambda m: {"t": "\t", "r": "\r", "n": "\n"}.get(
                      m.group(1), chr(int(m.group(1)[1:], 16))
                      if m.group(1)[0] == "x" and len(m.group(1)) == 3
                      else m.group(1)), s)


ANSWERS = ("psl", "org", "eval", "ar-end", "arid")


def tool(cmds):
    """Run the tool over cmds (lists of fields); its answers, in order."""
    text = "".join("\t".join(esc(f) for f in c) + "\n" for c in cmds)
    r = subprocess.run([TOOL], input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    if r.returncode != 0 or r.stderr:
        raise RuntimeError("dmarc_tool exited %d: %s" %
                           (r.returncode, r.stderr.decode(errors="replace")))
    lines = [unesc(x) for x in r.stdout.decode().split("\n")[:-1]]
    want = sum(1 for c in cmds if c[0] in ANSWERS)
    if len(lines) != want or any(x.startswith("error:") for x in lines):
        raise RuntimeError("dmarc_tool: %d answers for %d questions: %s" %
                           (len(lines), want, lines[-3:]))
    return lines


# ------------------------------------------------------------ 1. PSL

def psl_section():
    from publicsuffix2 import PublicSuffixList
    with open(PSL, encoding="utf-8") as f:
        ref = PublicSuffixList(f.readlines())
    names = set()
    with open(PSL, encoding="utf-8") as f:
        for line in f:
            rule = line.strip().split(" ")[0].split("\t")[0]
            if not rule or rule.startswith("//"):
                continue
            base = rule.lstrip("!")
            if base.startswith("*."):
                base = base[2:]
            try:
                base = base.encode("idna").decode()
            except UnicodeError:
                continue
            names.update([base, "x." + base, "y.x." + base])
            if rule.startswith("!"):
                names.add("z." + base)
    rules = set()
    with open(PSL, encoding="utf-8") as f:
        for line in f:
            rule = line.strip().split(" ")[0].split("\t")[0]
            if rule and not rule.startswith("//"):
                try:
                    rules.add(rule.encode("idna").decode())
                except UnicodeError:
                    pass

    def inner_node(n):
        # publicsuffix2 takes a name that is only the parent of a
        # wildcard or exception rule ("*.compute.amazonaws.com") for a
        # public suffix; the publicsuffix.org algorithm matches a rule
        # only against a name of at least as many labels.
        tld = ref.get_tld(n)
        return tld not in rules and ("*." + tld in rules or any(
            r.startswith("!") and r.endswith("." + tld) for r in rules))
    unlisted = ["a.example.test", "example.invalid", "a.b.c.localdomain"]
    names = sorted(names)
    cmds = [["psl", PSL]] + [["org", n] for n in names + unlisted]
    got = tool(cmds)
    t.is_(got[0], "ok", "the tool loads %s" % PSL)
    agree = inner = 0
    bad = []
    for n, line in zip(names, got[1:]):
        rv, _, org = line.partition(" ")
        if org == ref.get_sld(n):
            agree += 1
        elif inner_node(n):
            inner += 1
        else:
            bad.append("%s: ours %s, publicsuffix2 %s" % (n, line,
                                                          ref.get_sld(n)))
    t.ok(not bad and agree > 20000,
         "PSL: %d names from every rule, %d agree with publicsuffix2, "
         "%d are parents of wildcard rules only" % (len(names), agree,
                                                    inner))
    t.ok(inner > 0, "publicsuffix2's wildcard parents are seen")
    for b in bad[:20]:
        t.diag(b)
    # Known: the default rule "*" (publicsuffix.org algorithm, step 2).
    for n, line in zip(unlisted, got[1 + len(names):]):
        want = ".".join(n.split(".")[-2:])
        t.is_(line, "1 " + want, "unlisted TLD: %s -> %s (publicsuffix2: "
              "%s)" % (n, want, ref.get_sld(n)))
    return agree


# ----------------------------------------------------------- 2. DMARC

class Answer(str):
    """A TXT answer as dnspython's rdata prints: quoted."""


def install_dns(table):
    """authheaders' DNS lookup answers from table: name -> list of TXT,
    or name -> True for a name with A/MX/AAAA records."""
    import authheaders.dmarc_lookup as dl

    def query(name, qtype="TXT"):
        name = str(name).rstrip(".").lower()
        v = table.get(name)
        if qtype.upper() == "TXT":
            if not isinstance(v, list) or not v:
                return None
            return [Answer('"%s"' % x.replace('"', '\\"')) for x in v]
        return [name] if v is True or isinstance(v, list) else None
    dl.query = query


def memoize_org_domain():
    """authheaders re-reads the whole PSL file at every get_org_domain()
    (0.1 s): the same function, with its answers kept."""
    import authheaders
    import authheaders.dmarc_lookup as dl
    cached = functools.lru_cache(maxsize=None)(dl.get_org_domain)
    dl.get_org_domain = cached
    authheaders.get_org_domain = cached


def reference(case):
    """authheaders' (result, policy) for a case."""
    import authheaders
    from authres import SPFAuthenticationResult, DKIMAuthenticationResult
    install_dns(case["dns"])
    msg = (case["header"] + "\r\nhello\r\n").encode()
    spf = None
    if case["spf"]:
        spf = SPFAuthenticationResult(result=case["spf"][0],
                                      smtp_mailfrom="bounce@" +
                                      case["spf"][1])
    sigs = case["dkim"] or [None]
    results = []
    for s in sigs:
        d = None
        if s:
            d = DKIMAuthenticationResult(result=s[0], header_d=s[1])
        # check_dmarc changes spf_result.smtp_mailfrom: a fresh copy.
        sp = None
        if spf:
            sp = SPFAuthenticationResult(result=spf.result,
                                         smtp_mailfrom=spf.smtp_mailfrom)
        r = authheaders.check_dmarc(msg, sp, d)
        results.append((r.result, getattr(r, "policy", None) or "-"))
    res = "pass" if any(r[0] == "pass" for r in results) else results[0][0]
    return res, results[0][1]


def ours(case):
    cmds = [["psl", PSL], ["case"], ["header", case["header"]]]
    if case["spf"]:
        cmds.append(["spf", case["spf"][0], case["spf"][1]])
    for s in case["dkim"]:
        cmds.append(["dkim", s[0], s[1]])
    for name, v in case["dns"].items():
        if isinstance(v, list):
            for rec in v:
                cmds.append(["txt", name, rec])
        elif v is True:
            cmds.append(["dns", name, "ok"])
        else:
            cmds.append(["dns", name, v])
    cmds.append(["rnd", str(case.get("rnd", 0))])
    cmds.append(["eval"])
    return cmds


def parse_eval(line):
    return dict(kv.split("=", 1) for kv in
                line.split(" why=")[0].split(" ")) | \
        {"why": line.split(" why=", 1)[1]}


def rec_tags(rec):
    tags = {}
    for part in rec.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            tags.setdefault(k.strip().lower(), v.strip().lower())
    return tags


def known(case, mine, theirs):
    """The rule of the header comment that explains a disagreement."""
    dns = case["dns"]
    frm = case["from"]
    own = dns.get("_dmarc." + frm)
    if "-" in frm or any("-" in d for _, d in case["dkim"]) or \
            (case["spf"] and "-" in case["spf"][1]):
        return "authheaders cuts domains at '-'"
    if any(d != d.lower() for _, d in case["dkim"]):
        return "DKIM d= case (RFC 4343)"
    if isinstance(own, list):
        dm = [r for r in own if r.startswith("v=DMARC1")]
        if len(dm) > 1:
            return "two records at the From domain (RFC 7489 6.6.3 step 5)"
        sp = [r for r in own if re.match(r"v\s*=\s*DMARC1", r)]
        if sp and not dm:
            return "v = DMARC1 with white space (RFC 7489 6.4)"
        if dm:
            tags = rec_tags(dm[0])
            if tags.get("p") not in ("none", "quarantine", "reject"):
                return "bad or no p= (RFC 7489 6.6.3 step 6)"
            if theirs[1] in (tags.get("sp"), tags.get("np")) and \
                    mine["policy"] == tags["p"] and \
                    mine["result"] == theirs[0]:
                return "sp=/np= applied to the From domain's own record " \
                    "(RFC 7489 6.3, 6.6.3)"
    org = case["org"]
    orgrec = dns.get("_dmarc." + org)
    if isinstance(orgrec, list) and org != frm:
        dm = [r for r in orgrec if r.startswith("v=DMARC1")]
        if dm and rec_tags(dm[0]).get("p") not in ("none", "quarantine",
                                                   "reject"):
            return "bad or no p= (RFC 7489 6.6.3 step 6)"
    return None


def gen_cases():
    rnd = random.Random(63)
    orgs = [
        ("example.com", ["example.com", "mail.example.com",
                         "a.b.example.com"]),
        ("example.co.uk", ["example.co.uk", "a.b.example.co.uk"]),
        ("alice.github.io", ["alice.github.io", "www.alice.github.io"]),
        ("example.org", ["example.org", "news.example.org"]),
    ]
    policies = ["none", "quarantine", "reject"]
    cases = []

    def idents(org, frm):
        suffix = org.split(".", 1)[1]
        return sorted({frm, org, "bounce." + org, "x." + frm,
                       "other." + suffix, suffix, "example.net",
                       "bob.github.io"})

    def record():
        tags = ["v=DMARC1", "p=" + rnd.choice(policies)]
        extra = []
        if rnd.random() < 0.5:
            extra.append("sp=" + rnd.choice(policies))
        for k in ("adkim", "aspf"):
            if rnd.random() < 0.6:
                extra.append(k + "=" + rnd.choice("rs"))
        if rnd.random() < 0.3:
            extra.append("pct=" + rnd.choice(["0", "100", "50"]))
        if rnd.random() < 0.2:
            extra.append("rua=mailto:dmarc@example.net")
        rnd.shuffle(extra)
        return "; ".join(tags + extra)

    def add(org, frm, dns, spf, dkim, note):
        cases.append({"org": org, "from": frm, "dns": dns, "spf": spf,
                      "dkim": dkim, "note": note,
                      "header": "From: User <user@%s>\r\nTo: x@example.net"
                                "\r\nSubject: t\r\n" % frm})

    # The grid: every identifier against every From domain, both modes.
    for org, froms in orgs:
        for frm in froms:
            for ident in idents(org, frm):
                for mode in "rs":
                    dns = {"_dmarc." + org: [
                        "v=DMARC1; p=reject; sp=quarantine; adkim=%s; "
                        "aspf=%s" % (mode, mode)]}
                    add(org, frm, dns, ("pass", ident), [], "spf grid")
                    add(org, frm, dns, ("fail", ident), [("pass", ident)],
                        "dkim grid")
    # Random records, placements and results.
    for i in range(500):
        org, froms = rnd.choice(orgs)
        frm = rnd.choice(froms)
        where = rnd.choice(["org", "from", "both", "none"])
        dns = {}
        if where in ("org", "both"):
            dns["_dmarc." + org] = [record()]
        if where in ("from", "both") or (where == "org" and frm == org):
            dns["_dmarc." + frm] = [record()]
        if rnd.random() < 0.2:
            dns.setdefault("_dmarc." + frm, []).append("v=spf1 -all")
        ids = idents(org, frm)
        spf = None
        if rnd.random() < 0.8:
            spf = (rnd.choice(["pass", "pass", "fail", "softfail",
                               "neutral"]), rnd.choice(ids))
        dkim = [(rnd.choice(["pass", "fail"]), rnd.choice(ids))
                for _ in range(rnd.choice([0, 1, 1, 2, 3]))]
        add(org, frm, dns, spf, dkim, "random %d" % i)
    # Cases for the known disagreements (each must be explained).
    q = "example.com"
    add(q, "sub.example.com", {"_dmarc.sub.example.com": [
        "v=DMARC1; p=reject; sp=none"]}, ("fail", q), [], "own record sp")
    add(q, q, {"_dmarc.example.com": ["v=DMARC1; p=none; sp=reject"]},
        ("fail", q), [], "own record sp at the org")
    add(q, "two.example.com", {
        "_dmarc.two.example.com": ["v=DMARC1; p=reject",
                                   "v=DMARC1; p=reject"],
        "_dmarc.example.com": ["v=DMARC1; p=quarantine"]},
        ("fail", q), [], "two records")
    add(q, q, {"_dmarc.example.com": ["v=DMARC1; p=block; "
                                      "rua=mailto:r@example.com"]},
        ("fail", q), [], "bad p with rua")
    add(q, q, {"_dmarc.example.com": ["v=DMARC1; p=block"]},
        ("fail", q), [], "bad p")
    add(q, q, {"_dmarc.example.com": ["v=DMARC1; rua=mailto:r@e.com"]},
        ("fail", q), [], "no p")
    add(q, q, {"_dmarc.example.com": ["v = DMARC1; p=reject"]},
        ("fail", q), [], "spaces around =")
    add("my-domain.com", "my-domain.com", {"_dmarc.my-domain.com": [
        "v=DMARC1; p=reject"]}, ("pass", "my-domain.com"), [], "hyphen")
    add(q, q, {"_dmarc.example.com": ["v=DMARC1; p=reject; adkim=s"]},
        None, [("pass", "Example.COM")], "d= case")
    return cases


def dmarc_section():
    memoize_org_domain()
    cases = gen_cases()
    cmds = []
    for c in cases:
        cmds += ours(c)
    got = [parse_eval(x) for x in tool(cmds) if x.startswith("result=")]
    t.is_(len(got), len(cases), "one answer per case")
    agree = explained = 0
    bad = []
    reasons = {}
    for c, mine in zip(cases, got):
        theirs = reference(c)
        mine_pol = mine["policy"] if mine["result"] != "none" else "-"
        their_pol = theirs[1] if theirs[0] != "none" else "-"
        if (mine["result"], mine_pol) == (theirs[0], their_pol):
            agree += 1
            continue
        why = known(c, mine, theirs)
        if why:
            explained += 1
            reasons[why] = reasons.get(why, 0) + 1
            continue
        bad.append("%s: From %s spf %s dkim %s dns %s: ours %s/%s (%s), "
                   "authheaders %s/%s" % (
                       c["note"], c["from"], c["spf"], c["dkim"], c["dns"],
                       mine["result"], mine_pol, mine["why"], theirs[0],
                       their_pol))
    t.ok(not bad and agree > 400,
         "DMARC: %d cases, %d agree with authheaders, %d differ as "
         "documented" % (len(cases), agree, explained))
    for b in bad[:15]:
        t.diag(b)
    for why, n in sorted(reasons.items()):
        t.diag("%d: %s" % (n, why))
    # Every documented disagreement was seen, so each rule is exercised.
    t.ok(len(reasons) >= 6, "%d kinds of documented disagreement seen" %
         len(reasons))
    # Our own view of the disagreement cases, as the RFC says.
    tail = dict((c["note"], m) for c, m in zip(cases, got))
    t.is_((tail["own record sp"]["result"], tail["own record sp"]["policy"]),
          ("fail", "reject"), "own record: p=reject applies (RFC 7489 6.3)")
    t.is_(tail["two records"]["result"], "none",
          "two records: none (RFC 7489 6.6.3 step 5)")
    t.is_((tail["bad p with rua"]["result"],
           tail["bad p with rua"]["policy"]), ("fail", "none"),
          "bad p= with rua=: p=none (RFC 7489 6.6.3 step 6.1)")
    t.is_(tail["bad p"]["result"], "permerror",
          "bad p= without rua=: no DMARC, permerror")
    t.is_(tail["spaces around ="]["policy"], "reject",
          "v = DMARC1 is a DMARC record (RFC 7489 6.4)")
    t.is_(tail["d= case"]["result"], "pass", "d=Example.COM aligns "
          "strictly with example.com")
    return agree


def rfc_section():
    """What authheaders does not compute, against the RFC rules."""
    base = "From: a@%s\r\nSubject: x\r\n"
    cases = [
        # (note, header, dns, spf, dkim, rnd, expected fields)
        ("pct=0 lowers reject", base % "example.com",
         {"_dmarc.example.com": ["v=DMARC1; p=reject; pct=0"]},
         ("fail", "example.com"), [], 0,
         {"result": "fail", "policy": "reject", "disp": "quarantine",
          "sampled": "1"}),
        ("pct=100 applies reject", base % "example.com",
         {"_dmarc.example.com": ["v=DMARC1; p=reject; pct=100"]},
         ("fail", "example.com"), [], 99,
         {"result": "fail", "disp": "reject", "sampled": "0"}),
        ("pct=50, random 49", base % "example.com",
         {"_dmarc.example.com": ["v=DMARC1; p=quarantine; pct=50"]},
         None, [], 49, {"disp": "quarantine"}),
        ("pct=50, random 50", base % "example.com",
         {"_dmarc.example.com": ["v=DMARC1; p=quarantine; pct=50"]},
         None, [], 50, {"disp": "none", "sampled": "1"}),
        ("t=y (DMARCbis)", base % "example.com",
         {"_dmarc.example.com": ["v=DMARC1; p=reject; t=y"]},
         None, [], 0, {"disp": "quarantine"}),
        ("pass: nothing to apply", base % "example.com",
         {"_dmarc.example.com": ["v=DMARC1; p=reject"]},
         ("pass", "example.com"), [], 0,
         {"result": "pass", "disp": "none", "aligned": "spf"}),
        ("DNS failure at the From domain", base % "a.example.com",
         {"_dmarc.a.example.com": "tempfail"}, None, [], 0,
         {"result": "temperror"}),
        ("DNS failure at the org domain", base % "a.example.com",
         {"_dmarc.example.com": "tempfail"}, None, [], 0,
         {"result": "temperror"}),
        ("np= for a name that does not exist", base % "nx.example.com",
         {"_dmarc.example.com": ["v=DMARC1; p=none; sp=none; np=reject"],
          "nx.example.com": "none"}, None, [], 0,
         {"policy": "reject", "tag": "n"}),
        ("np= not for a name that exists", base % "mx.example.com",
         {"_dmarc.example.com": ["v=DMARC1; p=none; sp=none; np=reject"],
          "mx.example.com": True}, None, [], 0,
         {"policy": "none", "tag": "s"}),
        ("no From field", "Subject: x\r\n", {}, None, [], 0,
         {"result": "none"}),
        ("two From fields", base % "example.com" + "From: b@example.net\r\n",
         {"_dmarc.example.com": ["v=DMARC1; p=reject"]}, None, [], 0,
         {"result": "permerror"}),
        ("From without a domain", "From: alice\r\n", {}, None, [], 0,
         {"result": "permerror"}),
        ("two addresses, one domain", "From: a@example.com, "
         "B <b@example.com>\r\n",
         {"_dmarc.example.com": ["v=DMARC1; p=reject"]},
         ("pass", "example.com"), [], 0, {"result": "pass", "n": "1"}),
        ("two domains: the strictest failing (RFC 7489 6.6.1)",
         "From: a@example.com, b@example.org\r\n",
         {"_dmarc.example.com": ["v=DMARC1; p=quarantine"],
          "_dmarc.example.org": ["v=DMARC1; p=reject"]},
         ("pass", "example.com"), [], 0,
         {"result": "fail", "policy": "reject", "from": "example.org",
          "n": "2"}),
        ("U-label From domain", "From: j@b\u00fccher.example.com\r\n",
         {"_dmarc.xn--bcher-kva.example.com": ["v=DMARC1; p=reject"]},
         ("pass", "xn--bcher-kva.example.com"), [], 0,
         {"result": "pass", "from": "xn--bcher-kva.example.com"}),
    ]
    cmds = []
    for note, hdr, dns, spf, dkim, r, _ in cases:
        c = {"header": hdr, "dns": dns, "spf": spf, "dkim": dkim, "rnd": r}
        cmds += ours(c)
    got = [parse_eval(x) for x in tool(cmds) if x.startswith("result=")]
    for (note, _, _, _, _, _, want), mine in zip(cases, got):
        sub = dict((k, mine.get(k)) for k in want)
        t.is_(sub, want, "RFC: " + note)


# ------------------------------------------------- 3. A-R and authres

def ar_cases():
    long_local = "very.long.local.part." * 8 + "end"
    bvals = ["AbCdEfGh" + "x" * 300, "AbCdEfGhI" + "y" * 300,
             "AbCdEfGhIj/+=" + "z" * 300, "Q" * 344]
    return [
        {"id": "mx.example.org", "spf": ("pass", "bounce@example.com",
                                         None, None),
         "dkim": [("pass", "example.com", "sel", bvals[0], None)],
         "dmarc": ("pass", "example.com", "reject", None),
         "arc": ("none", None)},
        {"id": "MX.Example.ORG", "spf": ("softfail", None, "helo.example",
                                         "client 192.0.2.1 (nope)"),
         "dkim": [("pass", "example.com", "s1", bvals[0], "rsa-sha256"),
                  ("fail", "example.com", "s2", bvals[1], "body hash"),
                  ("pass", "xn--bcher-kva.example", "ed", bvals[2],
                   "ed25519 \"quoted\" \\ back"),
                  ("neutral", "example.net", None, bvals[3], None)],
         "dmarc": ("fail", "xn--bcher-kva.example", "quarantine",
                   "p=quarantine sp=none (from org)"),
         "arc": ("pass", "i=1")},
        {"id": "mx", "spf": ("pass", long_local + "@" + "sub." * 20 +
                             "example.com", None, "a " * 60),
         "dkim": [], "dmarc": ("none", "example.com", None, None),
         "arc": None},
        {"id": "mx", "spf": ("pass", "\"john doe\"@example.com", None,
                             "ctl\x01\x7f and\r\nbreak"),
         "dkim": [("pass", "example.com", None, "a\\b\"c d e f g h",
                   None)],
         "dmarc": ("permerror", "we;ird=dom(ain)", None,
                   "unbalanced ( paren"),
         "arc": None},
        {"id": "mx", "spf": None, "dkim": [], "dmarc": None, "arc": None},
    ]


def ar_section():
    import authres
    import authres.arc
    import authres.dmarc
    ctx = authres.FeatureContext(authres.dmarc, authres.arc)
    cases = ar_cases()
    cmds = []
    for c in cases:
        cmds.append(["ar", c["id"], "0"])
        if c["spf"]:
            cmds.append(["ar-spf", c["spf"][0], c["spf"][1] or "",
                         c["spf"][2] or "", c["spf"][3] or ""])
        for d in c["dkim"]:
            cmds.append(["ar-dkim"] + [x or "" for x in d])
        if c["dmarc"]:
            cmds.append(["ar-dmarc"] + [x or "" for x in c["dmarc"]])
        if c["arc"]:
            cmds.append(["ar-arc", c["arc"][0], c["arc"][1] or ""])
        cmds.append(["ar-end"])
    fields = tool(cmds)

    def clean(v):
        # What the renderer does to a value: controls become '?'.
        return "".join("?" if ord(ch) < 32 or ord(ch) == 127 else ch
                       for ch in v)

    def unq(v):
        return re.sub(r"\\(.)", r"\1", v)

    for i, (c, f) in enumerate(zip(cases, fields)):
        lines = f.split("\r\n")
        t.ok(f.endswith("\r\n") and all(
            len(x.expandtabs(8)) <= 77 or " " not in x.strip()
            for x in lines) and all(x.startswith("\t") for x in lines[1:-1]),
            "A-R %d: CRLF TAB folding under 78 columns" % i)
        t.ok("\n" not in f.replace("\r\n", "") and
             not re.search(r"[\x00-\x08\x0a-\x1f\x7f]",
                           f.replace("\r\n", "")),
             "A-R %d: no bare line break or control byte" % i)
        unfolded = f.replace("\r\n", "").rstrip()
        try:
            h = ctx.parse(unfolded)
        except Exception as e:   # noqa: B902
            t.ok(False, "A-R %d: authres parses it: %s: %s" % (i, e, f))
            continue
        t.is_(h.authserv_id, c["id"].lower(), "A-R %d: authserv-id" % i)
        res = [(r.method, r.result) for r in h.results]
        want = []
        if c["spf"]:
            want.append(("spf", c["spf"][0]))
        want += [("dkim", d[0]) for d in c["dkim"]]
        if c["dmarc"]:
            want.append(("dmarc", c["dmarc"][0]))
        if c["arc"]:
            want.append(("arc", c["arc"][0]))
        t.is_(res, want, "A-R %d: methods and results" % i)
        props = [dict(("%s.%s" % (p.type, p.name), unq(p.value))
                      for p in r.properties) for r in h.results]
        k = 0
        if c["spf"]:
            spf = props[k]
            k += 1
            if c["spf"][1]:
                t.is_(spf.get("smtp.mailfrom"), clean(c["spf"][1]),
                      "A-R %d: smtp.mailfrom" % i)
            else:
                t.is_(spf.get("smtp.helo"), c["spf"][2],
                      "A-R %d: smtp.helo" % i)
        bs = [d[3].replace(" ", "") for d in c["dkim"]]
        for j, d in enumerate(c["dkim"]):
            p = props[k]
            k += 1
            t.is_((p.get("header.d"), p.get("header.s")),
                  (clean(d[1]), d[2] and clean(d[2])),
                  "A-R %d: dkim %d header.d, header.s" % (i, j))
            b = p.get("header.b", "")
            others = [x for n, x in enumerate(bs) if n != j]
            t.ok(bs[j].startswith(b) and len(b) >= min(8, len(bs[j])) and
                 not any(x.startswith(b) for x in others),
                 "A-R %d: dkim %d header.b=%s is a unique prefix "
                 "(RFC 6008)" % (i, j, b))
        if c["dmarc"]:
            p = props[k]
            t.is_((p.get("header.from"), p.get("policy.dmarc")),
                  (clean(c["dmarc"][1]), c["dmarc"][2]),
                  "A-R %d: header.from, policy.dmarc" % i)
    # The id reader against fields authres writes, comments and all.
    ids = ["mx.example.org", "MX.EXAMPLE.ORG", "host-1.example",
           "a_b.example"]
    made = []
    for n, id_ in enumerate(ids):
        h = ctx.header(
            authserv_id=id_, authserv_id_comment="c%d" % n,
            version="1" if n % 2 else None,
            results=[authres.SPFAuthenticationResult(
                result="pass", smtp_mailfrom="a@example.com")])
        made.append((str(h), None))
    made += [("Authentication-Results:\r\n mx.example.org;\r\n\tspf=pass "
              "smtp.mailfrom=a@b", None),
             ("Authentication-Results: (x (y)) mx.example.org "
              "(z)\r\n\t1 (v); none", None),
             # authres reads only a dot-atom id, not RFC 8601's
             # quoted-string: the id is written out here.
             ("Authentication-Results: (x (y)) \"mx.example.org\" "
              "(z)\r\n\t1 (v); none", "mx.example.org"),
             ("Authentication-Results: \"mx\\\"q \"; none", "mx\"q ")]
    got = tool([["arid", m] for m, _ in made])
    for (m, want), g in zip(made, got):
        if want is None:
            try:
                want = ctx.parse(m.replace("\r\n", "")).authserv_id
            except Exception as e:   # noqa: B902
                t.ok(False, "authres parses %r: %s" % (m, e))
                continue
        rv, _, mine = g.partition(" ")
        t.is_((rv, mine.lower()), ("1", want.lower()),
              "authserv-id of %r" % m[:60])


def main():
    if not os.path.exists(TOOL):
        t.bail_out("%s missing: run make unit" % TOOL)
    try:
        import authheaders  # noqa: F401,F811
        import authres  # noqa: F401
        import publicsuffix2  # noqa: F401
    except ImportError as e:
        t.skip_all("python3-authheaders, python3-authres or "
                   "python3-publicsuffix2 missing (scripts/install-deps): "
                   "%s" % e)
    if not os.path.exists(PSL):
        t.skip_all("%s missing (Debian: publicsuffix)" % PSL)
    t.section(psl_section)
    t.section(dmarc_section)
    t.section(rfc_section)
    t.section(ar_section)


t.run(main)
