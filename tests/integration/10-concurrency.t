#!/usr/bin/env python3
# 200 messages over 20 concurrent sessions (python smtplib, 10 messages
# per session, half of the sessions with STARTTLS), each with a unique
# Message-ID: every one gets a 250 and lands in the Maildir exactly once,
# within a bounded time.
import os
import smtplib
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

SESSIONS = 20
PER_SESSION = 10
DEADLINE = 60.0		# seconds, for sending and delivery together


def worker(m, n, results, errors):
    try:
        s = smtplib.SMTP(m.addr, m.port, local_hostname="client%d.test" % n,
                         timeout=30)
        if n % 2:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s.starttls(context=ctx)
        for i in range(PER_SESSION):
            msgid = "conc-%d-%d.%d@client.test" % (n, i, os.getpid())
            msg = t.make_message(msgid, subject="s%d m%d" % (n, i),
                                 body="session %d message %d\r\n" % (n, i)
                                 * 20)
            refused = s.sendmail("sender%d@client.test" % n,
                                 ["alice@example.org"], msg)
            if refused:
                errors.append("%s refused: %r" % (msgid, refused))
            else:
                results.append("<%s>" % msgid)
        s.quit()
    except Exception as e:  # noqa: BLE001 - reported as a test failure
        errors.append("session %d: %s: %s" % (n, type(e).__name__, e))


def main():
    m = t.Maild().start()
    results, errors = [], []
    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(m, n, results, errors),
                                daemon=True) for n in range(SESSIONS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(max(0.1, DEADLINE - (time.monotonic() - start)))
    sent_time = time.monotonic() - start
    t.ok(not any(th.is_alive() for th in threads),
         "all sessions finished within %.0fs" % DEADLINE)
    t.is_(errors, [], "no session error")
    total = SESSIONS * PER_SESSION
    t.is_(len(results), total, "%d messages got a 250" % total)
    md = m.maildir("alice")
    md.wait(total, max(1.0, DEADLINE - (time.monotonic() - start)))
    all_time = time.monotonic() - start
    time.sleep(1.0)
    ids = md.message_ids()
    t.is_(len(ids), total, "%d files in the Maildir" % total)
    t.is_(len(set(ids)), len(ids), "no message delivered twice")
    t.ok(set(ids) == set(results), "the Message-IDs are exactly the ones "
         "that got a 250")
    missing = set(results) - set(ids)
    if missing:
        t.diag("missing: %s" % sorted(missing)[:10])
    t.ok(all_time < DEADLINE, "sent and delivered in %.1fs (sending %.1fs)"
         % (all_time, sent_time))
    t.diag("%d messages, %d sessions: %.1f msg/s accepted, %.1f msg/s "
           "delivered" % (total, SESSIONS, total / sent_time,
                          total / all_time))
    names = [os.path.basename(p) for p in md.files("new")]
    t.is_(len(set(n.split(",")[0] for n in names)), len(names),
          "unique Maildir base names")
    t.is_(md.files("tmp"), [], "nothing left in tmp/")
    t.wait_until(lambda: m.queue_entries()["queue"] == [], 5)
    t.is_(m.queue_entries(), {"queue": [], "incoming": [], "corrupt": []},
          "spool empty after delivery")
    t.ok(m.stop(), "stops cleanly")


t.run(main)
