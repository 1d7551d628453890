#!/usr/bin/env python3
# DKIM verification and ARC chain validation (issue 12), differential:
# messages signed by dkimpy (python3-dkim), by OpenDKIM (opendkim -t with
# a private configuration) and by maild's own signer, with RSA 512 (to be
# refused), 1024 and 2048 and Ed25519 keys, every canonicalisation, l=,
# i=, x=, several signatures, testing and restricted keys; ARC sets made
# by dkimpy's arc_sign over one and several hops, some broken; then
# tampered copies of each.  For every message maild's verifier
# (tests/unit/dkimverify_tool) must give each signature the verdict
# dkimpy gives it (dkim.DKIM(...).verify(idx=...)), and the ARC chain the
# result of dkim.arc_verify(), with the keys of one key file for both.
#
# Where the two differ the case is listed in DIFFERENCES below with the
# RFC section maild follows, and maild must give the RFC's answer.
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

TOOL = os.path.join(t.REPO, "tests", "unit", "dkimverify_tool")
NOW = int(time.time())
DAY = 86400

# Cases where maild follows the RFC and dkimpy 1.1 does not: case name
# -> (signature index, maild's result, why).  ARC cases use index "arc".
DIFFERENCES = {
    "rsa-sha1": (0, "permerror",
                 "RFC 8301 3.1: rsa-sha1 MUST NOT be used for verifying; "
                 "dkimpy verifies it"),
    "h-without-from": (0, "permerror",
                       "RFC 6376 6.1.1: a signature whose h= lacks From "
                       "MUST be ignored (PERMFAIL); dkimpy verifies it"),
    "x-before-t": (0, "permerror",
                   "RFC 6376 3.5 x=: MUST be greater than t=; dkimpy's "
                   "check of it is unreachable code"),
    "x-expired-1h": (0, "permerror",
                     "RFC 6376 3.5 x=: past the expiry; maild allows "
                     "300 s of clock skew, dkimpy 10 hours"),
    "t-future-1h": (0, "permerror",
                    "RFC 6376 3.5 t=: a time in the future; maild allows "
                    "300 s of clock skew, dkimpy 10 hours"),
    "l-beyond-body": (0, "permerror",
                      "RFC 6376 3.5 l=: MUST NOT be larger than the "
                      "canonicalised body; dkimpy hashes the body it has"),
    "key-h-sha1": (0, "permerror",
                   "RFC 6376 3.6.1 h=: the key allows only sha1; dkimpy "
                   "ignores the key's h="),
    "key-t-s-subdomain": (0, "permerror",
                          "RFC 6376 3.6.1 t=s: i= must be in d= itself, "
                          "not a subdomain; dkimpy ignores t=s"),
    "key-s-list": (0, "pass",
                   "RFC 6376 3.6.1 s= is a colon-separated list "
                   "(email:tlsrpt); dkimpy compares the whole value"),
    "key-two-records": (0, "permerror",
                        "RFC 6376 3.6.2.2: with several TXT records the "
                        "result is undefined; maild refuses, dkimpy takes "
                        "the first"),
    "*/second-from-on-top": ("*", "pass",
                             "RFC 6376 5.4.2: a From added above the "
                             "signed one is not signed (the signer did not "
                             "over-sign From); dkimpy adds a second from to "
                             "every h= (its bug 644046), RFC 6376 8.15 "
                             "leaves such fields to the verifier's policy"),
    "arc-cv-fail": ("arc", "fail",
                    "RFC 8617 5.2 step 2: the latest seal's cv=fail is a "
                    "fail; dkimpy returns None (chain terminated)"),
}


def run(cmd, data=None, check=True):
    r = subprocess.run(cmd, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                                r.stderr.decode()))
    return r.stdout


class Keys:
    """The key records, written for the tool, answered for dkimpy."""

    def __init__(self, path):
        self.path = path
        self.rec = {}

    def add(self, name, value):
        self.rec.setdefault(name.lower(), []).append(value)

    def write(self):
        with open(self.path, "w") as f:
            for name, values in sorted(self.rec.items()):
                for v in values:
                    f.write("%s\t%s\n" % (name, v))

    def dnsfunc(self, name, timeout=5):
        import dkim
        name = name.decode().lower().rstrip(".")
        values = self.rec.get(name)
        if not values or values == ["NONE"]:
            return None
        if values == ["TEMPFAIL"]:
            raise dkim.DnsTimeoutError("TEMPFAIL in the key file")
        # dkimpy's dnsplug takes the first record of the answer.
        return values[0].encode()


class RSAKey:
    def __init__(self, d, bits):
        self.pem_path = os.path.join(d, "rsa%d.pem" % bits)
        run(["openssl", "genrsa", "-out", self.pem_path, str(bits)])
        os.chmod(self.pem_path, 0o600)
        with open(self.pem_path, "rb") as f:
            self.pem = f.read()
        der = run(["openssl", "rsa", "-in", self.pem_path, "-pubout",
                   "-outform", "DER"])
        self.p = base64.b64encode(der).decode()
        der = run(["openssl", "rsa", "-in", self.pem_path,
                   "-RSAPublicKey_out", "-outform", "DER"])
        self.p_pkcs1 = base64.b64encode(der).decode()
        self.alg = b"rsa-sha256"
        self.k = "rsa"

    def priv(self):
        return self.pem


