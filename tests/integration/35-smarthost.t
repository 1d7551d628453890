#!/usr/bin/env python3
# Relay actions with a TLS policy and a smarthost (issue 4).  maild A
# relays through maild B as its smarthost, on B's submission port with
# STARTTLS and AUTH (label "alice" of A's secrets table); B delivers for
# its domains.  The recipient domains have no DNS records at all, so
# nothing but the smarthost can take the mail.  A wrong password at B
# keeps the mail queued at A (no bounce); "tls require" towards a server
# without STARTTLS delivers nothing; "tls verify" with a test CA (the
# global "ca" file) delivers to B by its certificate's name, and not by
# another name of the same address, also for MX delivery; a fake server
# whose STARTTLS handshake fails gets the mail in plain text on a
# second connection; a fake server offering only AUTH LOGIN gets the
# user name and password that way; smtps:// speaks TLS from the start.
# The secrets table must not be readable by others, and a reload gives
# the relay new credentials.
import base64
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

PW = t.IMAP_PASSWORDS["alice@example.org"]
N = t.test_index()
B_ADDR = "127.0.%d.1" % N        # maild B, the smarthost (mx-b.test)
NOTLS_ADDR = "127.0.%d.2" % N    # a fake server without STARTTLS
BROKEN_ADDR = "127.0.%d.3" % N   # a fake server whose TLS is broken
LOGIN_ADDR = "127.0.%d.4" % N    # a fake server with AUTH LOGIN only
A_PORT, A_SUB, B_PORT, B_SUB, FAKE_PORT, B_SMTPS = (t.test_port(k)
                                                    for k in range(6))
B_DOMAINS = ("remote.test", "other.test", "badpw.test", "verify.test",
             "wrongname.test", "mxverify.test", "smtps.test")
MAILCTL = os.path.join(t.REPO, "mailctl")


class FakeSMTP(t.FakeServer):
    """A small SMTP server, one connection at a time.  tls: "no" (no
    STARTTLS), "broken" (STARTTLS answered 220, then no TLS but
    garbage) or "ok" (a real handshake with cert/key); AUTH LOGIN is
    offered after TLS when login is set.  Keeps every connection's
    command lines, each message's DATA and the AUTH LOGIN credentials."""

    def __init__(self, addr, port, tls="no", login=False, cert=None):
        super().__init__(addr, port)
        self.tls, self.login, self.cert = tls, login, cert
        self.creds = []

    def session(self, c):
        c.settimeout(10)
        f = c.makefile("rb")
        lines = []
        self.conns.append(lines)
        secure = False
        c.sendall(b"220 fake.test ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode(errors="replace")
            lines.append(cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                ext = ["fake.test", "PIPELINING", "8BITMIME"]
                if self.tls != "no" and not secure:
                    ext.append("STARTTLS")
                if self.login and secure:
                    ext.append("AUTH LOGIN")
                c.sendall("".join("250-%s\r\n" % e for e in ext[:-1])
                          .encode() + b"250 " + ext[-1].encode() + b"\r\n")
            elif verb == "STARTTLS" and self.tls != "no" and not secure:
                c.sendall(b"220 2.0.0 ready to start TLS\r\n")
                if self.tls == "broken":
                    c.recv(4096)            # the ClientHello
                    c.sendall(b"this is not a TLS server hello\r\n" * 8)
                    time.sleep(0.2)
                    return
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*self.cert)
                c = ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rb")
                secure = True
            elif cmd.upper() == "AUTH LOGIN" and self.login and secure:
                c.sendall(b"334 VXNlcm5hbWU6\r\n")
                user = base64.b64decode(f.readline().strip())
                c.sendall(b"334 UGFzc3dvcmQ6\r\n")
                pw = base64.b64decode(f.readline().strip())
                self.creds.append((user.decode(), pw.decode()))
                c.sendall(b"235 2.7.0 authenticated\r\n")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                c.sendall(b"250 2.0.0 ok\r\n")
            elif verb == "DATA":
                c.sendall(b"354 go ahead\r\n")
                if not self.read_data(c, f):
                    return
            elif verb == "QUIT":
                c.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                c.sendall(b"502 5.5.2 what\r\n")


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (args[0], r.stdout.decode(
            errors="replace")))


