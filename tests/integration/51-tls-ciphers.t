#!/usr/bin/env python3
# TLS 1.2 cipher suites (issue 10, finding 12): by default maild offers
# only ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305),
# never static-RSA key exchange (no forward secrecy) nor CBC (LUCKY13),
# as a server on every kind of listener (SMTP STARTTLS, smtps, imaps,
# IMAP STARTTLS), with an RSA and with an ECDSA certificate, and as the
# relay client.  openssl s_client asks for one suite at a time; Debian's
# testssl.sh lists every suite and protocol the SMTP STARTTLS, smtps and
# imaps listeners accept.  "ciphers" on a listener or a relay action
# changes the set for it alone; an invalid cipher string fails
# "maild -n" with file:line.
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

N = t.test_index()
ADDR = t.test_addr()
FAKE_ADDR = "127.0.%d.1" % N     # the relay's peer, a Python TLS server
(R_SMTPS, E_SMTPS, E_STRICT, E_COMPAT, FAKE_PORT,
 FAKE_PORT2) = (t.test_port(k) for k in range(2, 8))

# What a TLS 1.2 suite may be by default: ECDHE, then AES-GCM or
# ChaCha20-Poly1305 (OpenSSL names).
GOOD12 = re.compile(r"^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|"
                    r"CHACHA20-POLY1305)$")
# The same in IANA names, as testssl.sh lists them (TLS 1.3 suites
# are AEAD with ephemeral key exchange by definition).
GOOD_IANA = re.compile(r"^(TLS_ECDHE_(RSA|ECDSA)_WITH_(AES_(128|256)_GCM_"
                       r"SHA(256|384)|CHACHA20_POLY1305_SHA256)|"
                       r"TLS_(AES_(128|256)_GCM_SHA(256|384)|"
                       r"CHACHA20_POLY1305_SHA256))$")


def sclient(addr, port, cipher=None, proto="-tls1_2", starttls=None):
    """One handshake with openssl s_client: the suite it got, or None."""
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (addr, port),
           "-servername", "mx.test", proto]
    if cipher:
        cmd += ["-cipher", cipher] if proto != "-tls1_3" else \
            ["-ciphersuites", cipher]
    if starttls:
        cmd += ["-starttls", starttls]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    m = re.search(rb"Cipher is ([A-Za-z0-9_-]+)", r.stdout)
    if m is None or m.group(1) == b"(NONE)":
        return None
    return m.group(1).decode()


def check_listener(what, addr, port, kind, starttls=None):
    """The suites a default listener takes and refuses, for its key."""
    if kind == "rsa":
        refused = ["AES128-SHA", "AES256-GCM-SHA384", "AES128-GCM-SHA256",
                   "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384"]
        taken = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                 "ECDHE-RSA-CHACHA20-POLY1305"]
    else:
        refused = ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"]
        taken = ["ECDHE-ECDSA-AES128-GCM-SHA256",
                 "ECDHE-ECDSA-AES256-GCM-SHA384",
                 "ECDHE-ECDSA-CHACHA20-POLY1305"]
    for c in refused:
        t.is_(sclient(addr, port, c, starttls=starttls), None,
              "%s, %s certificate: TLS 1.2 %s refused" % (what, kind, c))
    for c in taken:
        t.is_(sclient(addr, port, c, starttls=starttls), c,
              "%s, %s certificate: TLS 1.2 %s accepted" % (what, kind, c))
    got = sclient(addr, port, proto="-tls1_3", starttls=starttls)
    t.ok(got is not None and got.startswith("TLS_"),
         "%s, %s certificate: TLS 1.3 works (%s)" % (what, kind, got))


def testssl_start(outdir, name, addr, port, starttls=None):
    """testssl.sh on one port in the background (protocols, forward
    secrecy, every suite), bounded; its findings go to a JSON file."""
    js = os.path.join(outdir, "%s.json" % name)
    cmd = ["timeout", "150", "testssl", "--quiet", "--warnings", "batch",
           "--color", "0", "-n", "none", "--fast", "--openssl",
           shutil.which("openssl"), "--connect-timeout", "5",
           "--openssl-timeout", "5", "-p", "-f", "-e", "--jsonfile", js]
    if starttls:
        cmd += ["-t", starttls]
    cmd.append("%s:%d" % (addr, port))
    env = dict(os.environ, HEADER_MAXSLEEP="2")
    log = open(os.path.join(outdir, "%s.txt" % name), "wb")
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, env=env, cwd=outdir)
    return name, p, js, log


