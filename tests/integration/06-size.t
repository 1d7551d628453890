#!/usr/bin/env python3
# SIZE: a declared size over the limit is refused at MAIL (552 5.3.4); a
# body over the limit is refused after the final dot (552 5.3.4), nothing
# is delivered, and the session can still send a message afterwards.
import os
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

LIMIT = 1024 * 1024	# "1M"


def body_of(n):
    """About n bytes of 7-bit text in 76-byte CRLF lines."""
    line = b"y" * 76 + b"\r\n"
    return line * (n // len(line) + 1)


def main():
    m = t.Maild(max_size="1M").start()
    md = m.maildir("alice")
    c = m.connect()
    c.ehlo()

    r = c.cmd("MAIL FROM:<sender@client.test> SIZE=%d" % (2 * LIMIT))
    t.is_(r.code, 552, "MAIL SIZE=2M: 552")
    t.is_(r.enhanced, "5.3.4", "MAIL SIZE=2M: 5.3.4")
    r = c.cmd("MAIL FROM:<sender@client.test> SIZE=99999999999999999999999")
    t.ok(r.code in (501, 552, 555) and r.enhanced,
         "MAIL with an absurd SIZE refused (%s)" % r)
    r = c.cmd("MAIL FROM:<sender@client.test> SIZE=1000")
    t.is_(r.code, 250, "MAIL SIZE=1000 after the refusals: 250")
    r = c.cmd("RCPT TO:<alice@example.org>")
    t.is_(r.code, 250, "RCPT 250")
    r = c.cmd("DATA")
    t.is_(r.code, 354, "DATA 354")

    # A body over the limit despite the declared SIZE.
    big = t.make_message("big.%d@client.test" % os.getpid(),
                         body=body_of(LIMIT + 200 * 1024))
    c.timeout = 30
    c.send(t.dot_stuff(big))
    t.ok(c.no_reply_within(0.5), "no reply before the final dot")
    c.send(b".\r\n")
    r = c.reply(30)
    t.is_(r.code, 552, "oversized body: 552 after the dot")
    t.is_(r.enhanced, "5.3.4", "oversized body: 5.3.4")

    # The session is still usable: a message just under the limit.
    msgid = "fits.%d@client.test" % os.getpid()
    fits = t.make_message(msgid, subject="fits", body=body_of(LIMIT - 8192))
    fits = fits[:LIMIT - 4096]
    fits = fits[:fits.rfind(b"\r\n") + 2]
    mr, rr, dr, fr = c.send_message("sender@client.test",
                                    ["alice@example.org"], fits)
    t.is_(mr.code, 250, "MAIL after the 552: 250")
    t.is_(fr and fr.code, 250, "a message under the limit (%d bytes) in the "
          "same session: 250" % len(fits))
    c.quit()

    t.is_(md.wait(1, 5), 1, "exactly one message in the Maildir")
    time.sleep(1)
    t.is_(md.message_ids(), ["<%s>" % msgid], "it is the one that fits")
    t.is_(m.maildirs(), {"example.org/alice": 1}, "nothing else delivered")

    # Without SIZE= on MAIL the body limit applies too, in a new session.
    c = m.connect()
    c.ehlo()
    mr, rr, dr, fr = c.send_message("sender@client.test",
                                    ["bob@example.org"],
                                    body_of(LIMIT + 4096))
    t.is_(fr and fr.code, 552, "oversized body without SIZE=: 552")
    r = c.cmd("NOOP")
    t.is_(r.code, 250, "NOOP after the 552: 250")
    c.quit()
    time.sleep(1)
    t.is_(m.maildir("bob").count(), 0, "bob got nothing")

    # The boundary: the limit is the advertised SIZE, counted on the
    # message as the client sends it (RFC 1870), not on what maild
    # stores after adding its own headers.
    for n, want in ((LIMIT, 250), (LIMIT + 1, 552)):
        head = b"Subject: boundary\r\nMessage-ID: <b%d@x>\r\n\r\n" % n
        left = n - len(head)
        lines = [b"y" * 98 + b"\r\n"] * (left // 100)
        data = head + b"".join(lines) + b"z" * (left % 100 - 2) + b"\r\n"
        assert len(data) == n
        c = m.connect()
        c.ehlo()
        r = c.cmd("MAIL FROM:<sender@client.test> SIZE=%d" % n)
        if n <= LIMIT:
            t.is_(r.code, 250, "MAIL SIZE=%d (the advertised limit): 250"
                  % n)
        else:
            t.is_(r.code, 552, "MAIL SIZE=%d: 552" % n)
            c.cmd("RSET")
            c.cmd("MAIL FROM:<sender@client.test>")
        c.cmd("RCPT TO:<carol@example.net>")
        c.cmd("DATA")
        c.send(t.dot_stuff(data) + b".\r\n")
        r = c.reply(30)
        t.is_(r.code, want, "a message of exactly %d bytes: %d (%s)"
              % (n, want, r))
        c.quit()
    t.ok(t.wait_until(lambda: m.maildir("alice").count() == 2, 5),
         "the message of exactly the limit was delivered")
    # the Maildir link comes before the envelope's removal, and a refused
    # message leaves incoming/ asynchronously: wait for both
    t.wait_until(lambda: not m.queue_entries()["queue"] and
                 not m.queue_entries()["incoming"], 5)
    q = m.queue_entries()
    t.is_((q["queue"], q["incoming"]), ([], []),
          "nothing left in the spool")
    t.ok(m.stop(), "stops cleanly")


t.run(main)
