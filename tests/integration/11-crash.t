#!/usr/bin/env python3
# Crash safety: send up to 500 messages over 10 concurrent sessions, kill
# -9 the maild parent and all its children in the middle, restart maild on
# the same spool and Maildir: every message that got a 250 is delivered
# (at least once; duplicates are reported), and the restarted daemon has
# nothing stuck in its spool.  Then the same with messages waiting in the
# queue (the Maildir's tmp/ made unwritable so deliveries fail
# temporarily) at the moment of the kill.
import os
import smtplib
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

SESSIONS = 10
TOTAL = 500
KILL_AFTER = 120	# acknowledged messages before the kill
KILL_MAX_WAIT = 20.0	# seconds: kill anyway by then


def worker(m, n, acked, stop, lock, counter):
    try:
        s = smtplib.SMTP(m.addr, m.port, local_hostname="crash%d.test" % n,
                         timeout=10)
    except OSError:
        return
    try:
        while not stop.is_set():
            with lock:
                if counter[0] >= TOTAL:
                    break
                i = counter[0]
                counter[0] += 1
            msgid = "crash-%d.%d@client.test" % (i, os.getpid())
            msg = t.make_message(msgid, subject="crash %d" % i,
                                 body=("message %d\r\n" % i) * 50)
            s.sendmail("sender@client.test", ["alice@example.org"], msg)
            # sendmail returned: the server said 250 after DATA.
            with lock:
                acked.append("<%s>" % msgid)
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


def main():
    m = t.Maild(name="maild-1").start()
    acked, stop, lock, counter = [], threading.Event(), threading.Lock(), [0]
    threads = [threading.Thread(target=worker,
                                args=(m, n, acked, stop, lock, counter),
                                daemon=True) for n in range(SESSIONS)]
    for th in threads:
        th.start()
    t.wait_until(lambda: len(acked) >= KILL_AFTER or
                 not any(th.is_alive() for th in threads), KILL_MAX_WAIT)
    kids = m.children()
    names = sorted(t.proc_comm(k) or "?" for k in kids)
    with lock:
        at_kill = len(acked)
    pids = m.kill9()
    stop.set()
    for th in threads:
        th.join(15)
    t.ok(not any(th.is_alive() for th in threads),
         "client sessions ended after the kill")
    t.diag("killed %s (%s) after %d acknowledged messages (%d in total "
           "before the clients noticed)" % (pids, ", ".join(names), at_kill,
                                            len(acked)))
    t.ok(at_kill > 0, "some messages were acknowledged before the kill")
    t.ok(at_kill < TOTAL, "the kill came in the middle of the load")
    t.ok(not any(t.pid_alive(p) for p in pids), "every process is gone")
    before = m.maildir("alice").message_ids()
    t.diag("%d messages were in the Maildir at the kill; spool: %s" % (
        len(before), {k: len(v) for k, v in m.queue_entries().items()}))

    # Restart on the same directory (same config, spool, Maildir).
    m2 = t.Maild(tmpdir=m.dir, port=m.port, name="maild-2")
    m2.start()
    t.ok(m2.running(), "restarted on the same spool")
    md = m2.maildir("alice")
    want = set(acked)
    t.wait_until(lambda: want <= set(md.message_ids()), 20, interval=0.2)
    t.wait_until(lambda: not m2.queue_entries()["queue"], 10, interval=0.2)
    time.sleep(1.0)
    ids = md.message_ids()
    missing = want - set(ids)
    t.is_(len(missing), 0, "every acknowledged message (%d) was delivered"
          % len(want))
    if missing:
        t.diag("missing: %s" % sorted(missing)[:20])
    dups = sorted(x for x in set(ids) if ids.count(x) > 1)
    t.diag("%d files in the Maildir, %d distinct, %d duplicated, %d "
           "delivered without a 250" % (len(ids), len(set(ids)), len(dups),
                                         len(set(ids) - want)))
    if dups:
        t.diag("duplicates (allowed only for a crash between link and "
               "envelope removal): %s" % dups[:10])
    q = m2.queue_entries()
    t.is_(q["queue"], [], "queue/ empty after the restart: nothing stuck")
    t.is_(q["incoming"], [], "incoming/ purged on start")
    t.is_(q["corrupt"], [], "no envelope was corrupted by the crash")
    unknown = [x for x in set(ids) - want
               if not x.startswith("<crash-")]
    t.is_(unknown, [], "nothing but test messages in the Maildir")

    # The restarted daemon accepts and delivers new mail.
    c = m2.connect()
    c.ehlo()
    mr, rr, dr, fr = c.send_message("sender@client.test",
                                    ["alice@example.org"],
                                    t.make_message("after-restart@x"))
    t.is_(fr and fr.code, 250, "new message after the restart: 250")
    c.quit()
    t.ok(t.wait_until(lambda: "<after-restart@x>" in md.message_ids(), 5),
         "and it is delivered")
    t.ok(m2.running(), "restarted daemon still running")

    # Phase 2: acknowledged messages sitting in the queue at the kill.
    tmp = os.path.join(md.path, "tmp")
    mode = os.stat(tmp).st_mode & 0o7777
    os.chmod(tmp, 0o555)
    before = len(md.message_ids())
    queued = []
    c = m2.connect()
    c.ehlo()
    for i in range(30):
        msgid = "queued-%d.%d@client.test" % (i, os.getpid())
        mr, rr, dr, fr = c.send_message("sender@client.test",
                                        ["alice@example.org"],
                                        t.make_message(msgid))
        if fr and fr.code == 250:
            queued.append("<%s>" % msgid)
    c.quit()
    t.is_(len(queued), 30, "30 messages acknowledged while delivery fails")
    t.wait_until(lambda: len(m2.queue_entries()["queue"]) >= 30, 3)
    time.sleep(1.0)
    t.is_(len(md.message_ids()), before, "none delivered while tmp/ is "
          "read-only (temporary failure)")
    t.is_(len(m2.queue_entries()["queue"]), 30, "30 messages in queue/")
    m2.kill9()
    os.chmod(tmp, mode)
    m3 = t.Maild(tmpdir=m.dir, port=m.port, name="maild-3")
    m3.start()
    t.ok(t.wait_until(lambda: set(queued) <= set(md.message_ids()), 15,
                      interval=0.2),
         "after a kill -9 and a restart, all 30 queued messages are "
         "delivered")
    t.wait_until(lambda: not m3.queue_entries()["queue"], 5)
    ids = md.message_ids()
    t.is_(sorted(x for x in set(ids) if x in queued and ids.count(x) > 1),
          [], "none of them twice")
    t.is_(m3.queue_entries(), {"queue": [], "incoming": [], "corrupt": []},
          "spool empty")
    t.ok(m3.stop(), "third daemon stops cleanly")


t.run(main)
