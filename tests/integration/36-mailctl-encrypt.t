#!/usr/bin/env python3
# mailctl encrypt (issue 5): an Argon2id hash from the command line or
# from standard input, refused for an empty password; a user added to
# the passwd table with it can log in over SMTP AUTH and IMAP after
# "mailctl reload", without a restart, while the old password of
# another user keeps working.
import os
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

MAILCTL = os.path.join(t.REPO, "mailctl")


def mailctl(*args, stdin=None, sock=None):
    cmd = [MAILCTL] + (["-s", sock] if sock else []) + list(args)
    r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=60)
    return r.returncode, r.stdout, r.stderr


def main():
    rc, out, err = mailctl("encrypt", "carol-pw")
    t.is_(rc, 0, "encrypt PASSWORD exits 0")
    h1 = out.strip()
    t.like(h1, r"^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$"
           r"[A-Za-z0-9+/]+$", "an Argon2id hash on one line")
    rc, out, err = mailctl("encrypt", stdin="carol-pw\n")
    t.is_(rc, 0, "encrypt reading standard input exits 0")
    h2 = out.strip()
    t.ok(h2.startswith("$argon2id$") and h2 != h1,
         "a fresh salt each time")
    rc, out, err = mailctl("encrypt", "")
    t.ok(rc == 1 and "empty password" in err and out == "",
         "an empty password is refused with exit 1")
    rc, out, err = mailctl("encrypt", stdin="")
    t.is_(rc, 1, "no password on standard input: exit 1")
    rc, out, err = mailctl("encrypt", "-b", "carol-pw")
    t.ok(rc == 0 and out.startswith("$2b$10$") and len(out.strip()) == 60,
         "encrypt -b: a bcrypt hash, for tables shared with OpenSMTPD")
    rc, out, err = mailctl("encrypt", "-b", "x" * 73)
    t.ok(rc == 1 and "72" in err and out == "",
         "encrypt -b refuses a password bcrypt would cut at 72 bytes")
    rc, out, err = mailctl("encrypt", "a", "b")
    t.is_(rc, 2, "two arguments: usage, exit 2")

    sub = t.test_port(1)
    m = t.Maild(imap=True, extra="listen on %s port %d tls-require pki "
                "mail auth <passwd>" % (t.test_addr(), sub))
    m.start()
    with open(m.passwd_file, "a") as f:
        f.write("carol@example.org %s\n" % h2)
    with open(m.virtuals_file, "a") as f:
        f.write("carol@example.org vmail\n")
    rc, out, err = mailctl("reload", sock=m.socket_path)
    t.is_(rc, 0, "mailctl reload")
    t.wait_until(lambda: "configuration reloaded" in m.log_text(), 5)

    c = m.imap_connect()
    r = c.login("carol@example.org", "carol-pw")
    t.is_(r.status, "OK", "the new user logs in over IMAP")
    c.logout()
    c = t.SMTPConn(m.addr, sub)
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("carol@example.org", "carol-pw"))
    t.is_(r.code, 235, "... and over SMTP AUTH")
    c.quit()
    c = m.imap_connect()
    r = c.login("alice@example.org", t.IMAP_PASSWORDS["alice@example.org"])
    t.is_(r.status, "OK", "alice's bcrypt password still works")
    c.logout()
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
