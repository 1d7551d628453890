#!/usr/bin/env python3
# Until the outbound relay exists, a recipient that would have to leave
# the machine (an alias to a remote address, or a relay rule) is refused
# with a 4xx, so the sender keeps the message: nothing is accepted that
# nothing can deliver.  Other recipients in the same transaction still
# get their copy.
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

VIRTUALS = t.DEFAULT_VIRTUALS + "fwd@example.org someone@remote.test\n"


def main():
    m = t.Maild(virtuals=VIRTUALS,
                extra='action "out" relay\n'
                      'match from local for any action "out"\n').start()
    with m.connect() as c:
        c.ehlo()
        t.is_(c.cmd("MAIL FROM:<s@client.test>").code, 250, "MAIL")
        r = c.cmd("RCPT TO:<fwd@example.org>")
        t.is_((r.code, r.enhanced), (451, "4.3.0"),
              "alias to a remote address: 451 4.3.0 (%s)" % r)
        r = c.cmd("RCPT TO:<x@remote.test>")
        t.is_((r.code, r.enhanced), (451, "4.3.0"),
              "relay rule from local: 451 4.3.0 (%s)" % r)
        t.is_(c.cmd("RCPT TO:<alice@example.org>").code, 250,
              "a local recipient in the same transaction: 250")
        t.is_(c.cmd("DATA").code, 354, "DATA")
        c.send(t.make_message("fwd.%d@client.test" % os.getpid()) +
               b".\r\n")
        t.is_(c.reply(10).code, 250, "message accepted for alice")
        c.quit()
    t.ok(m.maildir("alice").wait(1), "alice got it")
    t.ok(t.wait_until(lambda: not any(m.queue_entries().values()), 5),
         "nothing waits in the queue for the remote recipient")
    m.stop()


t.run(main)
