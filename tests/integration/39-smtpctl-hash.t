#!/usr/bin/env python3
# Migration (issue 5): passwd lines made by OpenSMTPD's own
# `smtpctl encrypt` (Debian's opensmtpd, unpacked by scripts/install-deps;
# SHA512-crypt there, bcrypt on OpenBSD), in the seed's
# "user@domain:hash" form, work for SMTP AUTH and IMAP login as they are;
# so do bcrypt hashes from `mailctl encrypt -b` and Dovecot's
# {SHA512-CRYPT} form.  Wrong passwords still fail.
import os
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

PEER = os.path.join(t.REPO, "tests", "bench", ".peers", "opensmtpd")
SMTPCTL = os.path.join(PEER, "usr", "sbin", "smtpctl")
MAILCTL = os.path.join(t.REPO, "mailctl")
SUB = t.test_port(1)


def smtpctl_encrypt(password):
    """OpenSMTPD's smtpctl encrypt, as installed: it runs with the
    opensmtpq group and execs /usr/libexec/opensmtpd/encrypt, so that
    directory is the unpacked package's, in a private mount namespace."""
    script = ('mount --bind "$1/usr/libexec" /usr/libexec && '
              'exec setpriv --regid opensmtpq --clear-groups "$2" encrypt '
              '"$3"')
    r = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", PEER,
                        SMTPCTL, password], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError("smtpctl encrypt: %s" % r.stderr)
    return r.stdout.strip()


def smtp_auth(m, user, password):
    c = t.SMTPConn(m.addr, SUB)
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + t.sasl_plain(user, password))
    c.quit()
    return r.code


def imap_login(m, user, password):
    c = m.imap_connect()
    r = c.login(user, password)
    if r.status == "OK":
        c.command("LOGOUT")
    c.close()
    return r.status


def main():
    if not t.is_root():
        t.skip_all("needs root (a mount namespace for smtpctl)")
    if not os.access(SMTPCTL, os.X_OK):
        t.bail_out("no OpenSMTPD smtpctl at %s: run scripts/install-deps"
                   % SMTPCTL)
    h_dave = smtpctl_encrypt("dave's pw")
    t.like(h_dave, r"^\$(6\$[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}|"
           r"2b\$\d\d\$[./0-9A-Za-z]{53})$",
           "smtpctl encrypt made a SHA512-crypt (or bcrypt) hash")
    h_erin = subprocess.run([MAILCTL, "encrypt", "-b", "erin-pw"],
                            stdout=subprocess.PIPE,
                            universal_newlines=True).stdout.strip()
    t.like(h_erin, r"^\$2b\$10\$[./0-9A-Za-z]{53}$",
           "mailctl encrypt -b: a bcrypt hash")
    h_fred = "{SHA512-CRYPT}" + smtpctl_encrypt("fred-pw")

    passwd = t.imap_passwd() + "".join(
        "%s@example.org:%s\n" % (u, h) for u, h in
        (("dave", h_dave), ("erin", h_erin), ("fred", h_fred)))
    m = t.Maild(imap=True, passwd=passwd,
                virtuals=t.DEFAULT_VIRTUALS + "".join(
                    "%s@example.org vmail\n" % u
                    for u in ("dave", "erin", "fred")),
                extra="listen on %s port %d tls-require pki mail "
                "auth <passwd>" % (t.test_addr(), SUB))
    m.start()
    for user, pw, what in (("dave", "dave's pw", "smtpctl encrypt"),
                           ("erin", "erin-pw", "mailctl encrypt -b"),
                           ("fred", "fred-pw", "{SHA512-CRYPT}")):
        addr = user + "@example.org"
        t.is_(smtp_auth(m, addr, pw), 235, "%s hash: SMTP AUTH" % what)
        t.is_(imap_login(m, addr, pw), "OK", "%s hash: IMAP login" % what)
        t.is_(smtp_auth(m, addr, pw + "x"), 535,
              "%s hash: wrong password refused over SMTP" % what)
        t.is_(imap_login(m, addr, pw.upper()), "NO",
              "%s hash: wrong password refused over IMAP" % what)
    t.is_(smtp_auth(m, "nobody@example.org", "dave's pw"), 535,
          "an unknown user fails the same way")
    t.unlike(m.log_text(), r"unsupported|malformed",
             "no hash was refused as unsupported or malformed")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
