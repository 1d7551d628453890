#!/usr/bin/env python3
# SMTP smuggling: only CRLF.CRLF ends DATA.  For each probe ("\n.\n",
# "\n.\r\n", "\r.\r", and "\r\n.\n") followed by a smuggled MAIL/RCPT/DATA
# and another message, in its own session: no reply may come before the
# real CRLF.CRLF, the message is then either accepted (bare LF stored as
# CRLF) or refused with a 5xx, and the smuggled message to bob is never
# delivered.  Each probe runs twice: waiting for a premature reply, and
# all in one write followed by QUIT (the reply after the first one must
# be the 221).
import os
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

PROBES = [("LF.LF", b"\n.\n"), ("LF.CRLF", b"\n.\r\n"), ("CR.CR", b"\r.\r"),
          ("CRLF.LF", b"\r\n.\n")]


def payload(name, probe, n):
    tag = "%s-%d" % (name, n)
    first = ("Subject: probe %s\r\nMessage-ID: <probe-%s@client.test>\r\n"
             "\r\nfirst part" % (tag, tag)).encode()
    smuggled = ("MAIL FROM:<evil@client.test>\r\n"
                "RCPT TO:<bob@example.org>\r\n"
                "DATA\r\n"
                "Subject: smuggled %s\r\n"
                "Message-ID: <smuggled-%s@client.test>\r\n\r\n"
                "evil body\r\n" % (tag, tag)).encode()
    return tag, first + probe + smuggled


def start_data(m):
    c = m.connect()
    c.ehlo()
    c.send(b"MAIL FROM:<sender@client.test>\r\n"
           b"RCPT TO:<alice@example.org>\r\nDATA\r\n")
    codes = [c.reply().code for _ in range(3)]
    return c, codes


def judge(m, tag, r, alice_before):
    t.ok(r is not None and (r.code == 250 or 500 <= r.code < 600),
         "%s: final reply is 250 or 5xx (%s)" % (tag, r))
    accepted = r is not None and r.code == 250
    al = m.maildir("alice")
    if accepted:
        t.wait_until(lambda: al.count() > alice_before, 5)
    time.sleep(0.5)   # a smuggled second message would be there by now
    t.is_(al.count(), alice_before + (1 if accepted else 0),
          "%s: alice got %s" % (tag, "it once" if accepted else "nothing"))
    t.is_(m.maildir("bob").count(), 0, "%s: no smuggled message for bob"
          % tag)
    msgs = [x for x in al.messages()
            if ("<probe-%s@client.test>" % tag).encode() in x]
    for x in msgs:
        t.is_(t.bare_lf(x), [], "%s: stored with CRLF only" % tag)
        t.isnt(t.header_value(x, "Message-ID"),
               "<smuggled-%s@client.test>" % tag,
               "%s: stored message is not the smuggled one" % tag)
    t.ok(not any(t.header_value(x, "Message-ID") ==
                 "<smuggled-%s@client.test>" % tag
                 for x in al.messages()),
         "%s: no message with the smuggled Message-ID" % tag)
    return al.count()


def main():
    m = t.Maild().start()
    alice = 0
    for name, probe in PROBES:
        # 1. slow: the probe, then wait for a premature reply
        tag, data = payload(name, probe, 1)
        c, codes = start_data(m)
        t.is_(codes, [250, 250, 354], "%s: MAIL RCPT DATA" % tag)
        c.send(data)
        t.ok(c.no_reply_within(1.0),
             "%s: no reply before the real CRLF.CRLF" % tag)
        c.send(b".\r\n")
        try:
            r = c.reply(30)
        except (OSError, t.SMTPError) as e:
            t.diag("%s: %s" % (tag, e))
            r = None
        t.ok(c.no_reply_within(0.3), "%s: exactly one reply" % tag)
        c.close()
        alice = judge(m, tag, r, alice)

        # 2. fast: everything in one write, then QUIT
        tag, data = payload(name, probe, 2)
        c, codes = start_data(m)
        t.is_(codes, [250, 250, 354], "%s: MAIL RCPT DATA" % tag)
        c.send(data + b".\r\nQUIT\r\n")
        try:
            r = c.reply(30)
        except (OSError, t.SMTPError) as e:
            t.diag("%s: %s" % (tag, e))
            r = None
        try:
            r2 = c.reply(10)
        except (OSError, t.SMTPError):
            r2 = None   # a server may close after a 5xx for bare CR
        t.ok(r2 is None or r2.code == 221,
             "%s: the reply after the end of data is QUIT's 221, not a "
             "smuggled command's (%s)" % (tag, r2))
        c.close()
        alice = judge(m, tag, r, alice)

    t.ok(set(m.maildirs()) <= {"example.org/alice"},
         "no Maildir other than alice's (%s)" % sorted(m.maildirs()))
    t.diag("alice has %d probe messages (accepted ones)" % alice)
    t.ok(m.stop(), "stops cleanly")


t.run(main)