def make_ca_certs(d):
    """A test CA, and B's key and certificate for mx-b.test signed by it
    as rsa-key.pem / rsa-cert.pem (what t.Maild uses when present)."""
    ca, cakey = os.path.join(d, "ca.pem"), os.path.join(d, "ca-key.pem")
    key, cert = os.path.join(d, "rsa-key.pem"), os.path.join(d, "rsa-cert.pem")
    csr, ext = os.path.join(d, "b.csr"), os.path.join(d, "b.ext")
    old = os.umask(0o077)
    try:
        openssl("req", "-x509", "-nodes", "-days", "30", "-newkey",
                "rsa:2048", "-keyout", cakey, "-out", ca, "-subj",
                "/CN=maild test CA", "-addext",
                "basicConstraints=critical,CA:TRUE", "-addext",
                "keyUsage=critical,keyCertSign,cRLSign")
        openssl("req", "-nodes", "-newkey", "rsa:2048", "-keyout", key,
                "-out", csr, "-subj", "/CN=mx-b.test")
        with open(ext, "w") as fh:
            fh.write("subjectAltName=DNS:mx-b.test\n"
                     "basicConstraints=CA:FALSE\n"
                     "extendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
                "-CAcreateserial", "-days", "30", "-out", cert,
                "-extfile", ext)
    finally:
        os.umask(old)
    os.chmod(key, 0o600)
    for p in (ca, cert):
        os.chmod(p, 0o644)
    return ca


def submit(m, rcpt, subject):
    """STARTTLS, AUTH as alice at A's submission port, one message."""
    c = t.SMTPConn(m.addr, A_SUB)
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW))
    if r.code != 235:
        c.close()
        raise t.SMTPError("AUTH: %s" % r)
    data = t.make_message("%s.%d@test" % (subject, os.getpid()),
                          subject=subject, sender="alice@example.org",
                          to=rcpt)
    mr, rr, dr, fr = c.send_message("alice@example.org", [rcpt], data)
    c.quit()
    return fr.code if fr else (mr, rr, dr)


def with_subject(md, subject, timeout=15):
    t.wait_until(lambda: any(subject.encode() in x for x in md.messages()),
                 timeout)
    return [x for x in md.messages() if subject.encode() in x]