class EdKey:
    PKCS8 = bytes.fromhex("302e020100300506032b657004220420")

    def __init__(self, d):
        import nacl.signing
        seed = os.urandom(32)
        self.sk = nacl.signing.SigningKey(seed)
        self.p = base64.b64encode(self.sk.verify_key.encode()).decode()
        self.seed64 = base64.b64encode(seed)
        self.pem_path = os.path.join(d, "ed25519.pem")
        with open(self.pem_path, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\n%s\n"
                    "-----END PRIVATE KEY-----\n" %
                    base64.b64encode(self.PKCS8 + seed).decode())
        os.chmod(self.pem_path, 0o600)
        self.alg = b"ed25519-sha256"
        self.k = "ed25519"

    def priv(self):
        return self.seed64


def message(n=0, extra=b""):
    return (b"Received: from relay.example.net by mx.example.org; "
            b"Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            b"From: Alice Example <alice@example.com>\r\n"
            b"To: Bob <bob@example.org>, carol@example.org\r\n"
            b"Subject: Hello  there,\r\n\tfolded  subject %d\r\n"
            b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            b"Message-ID: <%d.test62@example.com>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            % (n, n) + extra + b"\r\n"
            b"Line one  with  spaces \r\n"
            b"\tTabbed line\t\r\n"
            b"\r\n"
            b"A longer line " + b"x" * 200 + b" end\r\n"
            b"Last line\r\n"
            b"\r\n\r\n")


def dkimpy_sign(msg, key, sel, dom, canon=(b"relaxed", b"relaxed"), **kw):
    import dkim
    sig = dkim.sign(msg, sel.encode(), dom.encode(), key.priv(),
                    signature_algorithm=key.alg, canonicalize=canon, **kw)
    return sig + msg


def raw_sign(msg, key, sel, dom, c=b"relaxed/relaxed", alg=None,
             h=(b"from", b"to", b"subject", b"date"), tags=(), length=None,
             drop=()):
    """A signature with any tags, made with dkimpy's own pieces."""
    import dkim
    from dkim.canonicalization import CanonicalizationPolicy
    from dkim.crypto import HASH_ALGORITHMS, parse_pem_private_key
    alg = alg or key.alg
    d = dkim.DKIM(msg, signature_algorithm=alg)
    d.hasher = HASH_ALGORITHMS[alg]
    policy = CanonicalizationPolicy.from_c_value(c)
    body = policy.canonicalize_body(d.body)
    if length is not None:
        body = body[:length]
    bh = base64.b64encode(d.hasher(body).digest())
    fields = [(b"v", b"1"), (b"a", alg), (b"c", c), (b"d", dom.encode()),
              (b"s", sel.encode()), (b"t", str(NOW).encode())]
    fields += [(k, v) for k, v in tags]
    if length is not None:
        fields.append((b"l", b"%d" % length))
    fields += [(b"h", b":".join(h)), (b"bh", bh), (b"b", b"0" * 60)]
    fields = [f for f in fields if f[0] not in drop]
    seen = {}
    for k, v in fields:             # a tag given in tags replaces its default
        seen[k] = v
    fields = [(k, seen.pop(k)) for k, _ in fields if k in seen]
    if key.k == "rsa":
        pk = parse_pem_private_key(key.pem)
    else:
        pk = key.sk
    value = d.gen_header(fields, [x.strip().lower() for x in h], policy,
                         b"DKIM-Signature", pk)
    return b"DKIM-Signature: " + value + msg


def opendkim_sign(d, msg, key, sel, dom, canon, extra=""):
    path = os.path.join(d, "odk.eml")
    conf = os.path.join(d, "odk.conf")
    with open(path, "wb") as f:
        f.write(msg)
    with open(conf, "w") as f:
        f.write("Mode s\nDomain %s\nSelector %s\nKeyFile %s\n"
                "Canonicalization %s\nSignatureAlgorithm %s\nSyslog no\n"
                "RequireSafeKeys no\n%s" % (dom, sel, key.pem_path, canon,
                                            key.alg.decode(), extra))
    out = run(["opendkim", "-x", conf, "-t", path])
    i = out.find(b"DKIM-Signature:")
    if i < 0:
        raise RuntimeError("opendkim -t printed no signature: %r" % out)
    sig = out[i:].rstrip(b"\n").replace(b"\r\n", b"\n")
    return sig.replace(b"\n", b"\r\n") + b"\r\n" + msg