def testssl_check(run):
    name, p, js, log = run
    try:
        p.wait(180)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    log.close()
    try:
        with open(js) as f:
            findings = {e["id"]: e for e in json.load(f)}
    except (OSError, ValueError) as e:
        t.ok(False, "testssl %s: JSON findings (%s)" % (name, e))
        with open(log.name, errors="replace") as f:
            t.diag(f.read()[-3000:])
        return

    def finding(i):
        return findings.get(i, {}).get("finding", "")

    for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        t.like(finding(proto), r"^not offered",
               "testssl %s: %s not offered" % (name, proto))
    t.like(finding("TLS1_2"), r"^offered", "testssl %s: TLS 1.2 offered"
           % name)
    t.like(finding("TLS1_3"), r"^offered", "testssl %s: TLS 1.3 offered"
           % name)
    t.like(finding("PFS"), r"^offered", "testssl %s: forward secrecy "
           "offered" % name)
    suites = [e["finding"].split()[-1] for i, e in findings.items()
              if i.startswith("cipher_x")]
    t.ok(len(suites) >= 4, "testssl %s: %d suites accepted" % (name,
                                                                len(suites)))
    t.is_([s for s in suites if s.startswith("TLS_RSA_") or
           s.startswith("TLS_DH_")], [],
          "testssl %s: no static RSA (or DH) key exchange" % name)
    t.is_([s for s in suites if "_CBC_" in s], [],
          "testssl %s: no CBC suite" % name)
    t.is_([s for s in suites if not GOOD_IANA.match(s)], [],
          "testssl %s: ECDHE with AES-GCM or ChaCha20 only" % name)


class FakeTLSMX(t.FakeServer):
    """An SMTP server with STARTTLS that takes any TLS 1.2 suite, and
    keeps the suites each client offered (that it could have chosen)."""

    def __init__(self, addr, port, cert):
        super().__init__(addr, port)
        self.cert = cert
        self.offered = []

    def session(self, c):
        c.settimeout(10)
        f = c.makefile("rb")
        secure = False
        c.sendall(b"220 fake.test ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                c.sendall(b"250-fake.test\r\n250-8BITMIME\r\n" +
                          (b"250 PIPELINING\r\n" if secure else
                           b"250 STARTTLS\r\n"))
            elif verb == b"STARTTLS" and not secure:
                c.sendall(b"220 2.0.0 go ahead\r\n")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
                ctx.set_ciphers("ALL:@SECLEVEL=0")
                ctx.load_cert_chain(*self.cert)
                c = ctx.wrap_socket(c, server_side=True)
                self.offered.append([x[0] for x in c.shared_ciphers()
                                     or []])
                f = c.makefile("rb")
                secure = True
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                c.sendall(b"250 2.0.0 ok\r\n")
            elif verb == b"DATA":
                c.sendall(b"354 go ahead\r\n")
                if not self.read_data(c, f):
                    return
            elif verb == b"QUIT":
                c.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                c.sendall(b"502 5.5.2 what\r\n")


def servers_rsa(r, outdir):
    """SMTP STARTTLS, smtps, imaps, IMAP STARTTLS with an RSA key."""
    runs = [testssl_start(outdir, "smtp-starttls", r.addr, r.port, "smtp"),
            testssl_start(outdir, "smtps", r.addr, R_SMTPS),
            testssl_start(outdir, "imaps", r.addr, r.imap_port)]
    try:
        check_listener("SMTP STARTTLS", r.addr, r.port, "rsa", "smtp")
        check_listener("smtps", r.addr, R_SMTPS, "rsa")
        check_listener("imaps", r.addr, r.imap_port, "rsa")
        check_listener("IMAP STARTTLS", r.addr, r.imap_port2, "rsa",
                       "imap")
    finally:
        for run in runs:
            testssl_check(run)


def servers_ecdsa(e):
    """The same with an ECDSA key, and "ciphers" on two listeners."""
    e.start()
    check_listener("SMTP STARTTLS", e.addr, e.port, "ecdsa", "smtp")
    check_listener("smtps", e.addr, E_SMTPS, "ecdsa")
    check_listener("imaps", e.addr, e.imap_port, "ecdsa")
    t.is_(sclient(e.addr, E_STRICT, "ECDHE-ECDSA-AES128-GCM-SHA256"), None,
          "ciphers \"ECDHE-ECDSA-AES256-GCM-SHA384\": AES128-GCM refused")
    t.is_(sclient(e.addr, E_STRICT, "ECDHE-ECDSA-AES256-GCM-SHA384"),
          "ECDHE-ECDSA-AES256-GCM-SHA384",
          "ciphers \"ECDHE-ECDSA-AES256-GCM-SHA384\": that suite accepted")
    t.is_(sclient(e.addr, E_COMPAT, "ECDHE-ECDSA-AES128-SHA",
                  starttls="smtp"), "ECDHE-ECDSA-AES128-SHA",
          "ciphers \"compat\": CBC accepted on that listener")
    t.is_(sclient(e.addr, e.port, "ECDHE-ECDSA-AES128-SHA", starttls="smtp"),
          None, "and still refused on the others")


