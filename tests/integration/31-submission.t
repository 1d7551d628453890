#!/usr/bin/env python3
# Submission with AUTH (issue 4): port 587 style (tls-require) and 465
# style (smtps) listeners with "auth <passwd>" and mask-src.  AUTH is
# offered only after TLS, PLAIN and LOGIN work with swaks, a wrong
# password gets 535 5.7.8 (later and later from one address), mail
# without AUTH gets 530, and an authenticated user may use as MAIL FROM
# only an address of theirs (their own, or one whose mail reaches them)
# unless the listener says any-sender.
import os
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

PW = t.IMAP_PASSWORDS["alice@example.org"]


def swaks(m, port, *args, to="bob@example.org", sender="alice@example.org"):
    cmd = ["swaks", "--server", "%s:%d" % (m.addr, port), "--to", to,
           "--from", sender, "--helo", "client.test", "--timeout", "15"]
    return t.subprocess.run(cmd + list(args), stdout=t.subprocess.PIPE,
                            stderr=t.subprocess.STDOUT, timeout=60,
                            universal_newlines=True,
                            stdin=t.subprocess.DEVNULL)


def delivered_to_bob(m, subject):
    md = m.maildir("bob")
    t.wait_until(lambda: any(subject.encode() in x for x in md.messages()),
                 5)
    return [x for x in md.messages() if subject.encode() in x]


def main():
    sub = t.test_port(1)
    smtps = t.test_port(2)
    anys = t.test_port(3)
    m = t.Maild(imap=True, extra="\n".join([
        "listen on %s port %d tls-require pki mail auth <passwd> mask-src"
        % (t.test_addr(), sub),
        "listen on %s port %d smtps pki mail auth <passwd> mask-src"
        % (t.test_addr(), smtps),
        "listen on %s port %d tls-require pki mail auth <passwd> "
        "any-sender" % (t.test_addr(), anys)]))
    m.start()

    # -- before TLS: no AUTH offered, AUTH refused
    c = t.SMTPConn(m.addr, sub)
    r = c.ehlo()
    t.unlike(r.text, r"AUTH", "587 before STARTTLS: no AUTH in EHLO")
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW))
    t.is_(r.code, 538, "AUTH before STARTTLS: 538")
    t.is_(r.enhanced, "5.7.11", "... 5.7.11")
    c.starttls()
    r = c.ehlo()
    t.like(r.text, r"(?m)^AUTH PLAIN LOGIN$", "after STARTTLS: AUTH PLAIN "
           "LOGIN offered")
    r = c.cmd("MAIL FROM:<alice@example.org>")
    t.is_(r.code, 530, "MAIL without AUTH: 530")
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", "wrong"))
    t.is_((r.code, r.enhanced), (535, "5.7.8"), "wrong password: 535 5.7.8")
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("nobody@example.org", PW))
    t.is_(r.code, 535, "unknown user: 535")
    start = time.monotonic()
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", "wrong2"),
              timeout=30)
    took = time.monotonic() - start
    t.ok(r.code == 535 and took >= 1.5, "third failure from the address "
         "waits (%.2f s)" % took)
    r = c.cmd("AUTH PLAIN =")
    t.is_(r.code, 501, "empty PLAIN response: 501")
    r = c.cmd("AUTH PLAIN")
    t.is_(r.code, 334, "AUTH PLAIN without initial response: 334")
    r = c.cmd("*")
    t.is_(r.code, 501, "* cancels: 501")
    r = c.cmd("AUTH CRAM-MD5")
    t.is_(r.code, 504, "unknown mechanism: 504")
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW,
                                           authzid="bob@example.org"))
    t.is_(r.code, 535, "authzid of another user: 535")
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW))
    t.is_((r.code, r.enhanced), (235, "2.7.0"), "right password: 235 2.7.0")
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW))
    t.is_(r.code, 503, "AUTH twice: 503")
    r = c.cmd("MAIL FROM:<bob@example.org>")
    t.is_((r.code, r.enhanced), (553, "5.7.1"),
          "MAIL FROM another user's address: 553 5.7.1")
    r = c.cmd("MAIL FROM:<info@example.org>")
    t.is_(r.code, 250, "MAIL FROM an alias that reaches alice: 250")
    c.cmd("RSET")
    r = c.cmd("MAIL FROM:<ALICE@example.org>")
    t.is_(r.code, 250, "MAIL FROM her own address, any case: 250")
    c.cmd("RSET")
    r = c.cmd("MAIL FROM:<>")
    t.is_(r.code, 250, "MAIL FROM:<> allowed")
    c.quit()

    # -- swaks: PLAIN over 587, LOGIN over 465
    r = swaks(m, sub, "--tls", "--auth", "PLAIN", "--auth-user",
              "alice@example.org", "--auth-password", PW, "--header",
              "Subject: sub-plain")
    t.is_(r.returncode, 0, "swaks AUTH PLAIN on 587 with STARTTLS")
    found = delivered_to_bob(m, "sub-plain")
    t.is_(len(found), 1, "delivered to bob once")
    msg = found[0] if found else b""
    t.like(msg, rb"Received: from localhost \(localhost\)\r\n\tby mx\.test "
           rb"\(maild\) with ESMTPSA ", "Received: mask-src and ESMTPSA")
    t.unlike(msg, rb"127\.0\.0\.", "no client address anywhere")
    r = swaks(m, smtps, "--tlsc", "--auth", "LOGIN", "--auth-user",
              "alice@example.org", "--auth-password", PW, "--header",
              "Subject: smtps-login")
    t.is_(r.returncode, 0, "swaks AUTH LOGIN on 465 (implicit TLS)")
    t.is_(len(delivered_to_bob(m, "smtps-login")), 1, "delivered")
    r = swaks(m, smtps, "--tlsc", "--auth", "LOGIN", "--auth-user",
              "alice@example.org", "--auth-password", "nope")
    t.ok(r.returncode != 0 and "535 5.7.8" in r.stdout,
         "LOGIN with a wrong password: 535 5.7.8")
    r = swaks(m, sub, "--tls", "--auth", "PLAIN", "--auth-user",
              "alice@example.org", "--auth-password", PW,
              sender="bob@example.org")
    t.ok(r.returncode != 0 and "553 5.7.1" in r.stdout,
         "swaks as another sender: 553")
    r = swaks(m, anys, "--tls", "--auth", "PLAIN", "--auth-user",
              "alice@example.org", "--auth-password", PW,
              "--header", "Subject: any-sender", sender="bob@example.org")
    t.is_(r.returncode, 0, "any-sender listener: any MAIL FROM")
    t.is_(len(delivered_to_bob(m, "any-sender")), 1, "delivered")
    t.like(m.log_text(), r"authenticated as alice@example\.org",
           "log names the authenticated user")
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