def maild_sign(d, msg, key, sel, dom):
    path = os.path.join(d, "maild.eml")
    with open(path, "wb") as f:
        f.write(msg)
    return run([TOOL, "-S", "-d", dom, "-s", sel, "-k", key.pem_path,
                "-n", str(NOW), path])


def arc_seal(msg, key, dom, ar):
    """One ARC hop: dom adds its Authentication-Results and seals."""
    import dkim
    msg = b"Authentication-Results: " + dom.encode() + b"; " + ar + \
        b"\r\n" + msg
    sets = dkim.arc_sign(msg, b"arc", dom.encode(), key.pem, dom.encode())
    if not sets:
        raise RuntimeError("arc_sign made no set for %s" % dom)
    return b"".join(sets) + msg


# ---------------------------------------------------------------- tampering

def _hdr_body(msg):
    i = msg.index(b"\r\n\r\n")
    return msg[:i + 2], msg[i + 2:]


def t_body(msg):
    h, b = _hdr_body(msg)
    return h + b.replace(b"Line one", b"Line 0ne", 1)


def t_body_ws(msg):
    h, b = _hdr_body(msg)
    return h + b.replace(b"Line one  with  spaces \r\n",
                         b"Line one \t with spaces\t\t\r\n", 1)


def t_body_lines(msg):
    return msg + b"\r\n\r\n"


def t_body_append(msg):
    return msg + b"Appended by a list\r\n"


def t_subject(msg):
    return msg.replace(b"Subject: Hello", b"Subject: Jello", 1)


def t_header_ws(msg):
    return msg.replace(b"Subject: Hello  there,\r\n\tfolded  subject",
                       b"Subject:  Hello there, folded \t subject", 1)


def t_header_case(msg):
    return msg.replace(b"\r\nSubject:", b"\r\nSUBJECT:", 1)


def t_added_header(msg):
    return b"X-Added: by a relay\r\nReceived: from x by y; now\r\n" + msg


def t_added_from(msg):
    return b"From: Mallory <mallory@example.com>\r\n" + msg


def t_subject_below(msg):
    h, b = _hdr_body(msg)
    return h + b"Subject: a second subject\r\n" + b


def t_reorder(msg):
    h, b = _hdr_body(msg)
    lines = re.split(rb"\r\n(?![ \t])", h[:-2])
    to = [x for x in lines if x.lower().startswith(b"to:")]
    rest = [x for x in lines if not x.lower().startswith(b"to:")]
    return b"\r\n".join(rest + to) + b"\r\n" + b


def t_refold_sig(msg):
    """The first signature field unfolded and folded again elsewhere."""
    h, b = _hdr_body(msg)
    i = h.index(b"DKIM-Signature:")
    j = i
    while True:
        j = h.index(b"\r\n", j) + 2
        if h[j:j + 1] not in (b" ", b"\t"):
            break
    field = h[i:j - 2]
    field = re.sub(rb"\r\n[ \t]+", b" ", field)
    field = field.replace(b"; ", b";\r\n  ", 2)
    return h[:i] + field + b"\r\n" + h[j:] + b


TAMPERS = [
    ("as-signed", lambda m: m),
    ("body-changed", t_body),
    ("body-whitespace", t_body_ws),
    ("body-empty-lines-added", t_body_lines),
    ("body-appended", t_body_append),
    ("subject-changed", t_subject),
    ("header-whitespace", t_header_ws),
    ("header-name-case", t_header_case),
    ("unsigned-header-added", t_added_header),
    ("second-from-on-top", t_added_from),
    ("second-subject-below", t_subject_below),
    ("headers-reordered", t_reorder),
    ("signature-refolded", t_refold_sig),
]


# ---------------------------------------------------------------- verifying

