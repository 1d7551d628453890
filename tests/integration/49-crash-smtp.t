#!/usr/bin/env python3
# Crash consistency of SMTP reception and Maildir delivery (issue 10,
# finding 4: duplicates after a crash between the Maildir link and the
# envelope removal).
#
# Part 1: a 2,000-message load over several concurrent SMTP sessions
# (some messages for two mailboxes), an IMAP session that keeps moving
# bob's new mail to cur/ and renaming it with flags, and SIGKILL of
# maild's whole process group at 20 random instants, maild restarted each
# time on the same spool and Maildirs.  Every message that got a 250 must
# be delivered, to each of its mailboxes exactly once.
#
# Part 2: the crash instants that random kills seldom hit, set up on disk
# exactly as a crash leaves them (an envelope still in the queue although
# its message was delivered): the file moved to cur/ and flagged since,
# the file expunged after deliver marked the envelope delivered, and the
# one window left (expunged, no mark) that maild(8) documents.
#
# MAILD_TEST_SEED=<n> repeats a run's kill instants.  Under valgrind
# (MAILD=scripts/valgrind-maild) the load is smaller and waits longer.
import os
import random
import shutil
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

SLOW = 6 if "valgrind" in os.environ.get("MAILD", "") else 1
SESSIONS = 8
TOTAL = 2000 // SLOW
KILLS = 20 // SLOW
LOAD_DEADLINE = 60.0 * SLOW	# seconds for the load and its kills
DRAIN_DEADLINE = 20.0 * SLOW	# seconds for the queue to empty afterwards
START = 10.0 * SLOW	# seconds for maild to listen
MARKS = ".maild-delivered"	# deliver's marks, in the mailbox root


def rcpts_of(i):
    """Recipients of message i and the mailboxes it must land in."""
    if i % 4 == 0:
        return ["info@example.org"], ["alice", "bob"]	# an alias of both
    if i % 4 == 1:
        return ["bob@example.org"], ["bob"]
    return ["alice@example.org"], ["alice"]


class Load:
    def __init__(self, m):
        self.m = m
        self.lock = threading.Lock()
        self.next = 0
        self.acked = {}		# Message-ID -> mailboxes
        self.stop = threading.Event()
        self.errors = 0

    def take(self):
        with self.lock:
            if self.next >= TOTAL:
                return None
            self.next += 1
            return self.next - 1

    def sender(self, n):
        """One SMTP client: each message is sent once, never again (a
        resend after a lost 250 would be a duplicate of the client's)."""
        c = None
        while not self.stop.is_set():
            i = self.take()
            if i is None:
                break
            msgid = "c49-%d.%d@client.test" % (i, os.getpid())
            rcpts, boxes = rcpts_of(i)
            msg = t.make_message(msgid, subject="crash %d" % i,
                                 body=("line %d\r\n" % i) * 20)
            while c is None and not self.stop.is_set():
                try:
                    c = t.SMTPConn(self.m.addr, self.m.port,
                                  timeout=5 * SLOW)
                    c.ehlo("crash%d.test" % n)
                except (OSError, t.SMTPError):
                    c = None
                    time.sleep(0.05)
            if c is None:
                break
            try:
                _, _, _, fr = c.send_message("sender@client.test", rcpts,
                                             msg)
            except (OSError, t.SMTPError):
                fr = None
            if fr is not None and fr.code == 250:
                with self.lock:
                    self.acked["<%s>" % msgid] = boxes
            else:
                with self.lock:
                    self.errors += 1
                if c is not None:
                    c.close()
                c = None
        if c is not None:
            c.quit()

    def mover(self):
        """bob reads his mail while it arrives: SELECT moves new/ to
        cur/, STORE renames the files with flags, so a retry must find
        a delivered file under another name."""
        c = None
        while not self.stop.is_set():
            try:
                if c is None:
                    c = self.m.imap_login("bob@example.org",
                                          timeout=5 * SLOW)
                    if c.select("INBOX").status != "OK":
                        raise t.IMAPError("SELECT failed")
                c.command("NOOP")
                c.command("STORE 1:* +FLAGS.SILENT (\\Seen)")
                time.sleep(0.05)
            except (OSError, t.IMAPError, ValueError):
                if c is not None:
                    c.close()
                c = None
                time.sleep(0.1)
        if c is not None:
            c.close()


