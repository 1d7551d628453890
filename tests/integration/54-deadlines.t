#!/usr/bin/env python3
# Session deadlines are timers (issue 10, findings 2 and 6).  With "smtp
# timeout 1s" DATA may last 12 s and a session gets 12 s to bring its
# next message.  A client sending one byte of DATA every half second and
# never a line end used to hold the session and its spool file for ever
# (the deadline was checked only when a line ended); one sending NOOP
# every half second was never closed.  Now a line must end within the
# timeout however its bytes trickle (2 s in DATA, 1 s for a command),
# DATA must bring 500 bytes a second after its first timeout (Postfix's
# smtpd_min_data_rate) and end within 12 s, a session gets 12 s to
# bring a message, a message accepted restarts that clock, and the
# spool file of a message cut short is removed.
import os
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

LIMIT = 12          # 12 x smtp timeout
GIVE_UP = 30        # a session still open then is held for ever


def drip(c, payload, until):
    """Send payload every half second until the server closes or says
    421; (seconds, reply text) when it does, (None, "") at until."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < until:
        try:
            c.send(payload)
        except OSError as e:
            return time.monotonic() - t0, "closed: %s" % e
        if c.quiet_for(0.5):
            continue
        if c.closed:
            return time.monotonic() - t0, "closed"
        try:
            line = c.readline(timeout=5)
        except OSError as e:
            return time.monotonic() - t0, "closed: %s" % e
        if line.startswith(b"421"):
            return time.monotonic() - t0, line.decode(errors="replace").strip()
        # 250 to a NOOP: go on
    return None, ""


def in_data(m):
    c = m.connect(timeout=GIVE_UP + 5)
    c.ehlo()
    c.cmd("MAIL FROM:<a@client.test>")
    c.cmd("RCPT TO:<alice@example.org>")
    return c, c.cmd("DATA").code


def data_dribble(m, out):
    """A byte every half second, no line end."""
    c, out["data354"] = in_data(m)
    out["data"] = drip(c, b"x", GIVE_UP)
    c.close()


def data_slow(m, out):
    """Short lines: 6 bytes a second."""
    c, _ = in_data(m)
    out["slow"] = drip(c, b"xxx\r\n", GIVE_UP)
    c.close()


def data_long(m, out):
    """2 KB a second: fast enough, but never done."""
    c, _ = in_data(m)
    out["long"] = drip(c, b"y" * 1022 + b"\r\n", GIVE_UP)
    c.close()


def command_dribble(m, out):
    c = m.connect(timeout=GIVE_UP + 5)
    c.ehlo()
    out["cmd"] = drip(c, b"N", GIVE_UP)
    c.close()


def noop_loop(m, out):
    c = m.connect(timeout=GIVE_UP + 5)
    c.ehlo()
    out["noop"] = drip(c, b"NOOP\r\n", GIVE_UP)
    c.close()


def renewed(m, out):
    """A message at 8 s: the session is still open at LIMIT + 3 s, and
    closed LIMIT s after the message."""
    c = m.connect(timeout=GIVE_UP + 5)
    c.ehlo()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 8:
        c.cmd("NOOP")
        time.sleep(0.5)
    _, _, _, fr = c.send_message("a@client.test", ["alice@example.org"],
                                 t.make_message("renew@client.test"))
    out["renew250"] = fr.code if fr else None
    t1 = time.monotonic()
    while time.monotonic() - t0 < LIMIT + 3:
        c.cmd("NOOP")
        time.sleep(0.5)
    out["alive"] = c.cmd("NOOP").code
    d, text = drip(c, b"NOOP\r\n", GIVE_UP)
    out["renew"] = (None if d is None else time.monotonic() - t1, text)
    c.close()


def main():
    m = t.Maild(extra="smtp timeout 1s")
    m.start()
    out = {}
    threads = [threading.Thread(target=f, args=(m, out))
               for f in (data_dribble, data_slow, data_long, command_dribble,
                         noop_loop, renewed)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(GIVE_UP * 2 + 10)

    t.is_(out.get("data354"), 354, "DATA started")
    d, text = out.get("data", (None, ""))
    t.ok(d is not None and 1.5 <= d <= 4,
         "a byte of DATA every half second, no line end: closed when the "
         "line is 2 s old (%s s: %s)" % (d and round(d, 1), text))
    t.like(text, r"^421 4\.4\.2 .*Timeout", "... with 421 4.4.2")
    d, text = out.get("slow", (None, ""))
    t.ok(d is not None and 1 <= d <= 4,
         "6 bytes of DATA a second: closed after the first second "
         "(%s s: %s)" % (d and round(d, 1), text))
    t.like(text, r"^421 4\.4\.2 .*DATA too slow", "... with 421 4.4.2")
    d, text = out.get("long", (None, ""))
    t.ok(d is not None and LIMIT - 1 <= d <= LIMIT + 3,
         "2 KB of DATA a second: closed at the DATA deadline (%s s: %s)"
         % (d and round(d, 1), text))
    t.like(text, r"^421 4\.4\.2 .*DATA took too long", "... with 421 4.4.2")
    d, text = out.get("cmd", (None, ""))
    t.ok(d is not None and 0.5 <= d <= 3,
         "a command a byte at a time: closed when the line is 1 s old "
         "(%s s: %s)" % (d and round(d, 1), text))
    d, text = out.get("noop", (None, ""))
    t.ok(d is not None and LIMIT - 1 <= d <= LIMIT + 3,
         "NOOP every half second: closed at the session deadline "
         "(%s s: %s)" % (d and round(d, 1), text))
    t.like(text, r"^421 4\.4\.2 .*Session took too long", "... with 421")
    t.is_(out.get("renew250"), 250, "a message accepted at 8 s")
    t.is_(out.get("alive"), 250, "session still open past the first "
          "deadline: the message restarted its clock")
    d, text = out.get("renew", (None, ""))
    t.ok(d is not None and LIMIT - 2 <= d <= LIMIT + 3,
         "closed a deadline after the message (%s s)" % (d and round(d, 1)))
    t.ok(t.wait_until(lambda: m.queue_entries()["incoming"] == [], 5),
         "the dribbled message's spool file is gone")
    t.is_(len(m.maildir("alice").messages()), 1, "only the whole message "
          "was delivered")
    t.like(m.log_text(), r"DATA from \S+ took too long", "logged")
    with m.connect() as c:
        t.is_(c.ehlo().code, 250, "maild still answers")
    m.stop()


t.run(main)
