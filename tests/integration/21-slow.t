#!/usr/bin/env python3
# Slow clients: with "smtp timeout 1s", an idle command phase ends with
# 421 after 1 s, an idle DATA after 2 s, and a DATA that dribbles a line
# every half second ends with 421 once it is under 500 bytes a second
# past its first timeout (test 54 has the rest of the deadlines);
# nothing of those messages is kept.
import os
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402


def start_data(m):
    c = m.connect()
    c.ehlo()
    c.cmd("MAIL FROM:<s@client.test>")
    c.cmd("RCPT TO:<alice@example.org>")
    t.is_(c.cmd("DATA").code, 354, "DATA 354")
    return c


def main():
    m = t.Maild(extra="smtp timeout 1s\n").start()

    c = m.connect()
    t0 = time.time()
    r = c.reply(5)
    took = time.time() - t0
    t.is_((r.code, r.enhanced), (421, "4.4.2"),
          "idle after the greeting: 421 4.4.2 (%s)" % r)
    t.ok(0.5 < took < 3, "after about 1 s (%.1f s)" % took)
    c.close()

    c = start_data(m)
    t0 = time.time()
    c.send(b"Subject: idle\r\n")
    r = c.reply(6)
    took = time.time() - t0
    t.is_(r.code, 421, "idle in DATA: 421 (%s)" % r)
    t.ok(1.5 < took < 4, "after about 2 s (%.1f s)" % took)
    c.close()

    c = start_data(m)
    t0 = time.time()
    r = None
    while time.time() - t0 < 20 and r is None:
        try:
            c.send(b"x\r\n")
        except OSError:
            break
        try:
            r = c.reply(0.5)
        except (OSError, t.SMTPError):
            r = None
    took = time.time() - t0
    t.is_(r and r.code, 421, "dribbling DATA: 421 (%s)" % r)
    # 6 bytes a second: under the 500 a second DATA must bring after its
    # first timeout (test 54 has the 12 s deadline of faster DATA)
    t.ok(1 < took < 4, "after about 1.5 s (%.1f s)" % took)
    t.like(str(r), r"too slow", "... as too slow")
    c.close()

    t.ok(t.wait_until(lambda: not any(m.queue_entries().values()), 5),
         "nothing left in the spool")
    t.is_(m.maildir("alice").count(), 0, "nothing delivered")
    t.ok(m.running(), "daemon still running")
    m.stop()


t.run(main)