class Checker:
    def __init__(self, d, keys):
        self.d = d
        self.keys = keys
        self.n = 0
        self.agreed = 0
        self.sigs = 0
        self.arcs = 0
        self.documented = {}
        self.differed = 0

    def ours(self, msg, chunk=None):
        path = os.path.join(self.d, "verify.eml")
        with open(path, "wb") as f:
            f.write(msg)
        cmd = [TOOL, "-n", str(NOW)]
        if chunk:
            cmd += ["-c", str(chunk)]
        out = run(cmd + [path, self.keys.path]).decode()
        sigs, arc = [], None
        for line in out.splitlines():
            w = line.split(" ", 2)
            if w[0] == "dkim":
                f = dict(re.findall(r'(\w+)=("[^"]*"|\S*)', w[2]))
                f["result"] = w[2].split(" ", 1)[0]
                sigs.append(f)
            elif w[0] == "arc":
                f = dict(re.findall(r'([\w-]+)=("[^"]*"|\S*)', w[2]))
                f["result"] = w[1]
                arc = f
            elif w[0] != "dkim-ignored":
                raise RuntimeError("dkimverify_tool: %r" % line)
        return sigs, arc

    def dkimpy(self, msg):
        import dkim
        d = dkim.DKIM(msg, minkey=1024)
        n = sum(1 for k, _ in d.headers if k.lower() == b"dkim-signature")
        res = []
        for i in range(n):
            try:
                res.append("pass" if d.verify(idx=i,
                                              dnsfunc=self.keys.dnsfunc)
                           else "fail")
            except dkim.DKIMException as e:
                res.append("fail (%s)" % e)
            except Exception as e:  # noqa: B902 - dkimpy's own crashes
                res.append("fail (%s: %s)" % (type(e).__name__, e))
        return res

    def dkimpy_arc(self, msg):
        import dkim
        cv, results, reason = dkim.arc_verify(msg, dnsfunc=self.keys.dnsfunc)
        cv = cv.decode() if cv is not None else None
        oldest = None
        if cv == "pass":
            oldest = 0
            for r in results:               # newest first
                if not r["ams-valid"]:
                    oldest = r["instance"] + 1
                    break
        return cv, oldest, reason

    def fields_agree(self, name, msg, i, ours):
        """d=, s=, a=, i=, l=, b= as dkimpy parses them."""
        import dkim
        from dkim.util import parse_tag_value
        sigs = [v for k, v in dkim.DKIM(msg).headers
                if k.lower() == b"dkim-signature"]
        try:
            tags = parse_tag_value(sigs[i])
        except Exception:           # noqa: B902 - dkimpy cannot parse it
            return
        want = {
            "d": tags[b"d"].decode(), "s": tags[b"s"].decode(),
            "a": tags[b"a"].decode(),
            "i": tags.get(b"i", b"@" + tags[b"d"]).decode(),
            "l": tags.get(b"l", b"-").decode(),
            "b": re.sub(r"\s+", "", tags[b"b"].decode())[:16],
        }
        got = {k: ours.get(k) for k in want}
        t.is_(got, want, "%s: signature %d: the tags maild reports" %
              (name, i))

    def check(self, name, msg, expect=None, chunk=None):
        """Every signature as dkimpy has it."""
        self.n += 1
        base, tname = name.split("/")
        ours, arc = self.ours(msg, chunk)
        theirs = self.dkimpy(msg)
        t.is_(len(ours), len(theirs), "%s: %d signatures" %
              (name, len(theirs)))
        for i, (o, th) in enumerate(zip(ours, theirs)):
            self.sigs += 1
            same = (o["result"] == "pass") == (th == "pass")
            doc = DIFFERENCES.get(base)
            if doc is None and not same:
                base = "*/" + tname
                doc = DIFFERENCES.get(base)
            if doc is not None and doc[0] in (i, "*") and \
                    (tname == "as-signed" or not same):
                t.is_(o["result"], doc[1], "%s: signature %d: %s as the "
                      "RFC says (dkimpy: %s)" % (name, i, doc[1], th))
                if not same and o["result"] == doc[1]:
                    self.documented[base] = "maild %s, dkimpy %s: %s" % (
                        o["result"], th, doc[2])
                    self.differed += 1
                elif same:
                    self.agreed += 1
                continue
            t.ok(same, "%s: signature %d: maild %s (%s), dkimpy %s" %
                 (name, i, o["result"], o.get("reason", ""), th))
            if same:
                self.agreed += 1
            if expect is not None and i in expect:
                t.is_(o["result"], expect[i], "%s: signature %d is %s" %
                      (name, i, expect[i]))
            if tname == "as-signed":
                self.fields_agree(name, msg, i, o)
        return ours, arc


def main():
    try:
        import dkim  # noqa: F401
        import nacl.signing  # noqa: F401
        import authres  # noqa: F401
    except ImportError as e:
        # The Debian packages are the system python's, which a python3
        # first in PATH (pyenv, a venv) may not be.
        if os.path.realpath(sys.executable) != \
                os.path.realpath("/usr/bin/python3") and \
                os.access("/usr/bin/python3", os.X_OK) and \
                "MAILD_T62_SYSTEM_PYTHON" not in os.environ:
            os.environ["MAILD_T62_SYSTEM_PYTHON"] = "1"
            sys.stdout.flush()
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
        t.skip_all("python3-dkim, python3-nacl or python3-authres "
                   "missing (scripts/install-deps): %s" % e)
    if not os.access(TOOL, os.X_OK):
        t.ok(False, "%s is built (make unit)" % TOOL)
        return
    with tempfile.TemporaryDirectory(prefix="maild-t62-") as d:
        body(d)