def message_ids(md):
    """Message-ID of every file of a Maildir (new/ and cur/)."""
    out = []
    for p in md.files("new") + md.files("cur"):
        try:
            with open(p, "rb") as f:
                out.append(t.header_value(f.read(4096), "Message-ID"))
        except FileNotFoundError:
            pass
    return out


def random_kills(m, rnd):
    """Part 1."""
    m.start(START)
    load = Load(m)
    threads = [threading.Thread(target=load.sender, args=(n,), daemon=True)
               for n in range(SESSIONS)]
    threads.append(threading.Thread(target=load.mover, daemon=True))
    for th in threads:
        th.start()
    # Random instants spread over the load: after a random number of
    # messages, plus a random fraction of a message's time.
    marks = sorted(rnd.sample(range(TOTAL // 50, TOTAL - TOTAL // 50),
                              KILLS))
    crashes = 0
    end = time.monotonic() + LOAD_DEADLINE
    t0 = time.monotonic()
    for k in marks:
        t.wait_until(lambda: load.next >= k or time.monotonic() > end, 60,
                     interval=0.005)
        if time.monotonic() > end:
            break
        time.sleep(rnd.uniform(0, 0.03))
        m.kill9_group()
        crashes += 1
        time.sleep(rnd.uniform(0, 0.1))
        m.start(START)
    senders = threads[:-1]
    for th in senders:
        th.join(max(0.1, end - time.monotonic()))
    load_time = time.monotonic() - t0
    t.ok(not any(th.is_alive() for th in senders),
         "the load ended within %.0f s" % LOAD_DEADLINE)
    load.stop.set()
    with load.lock:
        acked = dict(load.acked)
    t.is_(crashes, KILLS, "maild's process group was killed %d times"
          % KILLS)
    t.ok(len(acked) > TOTAL // 2, "most messages were acknowledged "
         "(%d of %d)" % (len(acked), TOTAL))

    # Deliveries of everything acknowledged, and nothing left queued.
    mds = {u: m.maildir(u) for u in ("alice", "bob")}
    want = {u: {x for x, b in acked.items() if u in b} for u in mds}

    def drained():
        if m.queue_entries()["queue"]:
            return False
        return all(want[u] <= set(message_ids(mds[u])) for u in mds)
    t.ok(t.wait_until(drained, DRAIN_DEADLINE, interval=0.2),
         "the queue drained after the last restart")
    for th in threads:
        th.join(5)
    t.ok(m.stop(), "maild stops cleanly after the load")

    lost = dups = files = 0
    unacked = 0
    for u, md in mds.items():
        ids = message_ids(md)
        files += len(ids)
        counts = {}
        for x in ids:
            counts[x] = counts.get(x, 0) + 1
        lost_u = sorted(want[u] - set(counts))
        dup_u = sorted(x for x, n in counts.items() if n > 1)
        lost += len(lost_u)
        dups += sum(counts[x] - 1 for x in dup_u)
        unacked += len([x for x in counts if x not in acked])
        if lost_u:
            t.diag("%s: lost %s" % (u, lost_u[:10]))
        if dup_u:
            t.diag("%s: delivered more than once: %s" % (u, dup_u[:10]))
    expected = sum(len(w) for w in want.values())
    t.diag("random kills: %d crashes, %d messages sent (%d acknowledged, "
           "%d sessions broken by the kills), %d deliveries expected, %d "
           "files, %d duplicates, %d lost, %d delivered without a 250, "
           "%.1f s" % (crashes, load.next, len(acked), load.errors,
                       expected, files, dups, lost, unacked, load_time))
    t.is_(lost, 0, "no acknowledged message lost")
    t.is_(dups, 0, "no message delivered twice to a mailbox")
    q = m.queue_entries()
    t.is_(q["corrupt"], [], "no envelope corrupted by the kills")
    t.is_(q["incoming"], [], "incoming/ purged")


def held_messages(m, ids):
    """Send ids to alice while her tmp/ is read-only: they stay queued.
    Returns {Message-ID: evpid}."""
    md = m.maildir("alice")
    tmp = os.path.join(md.path, "tmp")
    mode = os.stat(tmp).st_mode & 0o7777
    os.chmod(tmp, 0o555)
    for x in ids:
        t.is_(m.deliver(t.make_message(x)), 250, "%s accepted" % x)
    t.wait_until(lambda: len(m.queue_entries()["queue"]) >= len(ids), 5)
    qdir = os.path.join(m.spool, "queue")
    out = {}
    for d in os.listdir(qdir):
        with open(os.path.join(qdir, d, "message"), "rb") as f:
            mid = t.header_value(f.read(), "Message-ID")
        evs = [e for e in os.listdir(os.path.join(qdir, d)) if len(e) == 16]
        if len(evs) == 1:
            out[mid] = evs[0]
    return out, tmp, mode


def file_of(md, evpid):
    """The file of Maildir md whose name carries envelope evpid."""
    for p in md.files("new") + md.files("cur"):
        if ("E%s." % evpid) in os.path.basename(p):
            return p
    return None


def crash_states(m):
    """Part 2: envelopes put back as a crash between the Maildir link and
    the envelope removal leaves them."""
    m.start(START)
    md = m.maildir("alice")
    names = {k: "<c49-%s.%d@client.test>" % (k, os.getpid())
             for k in ("flagged", "marked", "expunged")}
    evp, tmp, mode = held_messages(m, [n[1:-1] for n in names.values()])
    t.is_(sorted(evp), sorted(names.values()),
          "3 messages held in the queue, one envelope each")
    m.stop()
    saved = os.path.join(m.dir, "saved-queue")
    shutil.rmtree(saved, ignore_errors=True)
    subprocess.run(["cp", "-a", os.path.join(m.spool, "queue"), saved],
                   check=True)
    os.chmod(tmp, mode)
    m.start(START)
    t.ok(t.wait_until(lambda: set(names.values()) <= set(message_ids(md))
                      and not m.queue_entries()["queue"], 10 * SLOW),
         "delivered once tmp/ is writable again")
    m.stop()
    files = {k: file_of(md, evp[n]) for k, n in names.items()}
    t.ok(all(files.values()), "each file name carries its envelope id")
    # Read and flagged since: in cur/, with flags, as IMAP leaves it.
    p = files["flagged"]
    os.rename(p, os.path.join(md.path, "cur", os.path.basename(p) +
                              ":2,FS"))
    # Marked delivered by deliver, then expunged by the user.
    marks = os.path.join(m.vmail, MARKS)
    t.ok(os.path.isdir(marks), "deliver keeps its marks in %s" % marks)
    mark = os.path.join(marks, evp[names["marked"]])
    with open(mark, "w"):
        pass
    st = os.stat(marks)
    os.chown(mark, st.st_uid, st.st_gid)
    os.unlink(files["marked"])
    # Expunged without a mark: the window documented in maild(8).
    os.unlink(files["expunged"])
    # The envelopes come back, as if the crash had come before the
    # queue removed them.
    qdir = os.path.join(m.spool, "queue")
    for d in os.listdir(saved):
        subprocess.run(["cp", "-a", os.path.join(saved, d), qdir],
                       check=True)
    m.start(START)
    t.ok(t.wait_until(lambda: not m.queue_entries()["queue"], 10 * SLOW),
         "the restored envelopes are done with")
    t.wait_until(lambda: names["expunged"] in message_ids(md), 5 * SLOW)
    m.stop()
    ids = message_ids(md)
    t.is_(ids.count(names["flagged"]), 1, "a delivered file moved to cur/ "
          "and renamed with flags is found: not delivered again")
    t.is_(ids.count(names["marked"]), 0, "a file expunged after deliver "
          "marked its envelope delivered is not delivered again")
    t.is_(ids.count(names["expunged"]), 1, "expunged before the mark (the "
          "documented window): delivered again, once")
    t.ok(not os.path.exists(mark), "the mark is removed once the envelope "
         "is gone")
    log = m.log_text()
    t.like(log, r"%s .*already delivered" % evp[names["marked"]],
           "deliver logs the envelope it found delivered")


def main():
    seed = int(os.environ.get("MAILD_TEST_SEED") or
               random.SystemRandom().randrange(1 << 30))
    t.diag("seed %d" % seed)
    m = t.Maild(own_group=True, imap=True)
    t.section(random_kills, m, random.Random(seed))
    t.section(crash_states, m)


t.run(main)
