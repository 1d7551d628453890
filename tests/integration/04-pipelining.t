#!/usr/bin/env python3
# EHLO extensions, PIPELINING (MAIL, RCPT, RCPT, DATA in one write, then
# the message and QUIT in one write), replies in order with enhanced
# status codes, delivery to both recipients.
import os
import re
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402


def main():
    m = t.Maild().start()
    c = m.connect()
    t.is_(c.greeting.code, 220, "greeting 220")
    t.like(c.greeting.text, r"mx\.test", "greeting names the hostname")
    r = c.ehlo()
    t.is_(r.code, 250, "EHLO 250")
    for ext in ("PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8",
                "ENHANCEDSTATUSCODES", "STARTTLS"):
        t.ok(ext in c.extensions, "EHLO offers %s" % ext)
    size = [x for x in c.ehlo_lines if x.upper().startswith("SIZE")]
    t.ok(size and re.match(r"SIZE (1048576|1000000)$", size[0], re.I),
         "SIZE advertises the 1M limit (%s)" % (size,))

    msgid = "pipe.%d@client.test" % os.getpid()
    c.send(b"MAIL FROM:<sender@client.test>\r\n"
           b"RCPT TO:<alice@example.org>\r\n"
           b"RCPT TO:<bob@example.org>\r\n"
           b"DATA\r\n")
    replies = [c.reply() for _ in range(4)]
    t.is_([x.code for x in replies], [250, 250, 250, 354],
          "pipelined MAIL RCPT RCPT DATA: 250 250 250 354 in order")
    for what, x in zip(("MAIL", "RCPT 1", "RCPT 2"), replies[:3]):
        t.like(x.enhanced or "", r"^2\.1\.[05]$",
               "%s reply has an enhanced code (%s)" % (what, x))
    t.ok(c.no_reply_within(0.3), "no extra reply after the 354")
    c.send(t.dot_stuff(t.make_message(msgid, subject="pipelined")) +
           b".\r\nQUIT\r\n")
    r = c.reply(30)
    t.is_(r.code, 250, "message accepted")
    t.like(r.enhanced or "", r"^2\.0\.0$", "250 after DATA has 2.0.0")
    r = c.reply()
    t.is_(r.code, 221, "pipelined QUIT answered 221")
    t.like(r.enhanced or "", r"^2\.0\.0$", "221 has 2.0.0")
    c.close()

    for user in ("alice", "bob"):
        md = m.maildir(user)
        md.wait(1, 5)
        ids = md.message_ids()
        t.is_(ids, ["<%s>" % msgid], "%s got the message once" % user)
        msgs = md.messages()
        if msgs:
            t.like(msgs[0], (r"\r\nDelivered-To: <?%s@example\.org>?\r\n"
                             % user).encode(),
                   "%s: Delivered-To is %s" % (user, user))
            # One spooled copy for two recipients: its Received header
            # must not name the other one (a Bcc would leak).
            other = "bob" if user == "alice" else "alice"
            prefix = b"".join(v for _, v in t.parse_message(msgs[0])[0])
            t.unlike(prefix, ("%s@" % other).encode(),
                     "%s's copy: no header maild added names %s"
                     % (user, other))

    # A second transaction in the same session, pipelined with RSET and
    # NOOP, and a rejected recipient in the middle.
    c = m.connect()
    c.ehlo()
    c.send(b"RSET\r\nNOOP\r\nMAIL FROM:<>\r\n"
           b"RCPT TO:<nobody@example.org>\r\n"
           b"RCPT TO:<bob@example.org>\r\nDATA\r\n")
    replies = [c.reply() for _ in range(6)]
    t.is_([x.code for x in replies], [250, 250, 250, 550, 250, 354],
          "RSET NOOP MAIL RCPT(bad) RCPT DATA: 250 250 250 550 250 354")
    t.ok(all(x.enhanced for x in replies if x.code != 354),
         "every reply has an enhanced status code")
    msgid2 = "pipe2.%d@client.test" % os.getpid()
    c.send(t.dot_stuff(t.make_message(msgid2, sender="")) + b".\r\n")
    r = c.reply(30)
    t.is_(r.code, 250, "null-sender message accepted")
    c.quit()
    md = m.maildir("bob")
    t.wait_until(lambda: md.count() >= 2, 5)
    t.is_(sorted(md.message_ids()), sorted(["<%s>" % msgid, "<%s>" % msgid2]),
          "bob has both messages")
    msg = [x for x in md.messages() if msgid2.encode() in x]
    t.ok(msg and msg[0].startswith(b"Return-Path: <>\r\n"),
         "null sender gives Return-Path: <>")
    t.is_(sorted(m.maildirs().items()),
          [("example.org/alice", 1), ("example.org/bob", 2)],
          "nothing delivered anywhere else")
    t.ok(m.stop(), "stops cleanly")


t.run(main)
