#!/usr/bin/env python3
# File descriptor exhaustion: with RLIMIT_NOFILE 64, 60 clients connect
# at once.  maild serves what its fds allow (a session needs a socket and
# a spool file), pauses accepting instead of failing, every session it
# greeted can send a message, and the waiting clients are greeted once
# the first ones leave.  No process dies.
import os
import select
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

CLIENTS = 60


def greet_all(conns, timeout):
    """Split conns into (greeted with 220, [(conn, other reply)], still
    waiting): wait up to timeout for the first greeting, then until no
    more arrive for 0.3 s."""
    greeted, refused, waiting = [], [], list(conns)
    end = time.monotonic() + timeout
    while waiting:
        quiet = 0.3 if greeted or refused else end - time.monotonic()
        r, _, _ = select.select([c.sock for c in waiting], [], [],
                                max(0.0, quiet))
        if not r:
            break
        for c in [c for c in waiting if c.sock in r]:
            waiting.remove(c)
            try:
                rep = c.reply(5)
            except (OSError, t.SMTPError) as e:
                refused.append((c, e))
                continue
            if rep.code == 220:
                greeted.append(c)
            else:
                refused.append((c, rep))
    return greeted, refused, waiting


def transaction(c, tag):
    c.ehlo()
    mr, rr, dr, fr = c.send_message("sender@client.test",
                                    ["alice@example.org"],
                                    t.make_message("%s.%d@x" % (tag,
                                                                os.getpid())))
    c.quit()
    return fr.code if fr else None


def main():
    m = t.Maild(nofile=64, extra="smtp limit max-per-ip 1000").start()
    kids = sorted(m.children())
    conns = [m.connect(greet=False) for _ in range(CLIENTS)]
    time.sleep(1.0)
    first, refused, waiting = greet_all(conns, 1.0)
    t.diag("greeted %d, refused %d, waiting %d" % (len(first), len(refused),
                                                   len(waiting)))
    t.ok(0 < len(first) < CLIENTS, "some sessions were greeted, not all "
         "(64 fds cannot hold %d sessions)" % CLIENTS)
    t.is_([str(r) for _, r in refused], [], "no session was refused "
          "with an error")
    codes = [transaction(c, "first%d" % i) for i, c in enumerate(first)]
    t.is_(codes, [250] * len(first), "every greeted session sent a message "
          "(a spool fd each)")
    # The rest come in waves as sessions end.
    later, still, codes, refused2 = [], waiting, [], []
    end = time.monotonic() + 20
    while still and time.monotonic() < end:
        wave, ref, still = greet_all(still, 2.0)
        refused2 += ref
        if not wave and not ref:
            break
        codes += [transaction(c, "later%d" % (len(later) + i))
                  for i, c in enumerate(wave)]
        later += wave
    t.is_(len(later), len(waiting), "the waiting clients are greeted as "
          "the first ones leave")
    t.is_([str(r) for _, r in refused2], [], "none of them refused")
    t.is_(codes, [250] * len(later), "and they can send too")
    for c in still:
        c.close()
    md = m.maildir("alice")
    total = len(first) + len(later)
    t.is_(md.wait(total, 10), total, "all %d messages delivered" % total)
    t.ok(m.running(), "parent still running")
    t.is_(sorted(m.children()), kids, "same children as at start")
    t.unlike(m.log_text(), r"(?i)fatal", "no fatal error logged")
    t.ok(m.stop(), "stops cleanly")


t.run(main)
