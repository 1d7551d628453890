#!/usr/bin/env python3
# RFC 5321 4.5.1: RCPT TO:<postmaster> without a domain must be accepted
# (issue 10, finding 11).  It got "relaying denied" when the host name
# (mx.test) is not a domain we deliver for; now it goes to postmaster at
# the first domain a rule delivers to a Maildir, in any case of letters,
# also when a relay rule would match the host name.
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

VIRTUALS = t.DEFAULT_VIRTUALS + "postmaster@example.org bob@example.org\n"


def main():
    m = t.Maild(virtuals=VIRTUALS,
                extra='action "out" relay\n'
                      'match from local for any action "out"')
    m.start()
    for i, rcpt in enumerate(("postmaster", "PostMaster", "POSTMASTER")):
        with m.connect() as c:
            c.ehlo()
            c.cmd("MAIL FROM:<someone@client.test>")
            r = c.cmd("RCPT TO:<%s>" % rcpt)
            t.is_(r.code, 250, "RCPT TO:<%s>: 250 (%s)" % (rcpt, r.text))
            if r.code == 250:
                r = c.cmd("DATA")
                c.send(t.dot_stuff(t.make_message(
                    "pm%d@client.test" % i, subject="pm%d" % i,
                    to=rcpt)) + b".\r\n")
                t.is_(c.reply().code, 250, "... message accepted")
            c.quit()
    md = m.maildir("bob")
    t.ok(md.wait(3, 5), "all three delivered to bob through "
         "postmaster@example.org")
    t.is_(sorted(t.header_value(x, "Subject") for x in md.messages()),
          ["pm0", "pm1", "pm2"], "... each of them")
    t.is_(m.maildir("alice").count(), 0, "nothing elsewhere")
    m.stop()


t.run(main)