def body(d):
    keys = Keys(os.path.join(d, "keys"))
    rsa512 = RSAKey(d, 512)
    rsa1024 = RSAKey(d, 1024)
    rsa2048 = RSAKey(d, 2048)
    ed = EdKey(d)
    dom = "example.com"

    def rec(sel, key, extra="", domain=dom, p=None):
        keys.add("%s._domainkey.%s" % (sel, domain), "v=DKIM1; k=%s;%s p=%s"
                 % (key.k, extra, p if p is not None else key.p))

    rec("rsa512", rsa512)
    rec("rsa1024", rsa1024)
    rec("rsa2048", rsa2048)
    rec("pkcs1", rsa2048, p=rsa2048.p_pkcs1)
    rec("ed", ed)
    rec("other", rsa2048, domain="example.net")
    rec("testing", rsa2048, " t=y;")
    rec("strict", rsa2048, " t=s;")
    rec("hsha256", rsa2048, " h=sha256;")
    rec("hsha1", rsa2048, " h=sha1;")
    rec("semail", rsa2048, " s=email;")
    rec("slist", rsa2048, " s=email:tlsrpt;")
    rec("sother", rsa2048, " s=other;")
    rec("revoked", rsa2048, p="")
    keys.rec["v2._domainkey.example.com"] = [
        "v=DKIM2; k=rsa; p=" + rsa2048.p]
    keys.rec["wrongk._domainkey.example.com"] = [
        "v=DKIM1; k=ed25519; p=" + ed.p]
    keys.rec["spaced._domainkey.example.com"] = [
        "v=DKIM1; k=rsa; p=" + " ".join(rsa2048.p[i:i + 60] for i in
                                          range(0, len(rsa2048.p), 60))]
    keys.rec["garbage._domainkey.example.com"] = ["v=DKIM1; k=rsa; p=@@@@"]
    keys.rec["syntax._domainkey.example.com"] = ["v=DKIM1; k=rsa p"]
    keys.rec["two._domainkey.example.com"] = [
        "v=DKIM1; k=rsa; p=" + rsa2048.p, "v=DKIM1; k=rsa; p=" + rsa1024.p]
    keys.rec["none._domainkey.example.com"] = ["NONE"]
    keys.rec["tempfail._domainkey.example.com"] = ["TEMPFAIL"]
    for hop in ("hop1.example", "hop2.example", "hop3.example"):
        rec("arc", rsa2048, domain=hop)
    keys.write()
    c = Checker(d, keys)

    # -------------------------------------------------------- dkimpy
    cases = []
    canons = [(b"relaxed", b"relaxed"), (b"simple", b"simple"),
              (b"relaxed", b"simple"), (b"simple", b"relaxed")]
    for key, sel in ((rsa2048, "rsa2048"), (rsa1024, "rsa1024"),
                     (ed, "ed")):
        for hc, bc in canons:
            cases.append(("dkimpy-%s-%s-%s" % (sel, hc.decode(),
                                               bc.decode()),
                          dkimpy_sign(message(len(cases)), key, sel, dom,
                                      (hc, bc)), None))
    for hc, bc in canons:
        cases.append(("dkimpy-l-%s-%s" % (hc.decode(), bc.decode()),
                      dkimpy_sign(message(len(cases)), rsa2048, "rsa2048",
                                  dom, (hc, bc), length=True), None))
    cases.append(("dkimpy-ed-l", dkimpy_sign(message(), ed, "ed", dom,
                                             length=True), None))
    cases.append(("rsa512-refused", dkimpy_sign(message(), rsa512, "rsa512",
                                                dom), {0: "permerror"}))
    cases.append(("pkcs1-key", dkimpy_sign(message(), rsa2048, "pkcs1",
                                           dom), None))
    cases.append(("spaced-key", dkimpy_sign(message(), rsa2048, "spaced",
                                            dom), None))
    cases.append(("i-user", dkimpy_sign(message(), rsa2048, "rsa2048", dom,
                                        identity=b"alice@example.com"),
                  None))
    cases.append(("i-subdomain",
                  dkimpy_sign(message(), rsa2048, "rsa2048", dom,
                              identity=b"@mail.example.com"), None))
    cases.append(("key-t-s-same", dkimpy_sign(message(), rsa2048, "strict",
                                              dom, identity=b"a@example.com"),
                  None))
    cases.append(("key-t-s-subdomain",
                  dkimpy_sign(message(), rsa2048, "strict", dom,
                              identity=b"a@mail.example.com"), None))
    cases.append(("key-testing", dkimpy_sign(message(), rsa2048, "testing",
                                             dom), None))
    cases.append(("key-h-sha256", dkimpy_sign(message(), rsa2048, "hsha256",
                                              dom), None))
    cases.append(("key-h-sha1", dkimpy_sign(message(), rsa2048, "hsha1",
                                            dom), None))
    cases.append(("key-s-email", dkimpy_sign(message(), rsa2048, "semail",
                                             dom), None))
    cases.append(("key-s-list", dkimpy_sign(message(), rsa2048, "slist",
                                            dom), None))
    cases.append(("key-s-other", dkimpy_sign(message(), rsa2048, "sother",
                                             dom), {0: "permerror"}))
    cases.append(("key-revoked", dkimpy_sign(message(), rsa2048, "revoked",
                                             dom), {0: "permerror"}))
    cases.append(("key-v2", dkimpy_sign(message(), rsa2048, "v2", dom),
                  {0: "permerror"}))
    cases.append(("key-type-mismatch", dkimpy_sign(message(), rsa2048,
                                                   "wrongk", dom),
                  {0: "permerror"}))
    cases.append(("key-garbage", dkimpy_sign(message(), rsa2048, "garbage",
                                             dom), {0: "permerror"}))
    cases.append(("key-syntax", dkimpy_sign(message(), rsa2048, "syntax",
                                            dom), {0: "permerror"}))
    cases.append(("key-two-records", dkimpy_sign(message(), rsa2048, "two",
                                                 dom), None))
    cases.append(("key-none", dkimpy_sign(message(), rsa2048, "none", dom),
                  {0: "permerror"}))
    cases.append(("key-missing", dkimpy_sign(message(), rsa2048, "absent",
                                             dom), {0: "permerror"}))
    cases.append(("key-tempfail", dkimpy_sign(message(), rsa2048,
                                              "tempfail", dom),
                  {0: "temperror"}))
    m = message(99)
    m = dkimpy_sign(m, rsa1024, "rsa1024", dom, (b"simple", b"simple"))
    m = dkimpy_sign(m, ed, "ed", dom, (b"relaxed", b"simple"))
    m = dkimpy_sign(m, rsa2048, "other", "example.net",
                    (b"relaxed", b"relaxed"), length=True)
    m = dkimpy_sign(m, rsa2048, "rsa2048", dom, (b"simple", b"relaxed"))
    m = dkimpy_sign(m, rsa512, "rsa512", dom)
    cases.append(("several-signatures", m, {0: "permerror"}))

    # ------------------------------------------- tags dkim.sign cannot set
    cases.append(("x-future", raw_sign(message(), rsa2048, "rsa2048", dom,
                                       tags=[(b"x", b"%d" % (NOW + DAY))]),
                  None))
    cases.append(("x-expired", raw_sign(
        message(), rsa2048, "rsa2048", dom,
        tags=[(b"t", b"%d" % (NOW - 3 * DAY)),
              (b"x", b"%d" % (NOW - 2 * DAY))]), {0: "permerror"}))
    cases.append(("x-expired-1h", raw_sign(
        message(), rsa2048, "rsa2048", dom,
        tags=[(b"t", b"%d" % (NOW - DAY)), (b"x", b"%d" % (NOW - 3600))]),
        None))
    cases.append(("x-before-t", raw_sign(
        message(), rsa2048, "rsa2048", dom,
        tags=[(b"t", b"%d" % (NOW - 100)), (b"x", b"%d" % (NOW - 200))]),
        None))
    cases.append(("t-future", raw_sign(message(), ed, "ed", dom,
                                       tags=[(b"t", b"%d" % (NOW + DAY))]),
                  {0: "permerror"}))
    cases.append(("t-future-1h", raw_sign(message(), ed, "ed", dom,
                                          tags=[(b"t", b"%d" %
                                                 (NOW + 3600))]), None))
    cases.append(("t-skew-ok", raw_sign(message(), ed, "ed", dom,
                                        tags=[(b"t", b"%d" % (NOW + 60))]),
                  {0: "pass"}))
    cases.append(("rsa-sha1", raw_sign(message(), rsa2048, "rsa2048", dom,
                                       alg=b"rsa-sha1"), None))
    cases.append(("h-without-from", raw_sign(message(), rsa2048, "rsa2048",
                                             dom, h=(b"to", b"subject")),
                  None))
    cases.append(("oversigned", raw_sign(
        message(), rsa2048, "rsa2048", dom,
        h=(b"from", b"from", b"subject", b"subject", b"reply-to",
           b"received", b"received", b"x-none")), {0: "pass"}))
    cases.append(("h-mixed-case-fws", raw_sign(
        message(), ed, "ed", dom,
        h=(b"From", b" SUBJECT", b"to ", b"Date")), None))
    cases.append(("l-zero", raw_sign(message(), rsa2048, "rsa2048", dom,
                                     length=0), None))
    cases.append(("l-beyond-body", raw_sign(message(), rsa2048, "rsa2048",
                                            dom, length=100000), None))
    cases.append(("c-header-only", raw_sign(message(), rsa2048, "rsa2048",
                                            dom, c=b"relaxed"), None))
    cases.append(("c-unknown", raw_sign(message(), rsa2048, "rsa2048", dom,
                                        tags=[(b"c", b"relaxed/fancy")]),
                  {0: "permerror"}))
    cases.append(("q-dns-txt", raw_sign(message(), rsa2048, "rsa2048", dom,
                                        tags=[(b"q", b"dns/txt")]), None))
    cases.append(("q-other", raw_sign(message(), rsa2048, "rsa2048", dom,
                                      tags=[(b"q", b"http/well-known")]),
                  {0: "permerror"}))
    cases.append(("v-2", raw_sign(message(), rsa2048, "rsa2048", dom,
                                  tags=[(b"v", b"2")]), {0: "permerror"}))
    cases.append(("unknown-tags", raw_sign(
        message(), ed, "ed", dom,
        tags=[(b"z", b"From:alice@example.com|To:bob=40example.org"),
              (b"xyz", b"anything goes")]), None))
    cases.append(("i-outside-d", raw_sign(
        message(), rsa2048, "rsa2048", dom,
        tags=[(b"i", b"alice@example.net")]), {0: "permerror"}))
    cases.append(("i-lookalike-d", raw_sign(
        message(), rsa2048, "rsa2048", dom,
        tags=[(b"i", b"alice@badexample.com")]), {0: "permerror"}))
    cases.append(("no-bh", raw_sign(message(), rsa2048, "rsa2048", dom,
                                    drop=(b"bh",)), {0: "permerror"}))
    cases.append(("no-v", raw_sign(message(), rsa2048, "rsa2048", dom,
                                   drop=(b"v",)), {0: "permerror"}))
    cases.append(("ed-key-rsa-alg", raw_sign(message(), ed, "rsa2048", dom),
                  {0: "permerror"}))

    # -------------------------------------------------------- OpenDKIM
    if shutil.which("opendkim") is None:
        t.skip("opendkim is not installed (scripts/install-deps)")
    for key, sel in (((rsa2048, "rsa2048"), (ed, "ed"))
                     if shutil.which("opendkim") else ()):
        for canon in ("relaxed/relaxed", "simple/simple", "relaxed/simple",
                      "simple/relaxed"):
            cases.append(("opendkim-%s-%s" % (sel, canon.replace("/", "-")),
                          opendkim_sign(d, message(len(cases)), key, sel,
                                        dom, canon), None))
    if shutil.which("opendkim"):
        cases.append(("opendkim-oversign-ttl",
                      opendkim_sign(d, message(), rsa1024, "rsa1024", dom,
                                    "relaxed/relaxed",
                                    "OversignHeaders From,Subject\n"
                                    "SignatureTTL 3600\n"), None))

    # -------------------------------------------------------- maild
    for key, sel in ((rsa2048, "rsa2048"), (rsa1024, "rsa1024"),
                     (ed, "ed")):
        cases.append(("maild-%s" % sel,
                      maild_sign(d, message(len(cases)), key, sel, dom),
                      {0: "pass"}))

    for name, msg, expect in cases:
        for tname, tamper in TAMPERS:
            exp = expect if tname == "as-signed" else None
            t.section(c.check, "%s/%s" % (name, tname), tamper(msg), exp)

    # Streaming: the same verdicts whatever the chunks.
    for name, msg, _ in cases[:6] + cases[-3:]:
        whole, _ = c.ours(msg)
        for chunk in (1, 7, 4093):
            got, _ = c.ours(msg, chunk)
            t.is_([s["result"] for s in got],
                  [s["result"] for s in whole],
                  "%s: the same in chunks of %d bytes" % (name, chunk))

    t.section(arc_cases, c, rsa2048, ed, dom)
    t.section(limits, c, rsa2048, ed, dom)

    t.diag("%d messages, %d signatures compared with dkimpy: %d agreed, "
           "%d differed in the %d documented ways; %d ARC chains compared" %
           (c.n, c.sigs, c.agreed, c.differed, len(c.documented), c.arcs))
    for name in sorted(c.documented):
        t.diag("  %s: %s" % (name, c.documented[name]))
    t.is_(sorted(c.documented), sorted(DIFFERENCES),
          "every documented difference was seen")


