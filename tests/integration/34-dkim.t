#!/usr/bin/env python3
# DKIM signing (issue 4): mail from a logged-in user is signed at commit
# with every key of its From domain (RSA-2048 and Ed25519 side by side)
# and verifies with dkimpy, which fetches the keys as TXT records from
# the test's dnsmasq; a change to a signed header breaks it; mail whose
# From domain has no key is not signed; a new key is used after SIGHUP;
# a key readable by others is refused by maild -n.
import base64
import email
import os
import signal
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

VERIFY = os.path.join(t.REPO, "tests", "unit", "dkim-verify.py")
PW = t.IMAP_PASSWORDS["alice@example.org"]


def openssl(*args):
    return subprocess.run(["openssl"] + list(args), check=True,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).stdout


def txt_option(name, value):
    # dnsmasq: one TXT record made of strings of at most 255 bytes, given
    # unquoted (on the command line quotes would be part of the text).
    parts = [value[i:i + 250] for i in range(0, len(value), 250)]
    return "--txt-record=%s,%s" % (name, ",".join(parts))


def verify(dns, data):
    path = os.path.join("/tmp", "dkim-%d.eml" % os.getpid())
    with open(path, "wb") as f:
        f.write(data)
    try:
        r = subprocess.run(["/usr/bin/python3", VERIFY, path, "--dns",
                            dns.addr, str(dns.port)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=60)
    finally:
        os.unlink(path)
    return r.returncode, r.stdout


def main():
    if subprocess.run(["/usr/bin/python3", "-c", "import dkim, dns"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        t.skip_all("python3-dkim is not installed (scripts/install-deps)")
    sub = t.test_port(1)
    m = t.Maild(imap=True, extra="")
    rsa = os.path.join(m.dir, "rsa.key")
    ed = os.path.join(m.dir, "ed.key")
    ed2 = os.path.join(m.dir, "ed2.key")
    openssl("genrsa", "-out", rsa, "2048")
    openssl("genpkey", "-algorithm", "ed25519", "-out", ed)
    openssl("genpkey", "-algorithm", "ed25519", "-out", ed2)
    for k in (rsa, ed, ed2):
        os.chmod(k, 0o600)
    rsa_pub = base64.b64encode(openssl("rsa", "-in", rsa, "-pubout",
                                       "-outform", "DER")).decode()
    ed_pub = base64.b64encode(openssl("pkey", "-in", ed, "-pubout",
                                      "-outform", "DER")[-32:]).decode()
    ed2_pub = base64.b64encode(openssl("pkey", "-in", ed2, "-pubout",
                                       "-outform", "DER")[-32:]).decode()
    dns = t.Dnsmasq([
        txt_option("rsa._domainkey.example.org",
                   "v=DKIM1; k=rsa; p=" + rsa_pub),
        txt_option("ed._domainkey.example.org",
                   "v=DKIM1; k=ed25519; p=" + ed_pub),
        txt_option("ed2._domainkey.example.org",
                   "v=DKIM1; k=ed25519; p=" + ed2_pub),
        txt_option("selector1._domainkey.mail.example.org",
                   "v=DKIM1; k=ed25519; p=" + ed2_pub)]).start()
    m.extra = "\n".join([
        'dkim example.org selector rsa key "%s"' % rsa,
        'dkim example.org selector ed key "%s"' % ed,
        "listen on %s port %d tls-require pki mail auth <passwd>"
        % (t.test_addr(), sub)])
    m.write_files()
    m.start()

    r = subprocess.run(["swaks", "--server", "%s:%d" % (m.addr, sub),
                        "--tls", "--auth", "PLAIN", "--auth-user",
                        "alice@example.org", "--auth-password", PW,
                        "--from", "alice@example.org", "--to",
                        "bob@example.org", "--h-From",
                        '"Alice" <alice@example.org>', "--h-Subject",
                        "signed", "--body", "Hello.\r\n.leading dot\r\n",
                        "--helo", "client.test"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    t.is_(r.returncode, 0, "swaks AUTH submission")
    md = m.maildir("bob")
    t.wait_until(lambda: md.count() >= 1, 5)
    msgs = [x for x in md.messages() if b"Subject: signed" in x]
    t.is_(len(msgs), 1, "delivered to bob")
    msg = msgs[0] if msgs else b""
    sigs = email.message_from_bytes(msg).get_all("DKIM-Signature") or []
    t.is_(len(sigs), 2, "two DKIM-Signature headers")
    t.like(msg, rb"\r\nDelivered-To: bob@example\.org\r\nDKIM-Signature: ",
           "the signatures follow Delivered-To")
    joined = " ".join(str(x) for x in sigs).encode()
    t.like(joined, rb"a=rsa-sha256", "one rsa-sha256")
    t.like(joined, rb"a=ed25519-sha256", "one ed25519-sha256")
    t.like(joined, rb"d=example\.org", "d=example.org")
    t.like(joined, rb"h=from:from:", "From over-signed")
    rc, out = verify(dns, msg)
    t.is_(rc, 0, "dkimpy verifies both with keys from dnsmasq")
    if rc != 0:
        t.diag(out)
    t.like(out, r"signature 0: pass\nsignature 1: pass",
           "... each signature")
    rc, out = verify(dns, msg.replace(b"Subject: signed",
                                      b"Subject: signeD"))
    t.is_(rc, 1, "a changed Subject fails")

    # Port 25, a From domain without keys: not signed.
    c = m.connect()
    c.ehlo()
    c.send_message("x@other.test", ["bob@example.org"],
                   "From: x@other.test\r\nSubject: unsigned\r\n\r\nx\r\n")
    c.quit()
    t.wait_until(lambda: any(b"Subject: unsigned" in x
                             for x in md.messages()), 5)
    un = [x for x in md.messages() if b"Subject: unsigned" in x]
    t.ok(un and b"DKIM-Signature" not in un[0],
         "From domain without a key: not signed")

    # Key rotation: a new selector after SIGHUP, without a restart.
    # (mail from this machine is signed for "dkim local" domains only)
    m.extra = "\n".join([
        'dkim example.org selector ed2 key "%s"' % ed2,
        'dkim local domain "example.org"',
        "listen on %s port %d tls-require pki mail auth <passwd>"
        % (t.test_addr(), sub)])
    m.write_files()
    os.kill(m.pid, signal.SIGHUP)
    t.wait_until(lambda: "reloaded" in m.log_text(), 5)
    c = m.connect()
    c.ehlo()
    c.send_message("alice@example.org", ["bob@example.org"],
                   "From: alice@example.org\r\nSubject: rotated\r\n\r\n"
                   "x\r\n")
    c.quit()
    t.wait_until(lambda: any(b"Subject: rotated" in x
                             for x in md.messages()), 5)
    ro = [x for x in md.messages() if b"Subject: rotated" in x]
    ro = ro[0] if ro else b""
    sigs = email.message_from_bytes(ro).get_all("DKIM-Signature") or []
    t.ok(len(sigs) == 1 and "s=ed2;" in str(sigs[0]),
         "after SIGHUP: signed with the new key only")
    rc, out = verify(dns, ro)
    t.is_(rc, 0, "... and it verifies")

    # The seed's filter-dkimsign signed as the mail host's name
    # (d=mail.example.org) for From: @example.org, which DMARC's relaxed
    # alignment accepts: a key of a subdomain (or parent) of the From
    # domain signs when the From domain has none of its own.
    m.extra = "\n".join([
        'dkim mail.example.org selector selector1 key "%s"' % ed2,
        'dkim local domain "example.org"',
        'dkim local domain "example.net"',
        'dkim local domain "ample.org"',
        "listen on %s port %d tls-require pki mail auth <passwd>"
        % (t.test_addr(), sub)])
    m.write_files()
    os.kill(m.pid, signal.SIGHUP)
    t.wait_until(lambda: m.log_text().count("reloaded") >= 2, 5)
    for subj, frm in (("aligned", "alice@example.org"),
                      ("unrelated", "alice@example.net"),
                      ("lookalike", "alice@ample.org")):
        c = m.connect()
        c.ehlo()
        c.send_message("alice@example.org", ["bob@example.org"],
                       "From: %s\r\nSubject: %s\r\n\r\nx\r\n" % (frm,
                                                                  subj))
        c.quit()
        t.wait_until(lambda: any(("Subject: %s" % subj).encode() in x
                                 for x in md.messages()), 5)
    al = [x for x in md.messages() if b"Subject: aligned" in x]
    al = al[0] if al else b""
    sigs = email.message_from_bytes(al).get_all("DKIM-Signature") or []
    t.ok(len(sigs) == 1 and "d=mail.example.org;" in str(sigs[0]),
         "From @example.org, key of mail.example.org: signed "
         "d=mail.example.org")
    rc, out = verify(dns, al)
    t.is_(rc, 0, "... and it verifies")
    for subj in ("unrelated", "lookalike"):
        x = [y for y in md.messages() if ("Subject: %s" % subj).encode()
             in y]
        t.ok(x and b"DKIM-Signature" not in x[0],
             "From domain %s to that key: not signed" % subj)
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")

    # A key others can read is refused.
    os.chmod(ed2, 0o644)
    r = subprocess.run([t.maild_path(), "-n", "-f", m.conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    t.ok(r.returncode != 0 and "readable by others" in r.stdout,
         "maild -n refuses a key readable by others")


t.run(main)
