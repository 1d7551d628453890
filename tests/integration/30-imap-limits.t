#!/usr/bin/env python3
# IMAP connection limits (mail.conf "imap limit"): logins per user are
# refused with NO [LIMIT] beyond max-per-user, connections from one
# address beyond max-per-ip are closed at once (on the STARTTLS port
# with a BYE first), and both come back when sessions end.
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402


def refused(m, starttls=False):
    """True if a new connection is closed without a greeting."""
    try:
        c = m.imap_connect(starttls_port=starttls, timeout=5)
    except (t.IMAPError, OSError) as e:
        return str(e) or True
    g = c.greeting
    c.close()
    return g is not None and g.startswith(b"* BYE")


def main():
    m = t.Maild(imap=True, imap_starttls=True,
                extra="imap limit max-per-ip 4 max-per-user 2")
    m.start()
    a = m.imap_login()
    b = m.imap_login(user="bob@example.org")
    c = m.imap_login()
    d = m.imap_connect()
    r = d.login("alice@example.org", t.IMAP_PASSWORDS["alice@example.org"])
    t.is_(r.status, "NO", "third login of alice: NO")
    t.like(r.code or "", r"^LIMIT", "... [LIMIT]")
    # d is still connected: that makes four from this address.
    t.ok(refused(m), "fifth connection from the address is closed")
    t.is_(refused(m, starttls=True), True,
          "on the STARTTLS port too, with a BYE greeting")
    c.logout()
    t.ok(t.wait_until(lambda: not refused(m), 5),
         "a connection is accepted again once one ended")
    r = d.login("alice@example.org", t.IMAP_PASSWORDS["alice@example.org"])
    t.is_(r.status, "OK", "alice may log in again once she has one left")
    for x in (a, b, d):
        x.logout()
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
