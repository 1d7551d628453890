#!/usr/bin/env python3
# Process supervision: a child that dies takes the whole daemon down (no
# half-alive daemon), for each child in turn; SIGTERM stops the daemon
# promptly even with client sessions open in the middle of DATA.
import os
import signal
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

CHILDREN = ("maild-lookup", "maild-smtp", "maild-queue", "maild-deliver",
            "maild-control", "maild-imap", "maild-relay", "maild-filter")


def main():
    m = t.Maild()
    for name in CHILDREN:
        m.start()
        t.wait_until(lambda: set(CHILDREN) <= set(
            t.proc_comm(k) for k in m.children()), 5)
        kids = {t.proc_comm(k): k for k in m.children()}
        pid = kids.get(name)
        if not t.ok(pid, "%s running" % name):
            m.stop()
            t.skip("no %s" % name, 3)
            continue
        others = [k for k in kids.values() if k != pid]
        os.kill(pid, signal.SIGKILL)
        try:
            rc = m.proc.wait(5)
        except t.subprocess.TimeoutExpired:
            rc = None
        t.ok(rc is not None, "killing %s ends the parent" % name)
        t.ok(rc is not None and rc != 0,
             "with a failure status (%r)" % (rc,))
        t.ok(t.wait_until(lambda: not any(t.pid_alive(k) for k in others),
                          5),
             "and every other child is gone")
        m.stop()

    # SIGTERM with sessions open, one of them in the middle of DATA.
    m.start()
    idle = m.connect()
    busy = m.connect()
    busy.ehlo()
    busy.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.org>\r\n"
              b"DATA\r\n")
    t.is_([busy.reply().code for _ in range(3)], [250, 250, 354],
          "a session in DATA")
    busy.send(b"Subject: half\r\n\r\nhalf a message\r\n")
    kids = m.children()
    t.ok(m.stop(timeout=5), "SIGTERM stops parent and children within 5s "
         "with sessions open")
    t.ok(not any(t.pid_alive(k) for k in kids), "no child left")
    t.is_(m.exit_status, 0, "clean exit status after SIGTERM")
    idle.close()
    busy.close()
    t.is_(m.maildir("alice").count(), 0, "the half message was not "
          "delivered")

    # Restart: incoming/ purged, nothing delivered from it.
    m.start()
    t.ok(t.wait_until(lambda: m.queue_entries()["incoming"] == [], 3),
         "incoming/ empty after a restart")
    t.ok(m.stop(), "stops cleanly")


t.run(main)