def arc_check(c, name, msg, doc=None):
    c.n += 1
    c.arcs += 1
    _, arc = c.ours(msg)
    cv, oldest, reason = c.dkimpy_arc(msg)
    if doc is not None:
        d = DIFFERENCES[doc]
        if t.is_(arc["result"], d[1], "%s: arc=%s as the RFC says (dkimpy: "
                 "%s, %s)" % (name, d[1], cv, reason)) and cv != d[1]:
            c.documented[doc] = "maild arc=%s, dkimpy %s: %s" % (
                arc["result"], cv, d[2])
        return arc
    t.is_(arc["result"], cv, "%s: arc=%s (%s), dkimpy %s (%s)" %
          (name, arc["result"], arc["reason"], cv, reason))
    if cv == "pass":
        t.is_(int(arc["oldest-pass"]), oldest,
              "%s: oldest-pass as dkimpy's per-instance results give it" %
              name)
    return arc


def arc_cases(c, rsa2048, ed, dom):
    base = dkimpy_sign(message(7), rsa2048, "rsa2048", dom)
    arc_check(c, "arc-none", base)
    hop1 = arc_seal(base, rsa2048, "hop1.example",
                    b"spf=pass smtp.mailfrom=example.com; dkim=pass "
                    b"header.d=example.com")
    arc_check(c, "arc-one-hop", hop1)
    hop2 = arc_seal(hop1, rsa2048, "hop2.example",
                    b"arc=pass header.oldest-pass=0; spf=fail "
                    b"smtp.mailfrom=example.com")
    a = arc_check(c, "arc-two-hops", hop2)
    t.is_((a["d"], a["s"]), ("hop2.example", "arc"),
          "arc-two-hops: the latest seal's d= and s=")
    hop3 = arc_seal(hop2, rsa2048, "hop3.example", b"arc=pass")
    arc_check(c, "arc-three-hops", hop3)
    for tname, tamper in TAMPERS[1:]:
        arc_check(c, "arc-three-hops/%s" % tname, tamper(hop3))

    # hop1's body changed before hop2 sealed: hop2 passes, oldest-pass 2
    changed = t_body(hop1)
    arc_check(c, "arc-body-changed-between-hops",
              arc_seal(changed, rsa2048, "hop2.example", b"arc=pass"))
    arc_check(c, "arc-cv-fail",
              arc_seal(changed, rsa2048, "hop2.example", b"arc=fail"),
              "arc-cv-fail")

    def drop_field(msg, prefix, nth=0):
        lines = re.split(rb"(?<=\r\n)(?![ \t])", msg)
        k = [i for i, x in enumerate(lines) if x.startswith(prefix)][nth]
        return b"".join(lines[:k] + lines[k + 1:])

    def dup_field(msg, prefix):
        lines = re.split(rb"(?<=\r\n)(?![ \t])", msg)
        k = [i for i, x in enumerate(lines) if x.startswith(prefix)][-1]
        return b"".join(lines[:k] + [lines[k]] + lines[k:])

    arc_check(c, "arc-incomplete-set",
              drop_field(hop3, b"ARC-Authentication-Results", 2))
    arc_check(c, "arc-missing-seal", drop_field(hop2, b"ARC-Seal", 0))
    arc_check(c, "arc-duplicate-aar",
              dup_field(hop2, b"ARC-Authentication-Results"))
    arc_check(c, "arc-aar-whitespace",
              hop3.replace(b"spf=pass smtp.mailfrom", b"spf=pass \t smtp."
                           b"mailfrom", 1))
    arc_check(c, "arc-aar-tampered",
              hop3.replace(b"dkim=pass header.d=example.com",
                           b"dkim=pass header.d=example.org", 1))
    arc_check(c, "arc-seal-tampered", hop2.replace(b"cv=none;", b"cv=none ;",
                                                   1))
    arc_check(c, "arc-gap", hop3.replace(b"i=2;", b"i=4;"))
    arc_check(c, "arc-dkim-coexist",
              dkimpy_sign(hop2, ed, "ed", dom))
    # No key for one seal: no temperror in ARC, a fail.
    nokey = arc_seal(hop1, rsa2048, "hop2.example", b"arc=pass")
    arc_check(c, "arc-key-missing",
              nokey.replace(b"d=hop2.example", b"d=hop9.example"))


