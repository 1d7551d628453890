#!/usr/bin/env python3
# Crash consistency of the IMAP state (issue 10): imaplib clients APPEND,
# STORE flags, COPY, MOVE and EXPUNGE in folders of their own (one also
# MOVEs mail that SMTP keeps delivering to the INBOX), and maild's whole
# process group is SIGKILLed at random instants.  After each restart,
# with the clients paused, every folder is checked against what the
# clients were told before the crash:
#   - no message lost that a client was told was saved (APPEND got
#     OK [APPENDUID ...], COPY/MOVE got OK [COPYUID ...]), none expunged
#     by an acknowledged EXPUNGE or MOVE back, no duplicate, acknowledged
#     flags kept;
#   - a UID never names another message than the one a client saw under
#     it, every known message keeps its UID, and UIDNEXT stays above every
#     UID handed out;
#   - UIDVALIDITY unchanged;
#   - no state file half-written by the killed process (maild-uidlist,
#     maild-cache, dovecot-keywords written to <name>.tmp.<pid> and
#     renamed) is left in a folder that has been opened since.
# An operation in flight at the kill may or may not have happened; its
# messages are only checked for not being lost (a MOVE's message is in
# one of the two folders) and for UIDs.  The kills go on until each
# kind of operation was caught in flight (at least MIN_KILLS, at most
# MAX_KILLS or DEADLINE seconds).
#
# MAILD_TEST_SEED=<n> repeats a run's choices.  Under valgrind
# (MAILD=scripts/valgrind-maild) there are fewer kills and longer waits.
import imaplib
import os
import random
import re
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

SLOW = 6 if "valgrind" in os.environ.get("MAILD", "") else 1
WORKERS = 3
MIN_KILLS = 12 // SLOW
# Room to go on until every kind of operation was caught in flight: a
# loaded machine (CI) once ran out of kills before it caught them all.
# A run stops as soon as it has, after MIN_KILLS.
MAX_KILLS = 60 // SLOW
DEADLINE = 140.0 * SLOW	# seconds for all the kills and checks
START = 10.0 * SLOW	# seconds for maild to greet
FOLDER_MAX = 25		# messages a folder grows to before it shrinks
KINDS = ("APPEND", "STORE", "COPY", "MOVE", "EXPUNGE")
ERRORS = (imaplib.IMAP4.error, OSError, EOFError, ssl.SSLError)
USER = "alice@example.org"