def send(m, rcpt):
    with m.connect() as c:
        c.ehlo()
        c.send_message("sender@example.org", [rcpt],
                       t.make_message("<%s>" % rcpt))


def relay_default(r, fake):
    """The relay client offers ECDHE with AEAD only."""
    send(r, "x@default.test")
    t.ok(t.wait_until(lambda: fake.messages, 20),
         "relay over STARTTLS: delivered")
    offered = fake.offered[0] if fake.offered else []
    t.ok("ECDHE-RSA-AES128-GCM-SHA256" in offered,
         "relay client offers ECDHE-RSA-AES128-GCM-SHA256")
    t.is_([c for c in offered if not c.startswith("TLS_") and
           not GOOD12.match(c)], [],
          "relay client offers no static RSA, no CBC (%d suites)"
          % len(offered))


def relay_ciphers(e, fake2):
    """relay ... ciphers: the suites offered."""
    send(e, "x@strict.test")
    t.ok(t.wait_until(lambda: fake2.messages, 20),
         "relay with ciphers: delivered")
    t.is_([c for c in (fake2.offered[0] if fake2.offered else [None])
           if not c or not c.startswith("TLS_")],
          ["ECDHE-RSA-CHACHA20-POLY1305"],
          "relay ... ciphers: offers that suite alone")


def check_bad(r):
    """An invalid cipher string is a configuration error, and so is
    "ciphers" on a listener without TLS."""
    for n, (line, want) in enumerate([
            ('listen on %s port %d tls pki mail ciphers "NO-SUCH-CIPHER"'
             % (ADDR, t.test_port(8)), r'ciphers "NO-SUCH-CIPHER": '),
            ('action "bad" relay ciphers "NO-SUCH-CIPHER"',
             r'ciphers "NO-SUCH-CIPHER": '),
            ('listen on %s port %d ciphers "secure"' % (ADDR, t.test_port(8)),
             r"ciphers is not used without tls")]):
        conf = os.path.join(r.dir, "bad%d.conf" % n)
        with open(r.conf) as f:
            base = f.read()
        with open(conf, "w") as f:
            f.write(base + line + "\n")
        lineno = base.count("\n") + 1
        p = subprocess.run([t.maild_path(), "-n", "-f", conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=30)
        t.isnt(p.returncode, 0, "maild -n fails: %s" % line)
        t.like(p.stdout, r"%s:%d: %s" % (re.escape(conf), lineno, want),
               "%s:%d: %s" % (os.path.basename(conf), lineno,
                              p.stdout.strip()))


def main():
    if not t.have("testssl"):
        t.skip_all("testssl.sh is not installed (scripts/install-deps)")
    outdir = tempfile.mkdtemp(prefix="maild-51-testssl-", dir="/tmp")
    fake_dir = tempfile.mkdtemp(prefix="maild-51-fake-", dir="/tmp")
    cert = t.make_cert(fake_dir, cn="fake.test")
    fake = FakeTLSMX(FAKE_ADDR, FAKE_PORT, cert)
    fake2 = FakeTLSMX(FAKE_ADDR, FAKE_PORT2, cert)
    fake.start()
    fake2.start()
    # Defaults only: RSA.
    r = t.Maild(imap=True, imap_starttls=True, name="maild-rsa",
                extra="\n".join([
                    "listen on %s port %d smtps pki mail" % (ADDR, R_SMTPS),
                    'action "fake" relay host smtp://%s:%d'
                    % (FAKE_ADDR, FAKE_PORT),
                    'match from local for domain "default.test" '
                    'action "fake"']))
    # ECDSA, and "ciphers" on two listeners and a relay action.
    e = t.Maild(cert="ecdsa", imap=True, name="maild-ecdsa",
                extra="\n".join([
                    "listen on %s port %d smtps pki mail" % (ADDR, E_SMTPS),
                    'listen on %s port %d smtps pki mail ciphers '
                    '"ECDHE-ECDSA-AES256-GCM-SHA384"' % (ADDR, E_STRICT),
                    'listen on %s port %d tls pki mail ciphers "compat"'
                    % (ADDR, E_COMPAT),
                    'action "strict" relay host smtp://%s:%d ciphers '
                    '"ECDHE-RSA-CHACHA20-POLY1305"' % (FAKE_ADDR, FAKE_PORT2),
                    'match from local for domain "strict.test" '
                    'action "strict"']))
    try:
        r.start()
        t.section(servers_rsa, r, outdir)
        t.section(relay_default, r, fake)
        t.section(servers_ecdsa, e)
        if e.running():
            t.section(relay_ciphers, e, fake2)
        t.section(check_bad, r)
    finally:
        fake.stop()
        fake2.stop()
        if t.failures() == 0:
            shutil.rmtree(outdir, ignore_errors=True)
        else:
            t.diag("testssl output kept in %s" % outdir)
        shutil.rmtree(fake_dir, ignore_errors=True)


t.run(main)