def limits(c, rsa2048, ed, dom):
    """Bounds: signatures past the eighth are counted, not checked."""
    m = message(3)
    for _ in range(10):
        m = dkimpy_sign(m, ed, "ed", dom)
    path = os.path.join(c.d, "many.eml")
    with open(path, "wb") as f:
        f.write(m)
    out = run([TOOL, "-n", str(NOW), path, c.keys.path]).decode()
    t.is_(len(re.findall(r"^dkim \d+ pass", out, re.M)), 8,
          "ten signatures: the first eight are checked and pass")
    t.like(out, r"(?m)^dkim-ignored 2$", "ten signatures: two ignored")

    huge = b"X-Big: " + b"a" * (1024 * 1024) + b"\r\n" + message(4)
    with open(path, "wb") as f:
        f.write(dkimpy_sign(huge, ed, "ed", dom))
    out = run([TOOL, "-n", str(NOW), path, c.keys.path]).decode()
    t.like(out, r"^error header over \d+ bytes", "a header over 1 MiB is "
           "refused with a reason")

    # A hostile signature field: many tags, a long h=, junk bytes.
    bad = [
        b"DKIM-Signature: " + b"; ".join(b"t%d=1" % i for i in range(100)),
        b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa2048; "
        b"h=" + b":".join([b"from"] * 300) + b"; bh=AAAA; b=AAAA",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa2048; "
        b"h=from; bh=AAAA; b=AAAA; l=" + b"9" * 80,
        b"DKIM-Signature: v=1; a=rsa-sha256; d=exa\x01mple.com; s=x; "
        b"h=from; bh=AAAA; b=AAAA",
        b"DKIM-Signature: v=1;; a=rsa-sha256",
        b"DKIM-Signature: v=1; v=1; a=rsa-sha256",
        b"DKIM-Signature:",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=" + b"a." * 200 +
        b"com; s=x; h=from; bh=AAAA; b=AAAA",
    ]
    for i, f in enumerate(bad):
        m = f + b"\r\n" + message(5)
        ours, _ = c.ours(m)
        t.is_([s["result"] for s in ours], ["permerror"],
              "hostile signature %d: permerror (%s)" %
              (i, ours[0]["reason"] if ours else "-"))


t.run(main)
