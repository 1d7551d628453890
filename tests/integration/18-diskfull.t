#!/usr/bin/env python3
# A nearly full spool: new mail is refused with 452 4.3.1 before the disk
# fills, the daemon keeps running, and mail is accepted again once there
# is room.  Needs root (the spool is a small tmpfs).
import os
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402


def mail_from(m):
    with m.connect() as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<s@client.test>")
        c.quit()
    return r


def main():
    if not t.is_root():
        t.skip_all("needs root to mount a tmpfs spool")
        return
    m = t.Maild(max_size="1M")
    os.makedirs(m.spool, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700",
                       "tmpfs", m.spool]).returncode != 0:
        t.skip_all("cannot mount a tmpfs here")
        return
    try:
        m.start()
        r = mail_from(m)
        t.is_(r.code, 250, "room in the spool: MAIL 250")
        fill = os.path.join(m.spool, "fill")
        with open(fill, "wb") as f:         # leave about 1 MiB free
            f.write(b"\0" * (3 * 1024 * 1024))
        r = mail_from(m)
        t.is_((r.code, r.enhanced), (452, "4.3.1"),
              "nearly full: MAIL 452 4.3.1 (%s)" % r)
        t.ok(m.running(), "the daemon keeps running")
        t.like(m.log_text(), r"nearly full", "the log says why")
        os.unlink(fill)
        r = mail_from(m)
        t.is_(r.code, 250, "room again: MAIL 250")
        with m.connect() as c:
            c.ehlo()
            _, _, _, fr = c.send_message(
                "s@client.test", ["alice@example.org"],
                t.make_message("diskfull.%d@client.test" % os.getpid()))
            c.quit()
        t.is_(fr and fr.code, 250, "a message is accepted again")
        t.ok(m.maildir("alice").wait(1), "and delivered")
        m.stop()
    finally:
        m.stop()
        subprocess.run(["umount", m.spool])


t.run(main)
