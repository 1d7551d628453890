#!/usr/bin/env python3
# swaks: a plain message, then STARTTLS with an RSA and with an ECDSA
# certificate; each is delivered once, with the Received header saying
# whether (and which) TLS was used.
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

TLS_RE = r"TLS ?v?1\.[23]"


def send(m, tag, *args):
    msgid = "%s.%d@client.test" % (tag, os.getpid())
    r = t.swaks(m, "alice@example.org", "--header", "Message-Id: <%s>" % msgid,
                "--header", "Subject: %s" % tag, "--body",
                "body of %s" % tag, *args)
    if not t.is_(r.returncode, 0, "%s: swaks exits 0" % tag):
        t.diag(r.stdout)
    t.like(r.stdout, r"(?m)^ [-~]> \.\r?\n<[-~]\s+250[ -]2\.\d\.\d",
           "%s: 250 with an "
           "enhanced code after DATA" % tag)
    return msgid, r.stdout


def delivered(m, msgid, tag, tls):
    md = m.maildir("alice")
    t.wait_until(lambda: "<%s>" % msgid in md.message_ids(), 5)
    found = [x for x in md.messages()
             if t.header_value(x, "Message-ID") == "<%s>" % msgid]
    t.is_(len(found), 1, "%s: delivered exactly once" % tag)
    if not found:
        return None
    msg = found[0]
    prefix, rest = t.parse_message(msg)
    names = [n for n, _ in prefix]
    t.is_(names[:2], ["return-path", "delivered-to"],
          "%s: starts with Return-Path and Delivered-To" % tag)
    t.like(msg, rb"^Return-Path: <sender@client\.test>\r\n",
           "%s: Return-Path is the sender" % tag)
    t.like(msg, rb"\r\nDelivered-To: <?alice@example\.org>?\r\n",
           "%s: Delivered-To is the recipient" % tag)
    rcv = [v for n, v in prefix if n == "received"]
    t.is_(len(rcv), 1, "%s: one Received header added" % tag)
    rcv = rcv[0] if rcv else b""
    t.like(rcv, rb"mx\.test", "%s: Received names our hostname" % tag)
    if tls:
        t.like(rcv, TLS_RE.encode(), "%s: Received mentions the TLS "
               "version" % tag)
    else:
        t.unlike(rcv, TLS_RE.encode(), "%s: Received does not claim TLS"
                 % tag)
    t.like(rest, ("Subject: %s\r\n" % tag).encode(),
           "%s: original headers follow" % tag)
    t.is_(t.bare_lf(msg), [], "%s: CRLF line ends only" % tag)
    return msg


def main():
    if not t.have("swaks"):
        t.skip_all("swaks not installed")
    m = t.Maild(cert="rsa").start()
    msgid, _ = send(m, "plain")
    delivered(m, msgid, "plain", False)

    msgid, out = send(m, "starttls-rsa", "--tls")
    t.like(out, r"(?m)^ -> STARTTLS\r?\n<-\s+220[ -]", "starttls-rsa: STARTTLS accepted")
    t.like(out, r"TLS started", "starttls-rsa: swaks started TLS")
    delivered(m, msgid, "starttls-rsa", True)

    md = m.maildir("alice")
    t.is_(md.count(), 2, "two messages in alice's Maildir")
    names = [os.path.basename(p) for p in md.files("new")]
    for p in md.files("new"):
        mm = t.MAILDIR_NAME_RE.search(os.path.basename(p))
        t.ok(mm and int(mm.group(1)) == os.path.getsize(p),
             "new/%s: ,S= is the file size (%d)" % (os.path.basename(p),
                                                   os.path.getsize(p)))
    t.is_(len(set(names)), len(names), "Maildir names are unique")
    t.ok(m.stop(), "rsa instance stops cleanly")

    e = t.Maild(cert="ecdsa").start()
    msgid, out = send(e, "starttls-ecdsa", "--tls")
    t.like(out, r"TLS started", "starttls-ecdsa: swaks started TLS")
    delivered(e, msgid, "starttls-ecdsa", True)
    msgid, _ = send(e, "plain-ecdsa")
    delivered(e, msgid, "plain-ecdsa", False)
    t.is_(e.maildirs(), {"example.org/alice": 2},
          "ecdsa: only alice's Maildir, two messages")
    t.ok(e.stop(), "ecdsa instance stops cleanly")


t.run(main)
