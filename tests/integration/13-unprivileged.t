#!/usr/bin/env python3
# Started as a non-root user (here: as "nobody" when the suite runs as
# root, else as whoever runs it), maild runs its processes without chroot
# or uid change, warns about it, and works.
import os
import pwd
import re
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

CHILDREN = ("maild-lookup", "maild-smtp", "maild-queue", "maild-deliver",
            "maild-control")


def main():
    if t.is_root():
        try:
            pw = pwd.getpwnam("nobody")
        except KeyError:
            t.skip_all("no user nobody to run as")
        m = t.Maild(run_as="nobody")
    else:
        pw = pwd.getpwuid(os.getuid())
        m = t.Maild()
    m.start()
    t.wait_until(lambda: set(CHILDREN) <= set(
        t.proc_comm(k) for k in m.children()), 5)
    byname = {t.proc_comm(k): k for k in m.children()}
    for name in CHILDREN:
        pid = byname.get(name)
        if not t.ok(pid, "%s is running" % name):
            t.skip("no %s" % name, 2)
            continue
        st = t.proc_status(pid)
        t.is_(st["Uid"].split()[:3], [str(pw.pw_uid)] * 3,
              "%s runs as %s" % (name, pw.pw_name))
        t.is_(os.readlink("/proc/%d/root" % pid), "/",
              "%s is not chrooted" % name)
    log = m.log_text(since_start=True)
    warn = [x for x in log.splitlines()
            if re.search(r"(?i)root|privilege|chroot", x)
            and not x.startswith("--- start")]
    t.ok(len(warn) >= 1, "a warning says it runs unprivileged")
    t.diag("warning lines: %r" % warn[:5])

    c = m.connect()
    c.ehlo()
    mr, rr, dr, fr = c.send_message("sender@client.test",
                                    ["bob@example.org"],
                                    t.make_message("unpriv.%d@x" % os.getpid()))
    t.is_(fr and fr.code, 250, "message accepted")
    c.quit()
    md = m.maildir("bob")
    t.is_(md.wait(1, 5), 1, "delivered")
    for p in md.files("new"):
        t.is_(os.stat(p).st_uid, pw.pw_uid, "Maildir file owned by %s"
              % pw.pw_name)
    t.ok(m.stop(), "stops cleanly")


t.run(main)