def mailctl_queue(m):
    r = subprocess.run([MAILCTL, "-s", m.socket_path, "show", "queue"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    return r.stdout.decode(errors="replace")


def a_conf(dns, secrets, ca):
    return "\n".join([
        dns.conf(),
        'ca "%s"' % ca,
        "queue retry-remote 1s",
        "queue retry-max 2s",
        "table secrets file:%s" % secrets,
        "listen on %s port %d tls-require pki mail auth <passwd>"
        % (t.test_addr(), A_SUB),
        'action "smarthost" relay host smtp+tls://alice@%s:%d '
        'auth <secrets>' % (B_ADDR, B_SUB),
        'action "badpw" relay host smtp+tls://wrong@%s:%d auth <secrets>'
        % (B_ADDR, B_SUB),
        'action "needtls" relay tls require host smtp://%s:%d'
        % (NOTLS_ADDR, FAKE_PORT),
        'action "verified" relay tls verify host '
        'smtp+tls://alice@mx-b.test:%d auth <secrets>' % B_SUB,
        'action "wrongname" relay tls verify host '
        'smtp+tls://alice@wrong-b.test:%d auth <secrets>' % B_SUB,
        'action "fallback" relay host smtp://%s:%d'
        % (BROKEN_ADDR, FAKE_PORT),
        'action "login" relay host smtp+tls://alice@%s:%d auth <secrets>'
        % (LOGIN_ADDR, FAKE_PORT),
        'action "mxverify" relay tls verify',
        'action "implicit" relay tls verify host smtps://alice@mx-b.test:%d '
        'auth <secrets>' % B_SMTPS,
        'match auth from any for domain "smtps.test" action "implicit"',
        'match auth from any for domain "badpw.test" action "badpw"',
        'match auth from any for domain "notls.test" action "needtls"',
        'match auth from any for domain "verify.test" action "verified"',
        'match auth from any for domain "wrongname.test" '
        'action "wrongname"',
        'match auth from any for domain "fallback.test" action "fallback"',
        'match auth from any for domain "login.test" action "login"',
        'match auth from any for domain "mxverify.test" action "mxverify"',
        'match auth from any for any action "smarthost"'])


def main():
    if t.Dnsmasq.binary() is None:
        t.skip_all("dnsmasq is not installed")
    bdir = tempfile.mkdtemp(prefix="maild-35-smarthost-b-", dir="/tmp")
    os.chmod(bdir, 0o755)
    try:
        ca = make_ca_certs(bdir)
    except Exception:
        shutil.rmtree(bdir, ignore_errors=True)
        raise
    dns = t.Dnsmasq([
        "--host-record=mx-b.test,%s" % B_ADDR,
        "--host-record=wrong-b.test,%s" % B_ADDR,
        "--mx-host=mxverify.test,mx-b.test,10",
    ]).start()
    fake_cert = t.make_cert(bdir, name="fake", cn="fake.test")
    notls = FakeSMTP(NOTLS_ADDR, FAKE_PORT)
    broken = FakeSMTP(BROKEN_ADDR, FAKE_PORT, tls="broken")
    login = FakeSMTP(LOGIN_ADDR, FAKE_PORT, tls="ok", login=True,
                     cert=fake_cert)
    for f in (notls, broken, login):
        f.start()

    virtuals = "".join("bob@%s vmail\n" % d for d in B_DOMAINS)
    b = t.Maild(addr=B_ADDR, port=B_PORT, name="maild-b", tmpdir=bdir,
                domains=B_DOMAINS, virtuals=virtuals,
                passwd=t.imap_passwd(),
                extra="listen on %s port %d tls-require pki mail auth "
                "<passwd> any-sender\nlisten on %s port %d smtps pki mail "
                "auth <passwd> any-sender" % (B_ADDR, B_SUB, B_ADDR, B_SMTPS))
    b.owns_dir = True                # removed with B, kept on failure
    a = t.Maild(port=A_PORT, passwd=t.imap_passwd(), name="maild-a",
                relay_port=B_PORT)
    secrets = os.path.join(a.dir, "secrets")
    t.Maild._write(secrets, "# label user:password\n"
                   "alice alice@example.org:%s\n"
                   "wrong alice@example.org:not-the-password\n" % PW,
                   0o600)
    a.extra = a_conf(dns, secrets, ca)
    a.write_files()

    # -- clear-text passwords: the table must not be readable by others
    os.chmod(secrets, 0o644)
    r = subprocess.run([t.maild_path(), "-n", "-f", a.conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20, cwd=t.REPO)
    t.ok(r.returncode != 0 and b"readable by others" in r.stdout,
         "a secrets table readable by others is refused")
    os.chmod(secrets, 0o600)

    b.start()
    a.start()

    # -- maild -nv shows the relay actions as written
    r = subprocess.run([t.maild_path(), "-nv", "-f", a.conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20, cwd=t.REPO)
    out = r.stdout.decode(errors="replace")
    t.like(out, r'action "smarthost" relay host "smtp\+tls://alice@%s:%d" '
           r'auth <secrets>' % (re.escape(B_ADDR), B_SUB),
           "maild -nv: the smarthost action")
    t.like(out, r'action "needtls" relay tls require host "smtp://',
           "maild -nv: tls require")
    t.like(out, r'(?m)^ca "%s"$' % re.escape(ca), "maild -nv: ca")

    codes = {}
    for rcpt, subj in (("bob@remote.test", "via-smarthost"),
                       ("bob@other.test", "via-smarthost-2"),
                       ("bob@badpw.test", "bad-password"),
                       ("x@notls.test", "no-starttls"),
                       ("bob@verify.test", "verified"),
                       ("bob@wrongname.test", "wrong-name"),
                       ("dave@fallback.test", "fallback"),
                       ("erin@login.test", "auth-login"),
                       ("bob@mxverify.test", "mx-verified"),
                       ("bob@smtps.test", "implicit-tls")):
        codes[subj] = submit(a, rcpt, subj)
    t.ok(all(c == 250 for c in codes.values()), "A accepted all ten "
         "messages (%s)" % codes)

    # -- the smarthost, with AUTH, no MX lookup
    got = with_subject(b.maildir("bob", "remote.test"), "via-smarthost")
    t.is_(len(got), 1, "delivered through the smarthost B")
    t.like(got[0] if got else b"", rb"with ESMTPSA id", "B: received with "
           "TLS and AUTH (ESMTPSA)")
    t.is_(len(with_subject(b.maildir("bob", "other.test"),
                           "via-smarthost-2")), 1,
          "another domain through the same smarthost")
    t.like(b.log_text(), r"smtp: \S+ authenticated as alice@example\.org",
           "B's log shows the AUTH")
    alog = a.log_text()
    t.like(alog, r"authenticated to %s \[%s\] as label alice" %
           (re.escape(B_ADDR), re.escape(B_ADDR)), "A logged in at B")
    t.like(alog, r"relayed [0-9a-f]{16} to <bob@remote\.test> via %s "
           r"\[%s\]: 250 " % (re.escape(B_ADDR), re.escape(B_ADDR)),
           "A's log: relayed via the smarthost")
    dlog = open(dns.log, errors="replace").read()
    t.unlike(dlog, r"query\[MX\] (remote|other)\.test",
             "no MX lookup for the smarthost's recipients")

    # -- tls verify with the test CA, by name; not by another name
    t.is_(len(with_subject(b.maildir("bob", "verify.test"), "verified")),
          1, "tls verify: delivered (the CA and the name check out)")
    t.is_(len(with_subject(b.maildir("bob", "mxverify.test"),
                           "mx-verified")), 1,
          "tls verify by MX: delivered to mx-b.test")
    t.is_(len(with_subject(b.maildir("bob", "smtps.test"),
                           "implicit-tls")), 1,
          "smtps:// (implicit TLS, verified): delivered")
    t.like(a.log_text(), r"relayed [0-9a-f]{16} to <bob@smtps\.test> via "
           r"mx-b\.test \[%s\]" % re.escape(B_ADDR), "... via B's smtps "
           "port")
    t.ok(t.wait_until(lambda: re.search(
        r"TLS required but failed with wrong-b\.test \[%s\]: .*"
        r"(name|certificate)" % re.escape(B_ADDR), a.log_text()), 10),
        "tls verify, wrong name: the handshake fails")

    # -- TLS fallback: plain text on a second connection
    t.ok(t.wait_until(lambda: any(b"Subject: fallback" in x
                                  for x in broken.messages), 15),
         "broken STARTTLS: delivered in plain text")
    first = broken.conns[0] if broken.conns else []
    second = broken.conns[1] if len(broken.conns) > 1 else []
    t.ok("STARTTLS" in first and "STARTTLS" not in second and
         any(x.startswith("MAIL FROM:") for x in second),
         "first STARTTLS, then the same server without it")
    t.like(a.log_text(), r"TLS with %s \[%s\] failed: .*trying again "
           r"without TLS" % (re.escape(BROKEN_ADDR), re.escape(BROKEN_ADDR)),
           "A logged the plain-text retry")

    # -- AUTH LOGIN when PLAIN is not offered, after STARTTLS only
    t.ok(t.wait_until(lambda: any(b"Subject: auth-login" in x
                                  for x in login.messages), 15),
         "AUTH LOGIN server: delivered")
    t.is_(login.creds[:1], [("alice@example.org", PW)],
          "AUTH LOGIN got the user and password of label alice")
    lines = login.conns[0] if login.conns else []
    t.ok("STARTTLS" in lines and "AUTH LOGIN" in lines and
         lines.index("STARTTLS") < lines.index("AUTH LOGIN"),
         "AUTH only after STARTTLS")

    # -- not delivered, kept in the queue: wrong password, no STARTTLS,
    #    wrong name
    t.ok(t.wait_until(lambda: re.search(
        r"relay of [0-9a-f]{16} to <bob@badpw\.test> failed \(temporary\)"
        r".*refused AUTH: 535", a.log_text()), 10),
        "wrong password at B: a temporary failure at A")
    t.ok(t.wait_until(lambda: re.search(
        r"relay of [0-9a-f]{16} to <x@notls\.test> failed \(temporary\)"
        r".*TLS required but not offered by %s" % re.escape(NOTLS_ADDR),
        a.log_text()), 10), "tls require, no STARTTLS: temporary failure")
    t.ok(notls.conns and all(not any(x.startswith("MAIL") for x in cn)
                             for cn in notls.conns),
         "no MAIL FROM sent to the server without STARTTLS")
    t.ok(t.wait_until(lambda: re.search(
        r"relay of [0-9a-f]{16} to <bob@wrongname\.test> failed "
        r"\(temporary\)", a.log_text()), 10),
        "tls verify, wrong name: temporary failure")
    time.sleep(2.5)                  # a retry or two (retry-max 2s)
    q = mailctl_queue(a)
    t.like(q, r"-> bob@badpw\.test retries=[1-9]\d* .*refused AUTH: 535",
           "mailctl show queue: bad password, retried, with B's 535")
    t.like(q, r"-> x@notls\.test retries=", "mailctl show queue: the "
           "mail needing TLS")
    t.like(q, r"-> bob@wrongname\.test retries=", "mailctl show queue: "
           "the mail for the wrong name")
    t.is_(len(a.queue_entries()["queue"]), 3, "three messages left in "
          "A's spool")
    inbox = a.maildir("alice")
    t.is_([x for x in inbox.messages() if b"multipart/report" in x], [],
          "no bounce for any of them")
    t.is_(len(b.maildir("bob", "badpw.test").messages()) +
          len(b.maildir("bob", "wrongname.test").messages()), 0,
          "nothing delivered for them at B")

    # -- the right password for label "wrong", on reload: delivered
    t.Maild._write(secrets, "alice alice@example.org:%s\n"
                   "wrong alice@example.org:%s\n" % (PW, PW), 0o600)
    os.kill(a.pid, signal.SIGHUP)
    t.is_(len(with_subject(b.maildir("bob", "badpw.test"), "bad-password",
                           timeout=15)), 1,
          "new credentials after SIGHUP: the queued mail goes out")

    for m in (a, b):
        t.ok(m.running(), "%s still running" % m.name)
    for f in (notls, broken, login):
        f.stop()
    for m in (a, b):
        t.ok(m.stop(), "%s stops cleanly" % m.name)


t.run(main)