class Model:
    """What the clients were told, shared by all threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.where = {}		# Message-ID -> {folder: UID or None}
        self.flags = {}		# (folder, Message-ID) -> set of flags
        self.seen = {}		# (folder, UIDVALIDITY, UID) -> Message-ID
        self.uv = {}		# folder -> UIDVALIDITY
        self.uncertain = set()	# (folder, Message-ID) of in-flight ops
        self.flags_unsure = set()	# (folder, Message-ID): STORE in flight
        self.moving = {}	# Message-ID -> (from, to): MOVE in flight
        self.dups = set()	# (folder, Message-ID) twice, reported
        self.gone = set()	# (folder, Message-ID) acknowledged away
        self.unacked = set()	# SMTP messages without a 250
        self.caught = {}	# kind -> times in flight at a kill
        self.anomalies = []	# answers that contradict the model
        self.round = 0
        self.ops = 0

    def saw(self, folder, uid, msgid):
        key = (folder, self.uv[folder], uid)
        old = self.seen.setdefault(key, msgid)
        if old != msgid:
            self.anomalies.append("%s UID %d was %s, now %s" % (
                folder, uid, old, msgid))


class Worker:
    def __init__(self, n, m, model, resume, rnd):
        self.n = n
        self.m = m
        self.model = model
        self.resume = resume
        self.rnd = rnd
        self.a = "w%da" % n
        self.b = "w%db" % n
        self.M = None
        self.selected = None
        self.pending = None	# (kind, [(folder, Message-ID)], move)
        self.parked_round = -1
        self.stop = False
        self.count = 0

    # -- plumbing

    def connect(self):
        self.M = self.m.imaplib(USER, timeout=5 * SLOW)
        self.selected = None

    def drop(self):
        if self.M is not None:
            try:
                self.M.shutdown()
            except ERRORS:
                pass
        self.M = None
        self.selected = None

    def select(self, folder):
        if self.selected != folder:
            typ, _ = self.M.select(folder)
            if typ != "OK":
                raise imaplib.IMAP4.error("SELECT %s: %s" % (folder, typ))
            self.M.response("UIDVALIDITY")
            self.selected = folder

    def new_id(self):
        self.count += 1
        return "<i50-%d-%d.%d@client.test>" % (self.n, self.count,
                                                os.getpid())

    def mine(self, folder, notin=None):
        """(UID, Message-ID) of the settled messages of folder (and not
        in folder notin)."""
        with self.model.lock:
            return sorted((d[folder], x) for x, d in self.model.where.items()
                          if d.get(folder) is not None and
                          (folder, x) not in self.model.uncertain and
                          (notin is None or notin not in d))

    def copyuid(self):
        _, data = self.M.response("COPYUID")
        if not data or data[-1] is None:
            return None
        f = data[-1].decode().split()
        if len(f) != 3 or "," in f[1] or ":" in f[1]:
            return None
        return int(f[0]), int(f[1]), int(f[2])

    def anomaly(self, what):
        with self.model.lock:
            self.model.anomalies.append("worker %d: %s" % (self.n, what))

    def run(self):
        while not self.stop:
            if not self.resume.is_set():
                self.drop()
                with self.model.lock:
                    self.parked_round = self.model.round
                self.resume.wait()
                continue
            try:
                if self.M is None:
                    self.connect()
                self.one()
                with self.model.lock:
                    self.model.ops += 1
            except ERRORS:
                with self.model.lock:
                    if self.pending is not None:
                        kind, pairs, move = self.pending
                        if kind == "STORE":
                            self.model.flags_unsure.update(pairs)
                        else:
                            self.model.uncertain.update(pairs)
                        if move is not None:
                            self.model.moving[pairs[0][1]] = move
                        self.model.caught[kind] = \
                            self.model.caught.get(kind, 0) + 1
                self.pending = None
                self.drop()
                time.sleep(0.02)
        self.drop()

    # -- operations

    def one(self):
        # Mostly in folder a, which stays selected meanwhile: UIDs
        # handed out and expunged within one selection must survive.
        na, nb = len(self.mine(self.a)), len(self.mine(self.b))
        choices = ["append"] * (4 if na < FOLDER_MAX else 0)
        if na:
            choices += ["store"] * 2 + ["expunge_a"] * 2 + \
                ["copy", "move"] * (1 if nb < FOLDER_MAX else 0)
        if nb:
            choices += ["expunge_b"] * (3 if nb >= FOLDER_MAX else 1)
        if self.n == 0:
            choices += ["inbox"] * 2
        if not choices:
            choices = ["append"]
        getattr(self, "op_" + self.rnd.choice(choices))()

    def op_append(self):
        x = self.new_id()
        msg = t.make_message(x[1:-1], subject="append %s" % x)
        self.pending = ("APPEND", [(self.a, x)], None)
        typ, data = self.M.append(self.a, None, None, msg)
        self.pending = None
        m = re.match(rb"\[APPENDUID (\d+) (\d+)\]", data[0] or b"")
        if typ != "OK" or not m:
            self.anomaly("APPEND: %s %s" % (typ, data))
            with self.model.lock:
                self.model.uncertain.add((self.a, x))
            return
        uv, uid = int(m.group(1)), int(m.group(2))
        with self.model.lock:
            if uv != self.model.uv[self.a]:
                self.model.anomalies.append("APPENDUID %d in %s of "
                                            "UIDVALIDITY %d" % (
                                                uv, self.a,
                                                self.model.uv[self.a]))
            self.model.where[x] = {self.a: uid}
            self.model.flags[(self.a, x)] = set()
            self.model.saw(self.a, uid, x)

    def pick(self, folder, notin=None):
        have = self.mine(folder, notin)
        return self.rnd.choice(have) if have else (None, None)

    def op_store(self):
        self.select(self.a)
        uid, x = self.pick(self.a)
        if uid is None:
            return
        flag = self.rnd.choice(["\\Flagged", "\\Seen", "\\Answered",
                                "$Label1"])
        self.pending = ("STORE", [(self.a, x)], None)
        typ, _ = self.M.uid("STORE", str(uid), "+FLAGS.SILENT",
                            "(%s)" % flag)
        self.pending = None
        if typ != "OK":
            self.anomaly("STORE %d: %s" % (uid, typ))
            return
        with self.model.lock:
            self.model.flags.setdefault((self.a, x), set()).add(flag)

    def op_copy(self, move=False):
        kind = "MOVE" if move else "COPY"
        self.select(self.a)
        uid, x = self.pick(self.a, notin=self.b)
        if uid is None:
            return
        self.M.response("COPYUID")
        self.pending = (kind, [(self.b, x)] + ([(self.a, x)] if move
                                                else []),
                        (self.a, self.b) if move else None)
        typ, _ = self.M.uid(kind, str(uid), self.b)
        self.pending = None
        cu = self.copyuid()
        if typ != "OK" or cu is None or cu[1] != uid:
            self.anomaly("%s %d: %s %s" % (kind, uid, typ, cu))
            with self.model.lock:
                self.model.uncertain.update([(self.a, x), (self.b, x)])
            return
        with self.model.lock:
            if cu[0] != self.model.uv[self.b]:
                self.model.anomalies.append("COPYUID UIDVALIDITY %d for "
                                            "%s" % (cu[0], self.b))
            d = self.model.where.setdefault(x, {})
            d[self.b] = cu[2]
            fl = set(self.model.flags.get((self.a, x), set()))
            self.model.flags[(self.b, x)] = fl
            self.model.saw(self.b, cu[2], x)
            if move:
                d.pop(self.a, None)
                self.model.flags.pop((self.a, x), None)
                self.model.gone.add((self.a, x))

    def op_move(self):
        self.op_copy(move=True)

    def op_expunge_a(self):
        self.op_expunge(self.a)

    def op_expunge_b(self):
        self.op_expunge(self.b)

    def op_expunge(self, f):
        self.select(f)
        uid, x = self.pick(f)
        if uid is None:
            return
        self.pending = ("STORE", [(f, x)], None)
        typ, _ = self.M.uid("STORE", str(uid), "+FLAGS.SILENT",
                            "(\\Deleted)")
        if typ != "OK":
            self.pending = None
            self.anomaly("STORE \\Deleted %d: %s" % (uid, typ))
            return
        with self.model.lock:
            self.model.flags.setdefault((f, x), set()).add("\\Deleted")
        self.pending = ("EXPUNGE", [(f, x)], None)
        typ, _ = self.M.uid("EXPUNGE", str(uid))
        self.pending = None
        if typ != "OK":
            self.anomaly("UID EXPUNGE %d: %s" % (uid, typ))
            return
        with self.model.lock:
            self.model.where.get(x, {}).pop(f, None)
            self.model.flags.pop((f, x), None)
            self.model.gone.add((f, x))

    def op_inbox(self):
        """Read a delivered message in the INBOX and MOVE it here."""
        self.select("INBOX")
        typ, data = self.M.uid("SEARCH", "ALL")
        uids = [int(u) for u in (data[0] or b"").split()] if typ == "OK" \
            else []
        if not uids:
            return
        uid = self.rnd.choice(uids)
        typ, data = self.M.uid("FETCH", str(uid),
                               "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if typ != "OK" or not data or not isinstance(data[0], tuple):
            return		# expunged meanwhile: nobody else does
        x = t.header_value(data[0][1], "Message-ID")
        with self.model.lock:
            self.model.saw("INBOX", uid, x)
            # Not when a MOVE cut short by a crash left it here too.
            if (x in self.model.where and "INBOX" in self.model.where[x]
                    and self.a not in self.model.where[x]
                    and ("INBOX", x) not in self.model.uncertain):
                self.model.where[x]["INBOX"] = uid
            else:
                return	# not settled yet: leave it
        self.M.response("COPYUID")
        self.pending = ("MOVE", [("INBOX", x), (self.a, x)],
                        ("INBOX", self.a))
        typ, _ = self.M.uid("MOVE", str(uid), self.a)
        self.pending = None
        cu = self.copyuid()
        if typ != "OK" or cu is None or cu[1] != uid:
            self.anomaly("MOVE INBOX %d: %s %s" % (uid, typ, cu))
            with self.model.lock:
                self.model.uncertain.update([("INBOX", x), (self.a, x)])
            return
        with self.model.lock:
            d = self.model.where.setdefault(x, {})
            d.pop("INBOX", None)
            d[self.a] = cu[2]
            self.model.flags[(self.a, x)] = set()
            self.model.saw(self.a, cu[2], x)
            self.model.gone.add(("INBOX", x))


class Feeder:
    """SMTP mail for the INBOX while the clients work."""

    def __init__(self, m, model, resume):
        self.m = m
        self.model = model
        self.resume = resume
        self.parked_round = -1
        self.stop = False
        self.count = 0

    def run(self):
        c = None
        while not self.stop:
            if not self.resume.is_set():
                if c is not None:
                    c.close()
                c = None
                with self.model.lock:
                    self.parked_round = self.model.round
                self.resume.wait()
                continue
            self.count += 1
            x = "<s50-%d.%d@client.test>" % (self.count, os.getpid())
            try:
                if c is None:
                    c = self.m.connect(timeout=5 * SLOW)
                    c.ehlo()
                with self.model.lock:
                    self.model.unacked.add(x)
                _, _, _, fr = c.send_message("sender@client.test", [USER],
                                             t.make_message(x[1:-1]))
                if fr is not None and fr.code == 250:
                    with self.model.lock:
                        self.model.unacked.discard(x)
                        self.model.where[x] = {"INBOX": None}
                        self.model.flags[("INBOX", x)] = set()
            except (OSError, t.SMTPError):
                if c is not None:
                    c.close()
                c = None
            time.sleep(0.03)
        if c is not None:
            c.close()


def folders():
    return ["INBOX"] + ["w%d%s" % (n, s) for n in range(WORKERS)
                        for s in "ab"]


def actual_state(m):
    """{folder: (UIDVALIDITY, UIDNEXT, {UID: (Message-ID, flags)})}."""
    out = {}
    c = m.imap_login(USER, timeout=10 * SLOW)
    try:
        for f in folders():
            r = c.select(f)
            if r.status != "OK":
                raise t.IMAPError("SELECT %s: %s" % (f, r.text))
            uv = next(int(x) for x in re.findall(
                rb"\[UIDVALIDITY (\d+)\]", b"\n".join(r.untagged)))
            r, fr = c.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS "
                            "(MESSAGE-ID)])", uid=True)
            msgs = {}
            for item in fr.values():
                body = next((v for k, v in item.items()
                             if k.startswith("BODY[")), b"")
                fl = {x for x in item.get("FLAGS", [])
                      if x.upper() != "\\RECENT"}
                msgs[int(item["UID"])] = (t.header_value(body + b"\r\n",
                                                         "Message-ID"), fl)
            r = c.command("STATUS %s (UIDNEXT)" % t.imap_quote(f))
            s = t.status_response(r.untagged) or {}
            out[f] = (uv, s.get("UIDNEXT", 0), msgs)
    finally:
        c.logout()
    return out


STALE_RE = re.compile(r"^(maild-uidlist|maild-cache|dovecot-keywords)"
                      r"\.tmp\.\d+$")


def tmp_files(m):
    out = set()
    for f in folders():
        d = m.mailbox_dir(f)
        out |= {os.path.join(f, x) for x in os.listdir(d)
                if STALE_RE.match(x)}
    return out


def stale_files(m):
    """State files a killed process was writing, in every folder.  The
    live imap process writes its own <name>.tmp.<pid> for a moment (the
    cache when the check's LOGOUT closes a folder): only a file still
    there after that settles is left over."""
    first = left = tmp_files(m)
    end = time.monotonic() + 3 * SLOW
    while left and time.monotonic() < end:
        time.sleep(0.2)
        left &= tmp_files(m)
    if first - left:
        t.diag("being written at the check, gone after: %s" %
               sorted(first - left))
    return sorted(left)


def check(model, state, k, totals):
    """Compare the folders after crash k with the model; then take the
    folders as they are as the model for the next round."""
    bad = []
    with model.lock:
        for f, (uv, uidnext, msgs) in state.items():
            if uv != model.uv[f]:
                bad.append("%s: UIDVALIDITY %d, was %d" % (f, uv,
                                                           model.uv[f]))
                continue
            ids = {}
            for uid, (x, _) in msgs.items():
                ids.setdefault(x, []).append(uid)
                old = model.seen.get((f, uv, uid))
                if old is not None and old != x:
                    bad.append("%s: UID %d reused: %s, was %s" % (
                        f, uid, x, old))
                    totals["reused"] += 1
            top = max([u for (g, v, u) in model.seen if g == f and v == uv]
                      or [0])
            if uidnext <= top:
                bad.append("%s: UIDNEXT %d but UID %d was handed out" % (
                    f, uidnext, top))
            for x, uids in ids.items():
                if len(uids) > 1 and (f, x) not in model.uncertain and \
                        (f, x) not in model.dups:
                    model.dups.add((f, x))
                    bad.append("%s: %s %d times (UIDs %s)" % (
                        f, x, len(uids), uids))
                    totals["duplicates"] += 1
                want = model.where.get(x, {})
                if (f not in want and (f, x) not in model.uncertain and
                        not (f == "INBOX" and x in model.unacked)):
                    bad.append("%s: %s is there (UIDs %s) but should not "
                               "be%s" % (f, x, uids, " (it was expunged "
                                         "or moved)" if (f, x) in
                                         model.gone else ""))
                    totals["resurrected"] += 1
            for x, d in model.where.items():
                if f not in d or (f, x) in model.uncertain:
                    continue
                if x not in ids:
                    bad.append("%s: %s lost (UID %s)" % (f, x, d[f]))
                    totals["lost"] += 1
                    continue
                if d[f] is not None and d[f] not in ids[x]:
                    bad.append("%s: %s changed UID %d -> %s" % (
                        f, x, d[f], ids[x]))
                    totals["renumbered"] += 1
                fl = model.flags.get((f, x), set())
                have = set().union(*(msgs[u][1] for u in ids[x]))
                if not fl <= have and (f, x) not in model.flags_unsure:
                    bad.append("%s: %s lost flags %s" % (
                        f, x, sorted(fl - have)))
                    totals["flags"] += 1
        # A MOVE in flight: its message is in one of the two folders.
        for x, (src, dst) in model.moving.items():
            if not any(y == x for g in (src, dst)
                       for (y, _) in state[g][2].values()):
                bad.append("%s: lost by a MOVE from %s to %s in flight" % (
                    x, src, dst))
                totals["lost"] += 1
        # The next round starts from the folders as they are.
        where = {}
        flags = {}
        for f, (uv, _, msgs) in state.items():
            for uid, (x, fl) in msgs.items():
                where.setdefault(x, {})[f] = uid
                flags[(f, x)] = set(fl)
                model.seen.setdefault((f, uv, uid), x)
        for x in model.where:
            if x not in where and x.startswith("<s50-") and \
                    "INBOX" in model.where[x] and \
                    model.where[x]["INBOX"] is None:
                where[x] = {"INBOX": None}	# still queued
        model.where = where
        model.flags = flags
        model.gone = set()
        model.uncertain = set()
        model.flags_unsure = set()
        model.moving = {}
        model.unacked = set()
    for b in bad[:20]:
        t.diag("after crash %d: %s" % (k, b))
    return len(bad)


def setup(m, model):
    c = m.imap_login(USER, timeout=10 * SLOW)
    try:
        for f in folders():
            if f != "INBOX":
                c.command("CREATE %s" % f)
            r = c.select(f)
            model.uv[f] = next(int(x) for x in re.findall(
                rb"\[UIDVALIDITY (\d+)\]", b"\n".join(r.untagged)))
    finally:
        c.logout()


def main():
    seed = int(os.environ.get("MAILD_TEST_SEED") or
               random.SystemRandom().randrange(1 << 30))
    t.diag("seed %d" % seed)
    rnd = random.Random(seed)
    m = t.Maild(own_group=True, imap=True)
    m.start(START)
    model = Model()
    setup(m, model)
    resume = threading.Event()
    resume.set()
    workers = [Worker(n, m, model, resume, random.Random(rnd.random()))
               for n in range(WORKERS)]
    feeder = Feeder(m, model, resume)
    parties = workers + [feeder]
    threads = [threading.Thread(target=p.run, daemon=True) for p in parties]
    for th in threads:
        th.start()

    totals = dict.fromkeys(("lost", "reused", "renumbered", "duplicates",
                            "resurrected", "flags"), 0)
    crashes = problems = 0
    stale = set()
    end = time.monotonic() + DEADLINE
    while crashes < MAX_KILLS and time.monotonic() < end:
        if crashes >= MIN_KILLS and all(model.caught.get(k) for k in KINDS):
            break
        time.sleep(rnd.uniform(0.3, 0.9) * SLOW)
        m.kill9_group()
        crashes += 1
        with model.lock:
            model.round += 1
            rd = model.round
        resume.clear()
        if not t.wait_until(lambda: all(p.parked_round == rd
                                        for p in parties), 10 * SLOW):
            t.ok(False, "clients paused after crash %d" % crashes)
            break
        m.start(START)
        t.wait_until(lambda: not m.queue_entries()["queue"], 10 * SLOW,
                     interval=0.1)
        state = actual_state(m)
        problems += check(model, state, crashes, totals)
        left = stale_files(m)
        stale.update(left)
        if left:
            t.diag("after crash %d: left over: %s" % (crashes, left))
        resume.set()
    for p in parties:
        p.stop = True
    resume.set()
    for th in threads:
        th.join(10)

    caught = ", ".join("%s %d" % (k, model.caught.get(k, 0)) for k in KINDS)
    t.diag("%d crashes, %d IMAP operations, %d SMTP messages; in flight "
           "at the kills: %s; lost %d, UIDs reused %d, renumbered %d, "
           "duplicates %d, back after an expunge or move %d, flags lost "
           "%d, half-written state files left %d" % (
               crashes, model.ops, feeder.count, caught, totals["lost"],
               totals["reused"], totals["renumbered"], totals["duplicates"],
               totals["resurrected"], totals["flags"], len(stale)))
    t.ok(crashes >= MIN_KILLS, "maild's process group was killed %d times "
         "(at least %d)" % (crashes, MIN_KILLS))
    if SLOW == 1:
        t.ok(all(model.caught.get(k) for k in KINDS), "a kill came "
             "during each of %s" % ", ".join(KINDS))
    t.is_(problems, 0, "after every crash: nothing acknowledged lost, no "
          "UID reused or changed, UIDVALIDITY kept, flags kept")
    t.is_(model.anomalies, [], "no answer contradicted what the clients "
          "were told before")
    t.is_(len(stale), 0, "no half-written state file stays behind in a folder "
          "opened after the crash")
    t.ok(model.ops > 100 // SLOW ** 2, "the clients did work (%d operations)"
         % model.ops)
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
