#!/usr/bin/env python3
# IMAP search contexts, CONTEXT=SEARCH (RFC 5267, issue 14): the RFC's
# examples (CONTEXT hint, UPDATE with ADDTO / REMOVEFROM, "Tag reuse",
# NOUPDATE past the limit with the other return options still
# answered, CANCELUPDATE, PARTIAL with short and NIL answers); updates
# caused by a delivery over SMTP (after EXISTS, in IDLE), by another
# session's STORE and EXPUNGE (REMOVEFROM before the EXPUNGE, with the
# old numbers, and neither inside a FETCH), by our own STORE and APPEND;
# UID and sequence-number contexts, sequence sets in the criteria, an
# EXAMINEd mailbox; contexts dropped by SELECT / UNSELECT / CLOSE; bad
# input (unknown option, PARTIAL ranges, ALL with PARTIAL, CANCELUPDATE
# forms) answered BAD / NO with the session still usable; and a bounded
# random walk in which a client applying every update it is sent keeps
# the same results as a fresh SEARCH, for several contexts at once.
import os
import random
import re
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

CTX_MAX = 8     # IMAP_CTX_MAX in include/imap_session.h
REQUIRED_CAPS = ["ESEARCH", "CONTEXT=SEARCH"]
ESEARCH_RE = re.compile(rb'^\* ESEARCH \(TAG "([^"]*)"\)( UID)?(.*)$', re.I)


def expand(s):
    """Numbers of a sequence-set string, in its order."""
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.extend(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


def esearch(u):
    """(tag, uid, [(ITEM, value)]) of an ESEARCH response, or None."""
    m = ESEARCH_RE.match(u)
    if not m:
        return None
    v = t.imap_parse(m.group(3))
    items = [(str(v[i]).upper(), v[i + 1]) for i in range(0, len(v) - 1, 2)]
    return m.group(1).decode(), bool(m.group(2)), items


def updates(untagged, tag):
    """The ESEARCH update items (ADDTO / REMOVEFROM) for tag, in order."""
    out = []
    for u in untagged:
        e = esearch(u)
        if e and e[0] == tag:
            out.extend((k, v) for k, v in e[2] if k in ("ADDTO",
                                                          "REMOVEFROM"))
    return out


def item(untagged, tag, name):
    for u in untagged:
        e = esearch(u)
        if e and e[0] == tag:
            for k, v in e[2]:
                if k == name:
                    return v
    return None


def search_set(c, criteria, uid=False):
    """A fresh SEARCH: the set of numbers (UIDs with uid)."""
    r = c.command("%sSEARCH %s" % ("UID " if uid else "", criteria))
    nums = set()
    for u in r.find(rb"^\* SEARCH"):
        nums |= {int(x) for x in u.split()[2:] if x.isdigit()}
    return nums


class Model:
    """A client's copy of one context, kept as RFC 5267 says: ADDTO and
    REMOVEFROM applied in order, EXPUNGE renumbering a sequence-number
    context.  Every departure from the rules is noted in errors."""

    def __init__(self, tag, uid, initial):
        self.tag, self.uid = tag, uid
        self.res = set(initial)
        self.exists = None
        self.errors = []

    def feed(self, untagged):
        for u in untagged:
            m = re.match(rb"^\* (\d+) (EXISTS|EXPUNGE)$", u)
            if m and m.group(2) == b"EXISTS":
                self.exists = int(m.group(1))
            elif m:
                n = int(m.group(1))
                if self.exists is not None:
                    self.exists -= 1
                if not self.uid:
                    if n in self.res:
                        self.errors.append("%s: * %d EXPUNGE of a result "
                                           "before its REMOVEFROM"
                                           % (self.tag, n))
                    self.res = {x - 1 if x > n else x for x in self.res
                                if x != n}
            e = esearch(u)
            if not e or e[0] != self.tag:
                continue
            if e[1] != self.uid:
                self.errors.append("%s: UID marker wrong: %r" % (self.tag, u))
            for k, v in e[2]:
                if k not in ("ADDTO", "REMOVEFROM"):
                    continue
                if not isinstance(v, list) or len(v) != 2 or v[0] != "0":
                    self.errors.append("%s: bad %s %r" % (self.tag, k, v))
                    continue
                for x in expand(v[1]):
                    if k == "ADDTO":
                        if x in self.res:
                            self.errors.append("%s: ADDTO %d twice"
                                               % (self.tag, x))
                        if (not self.uid and self.exists is not None and
                                x > self.exists):
                            self.errors.append("%s: ADDTO %d before its "
                                               "EXISTS" % (self.tag, x))
                        self.res.add(x)
                    else:
                        if x not in self.res:
                            self.errors.append("%s: REMOVEFROM %d not in "
                                               "the result" % (self.tag, x))
                        self.res.discard(x)


def wait_tags(c, tags, timeout):
    """Responses read until an ESEARCH for each of tags came (or the
    time is up)."""
    seen = []
    end = time.monotonic() + timeout
    while any(not updates(seen, tg) for tg in tags):
        left = end - time.monotonic()
        if left <= 0:
            break
        seen += c.wait_for(rb"^\* ESEARCH", left)[1]
    return seen


def new_folder(c, name, subjects):
    r = c.command('CREATE "%s"' % name)
    t.is_(r.status, "OK", "CREATE %s" % name)
    for i, s in enumerate(subjects):
        c.command_literal('APPEND "%s"' % name, (
            "From: a@example.org\r\nSubject: %s\r\n\r\nbody %d\r\n"
            % (s, i)).encode(), plus=True)
    return c.select(name)


def uids_of(c):
    _, f = c.fetch("1:*", "(UID)")
    return [int(d["UID"]) for _, d in sorted(f.items())]


def capability(m):
    c = m.imap_login()
    caps = c.capabilities()
    missing = [x for x in REQUIRED_CAPS if x not in caps]
    if not t.is_(missing, [], "CAPABILITY has %s" % " ".join(REQUIRED_CAPS)):
        t.diag("CAPABILITY: %s" % " ".join(caps))
    t.ok("CONTEXT=SORT" in caps, "CONTEXT=SORT is advertised")
    r = c.command('CANCELUPDATE "x"')
    t.is_(r.status, "BAD", "CANCELUPDATE without a selected mailbox: BAD")
    c.logout()


def rfc_examples(m):
    a = m.imap_login()
    b = m.imap_login()
    new_folder(a, "rfc", ["one", "two", "three", "four", "five"])
    b.select("rfc")
    uids = uids_of(a)
    # 4.2: the CONTEXT hint changes nothing but is accepted.
    r = a.command("SEARCH RETURN (CONTEXT COUNT) UNDELETED UNKEYWORD $Junk",
                  tag="A01")
    t.is_(r.status, "OK", "4.2 A01 SEARCH RETURN (CONTEXT COUNT): OK")
    t.is_(item(r.untagged, "A01", "COUNT"), "5", "... * ESEARCH COUNT 5")
    r = a.command("SEARCH RETURN (CONTEXT) ALL", tag="A00")
    t.is_(item(r.untagged, "A00", "ALL"), "1:5",
          "RETURN (CONTEXT) alone answers ALL")
    # 4.3: a UID context of deleted $Junk messages.
    r = a.command("UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk",
                  tag="B01")
    t.is_(r.status, "OK", "4.3 B01 UID SEARCH RETURN (UPDATE COUNT): OK")
    e = [esearch(u) for u in r.untagged if esearch(u)]
    t.is_(e, [("B01", True, [("COUNT", "0")])],
          "... * ESEARCH (TAG \"B01\") UID COUNT 0")
    b.command("UID STORE %d,%d +FLAGS (\\Deleted $Junk)"
              % (uids[1], uids[2]))
    r = a.command("NOOP")
    t.is_(updates(r.untagged, "B01"),
          [("ADDTO", ["0", "%d:%d" % (uids[1], uids[2])])],
          "another session marks two: ADDTO (0 %d:%d)" % (uids[1], uids[2]))
    r = a.command("UID SEARCH RETURN (UPDATE) ALL", tag="B01")
    t.is_(r.status, "BAD", "4.3: UPDATE again with tag B01: BAD")
    t.like(r.raw, rb"Tag reuse", "... B01 BAD Tag reuse")
    # 4.3.4: an expunge: REMOVEFROM before the EXPUNGE it goes with.
    b.command("UID EXPUNGE %d" % uids[1])
    r = a.command("NOOP")
    i_rm = [i for i, u in enumerate(r.untagged) if b"REMOVEFROM" in u]
    i_ex = [i for i, u in enumerate(r.untagged) if
            re.match(rb"^\* 2 EXPUNGE$", u)]
    t.is_(updates(r.untagged, "B01"),
          [("REMOVEFROM", ["0", str(uids[1])])],
          "expunge: * ESEARCH (TAG \"B01\") UID REMOVEFROM (0 %d)" % uids[1])
    t.ok(i_rm and i_ex and i_rm[0] < i_ex[0],
         "... sent before * 2 EXPUNGE")
    # 4.3.1: past the limit, NOUPDATE, and COUNT still answered.
    made = []
    for i in range(2, CTX_MAX + 1):
        r = a.command("SEARCH RETURN (UPDATE) UNSEEN", tag="B%02d" % i)
        made.append(r.status == "OK" and not r.find(rb"NOUPDATE"))
    t.ok(all(made), "contexts 2 .. %d: OK, no NOUPDATE" % CTX_MAX)
    r = a.command("UID SEARCH RETURN (UPDATE COUNT) KEYWORD $Junk",
                  tag="B99")
    t.ok(r.find(rb'^\* NO \[NOUPDATE "B99"\]'),
         "4.3.1: context %d: * NO [NOUPDATE \"B99\"]" % (CTX_MAX + 1))
    t.is_((r.status, item(r.untagged, "B99", "COUNT")), ("OK", "1"),
          "... the search is still answered (COUNT 1) with OK")
    b.command("UID STORE %d +FLAGS ($Junk)" % uids[0])
    r = a.command("NOOP")
    t.is_(updates(r.untagged, "B99"), [], "... and B99 gets no updates")
    # 4.3.5: CANCELUPDATE "B01".
    r = a.command('CANCELUPDATE "B01"', tag="B04")
    t.is_(r.status, "OK", '4.3.5 B04 CANCELUPDATE "B01": OK')
    b.command("UID STORE %d +FLAGS (\\Deleted)" % uids[0])
    r = a.command("NOOP")
    t.is_(updates(r.untagged, "B01"), [], "... no more updates for B01")
    r = a.command('CANCELUPDATE "B02" "B03"')
    t.is_(r.status, "OK", "CANCELUPDATE of two contexts: OK")
    r = a.command("SEARCH RETURN (UPDATE) ALL", tag="B01")
    t.ok(r.status == "OK" and not r.find(rb"NOUPDATE"),
         "after CANCELUPDATE the tag and a place are free again")
    # 4.4: PARTIAL, a window of the answer; NIL past its end.
    r = a.command("UID SEARCH RETURN (PARTIAL 1:2) ALL", tag="A02")
    t.is_(item(r.untagged, "A02", "PARTIAL"),
          ["1:2", "%d,%d" % (uids[0], uids[2])],
          "4.4 A02: UID PARTIAL (1:2 %d,%d)" % (uids[0], uids[2]))
    r = a.command("UID SEARCH RETURN (PARTIAL 3:500) ALL", tag="A03")
    t.is_(item(r.untagged, "A03", "PARTIAL"),
          ["3:500", "%d:%d" % (uids[3], uids[4])],
          "A03: a range past the end gives the results there are")
    r = a.command("UID SEARCH RETURN (PARTIAL 24000:24500) ALL", tag="A04")
    t.ok(r.find(rb'^\* ESEARCH \(TAG "A04"\) UID PARTIAL '
                rb'\(24000:24500 NIL\)$'),
         "A04: * ESEARCH (TAG \"A04\") UID PARTIAL (24000:24500 NIL)")
    r = a.command("SEARCH RETURN (PARTIAL 4:2 COUNT MIN) ALL", tag="A05")
    e = esearch(r.find(rb"ESEARCH")[0]) if r.find(rb"ESEARCH") else None
    t.ok(e is not None and dict(e[2]).get("PARTIAL") == ["2:4", "2:4"] and
         dict(e[2]).get("COUNT") == "4" and dict(e[2]).get("MIN") == "1",
         "PARTIAL 4:2 is 2:4, with COUNT and MIN beside it")
    a.logout()
    b.logout()


def delivery(m):
    a = m.imap_login()
    a.select("INBOX")
    r = a.command("SEARCH RETURN (UPDATE) SUBJECT ctxdelivery", tag="D1")
    t.is_(r.status, "OK", "INBOX: SEARCH RETURN (UPDATE) SUBJECT ...")
    r = a.command("UID SEARCH RETURN (UPDATE) SUBJECT ctxdelivery",
                  tag="D2")
    tag = a.next_tag()
    a.send(tag + " IDLE\r\n")
    t.like(a.response(), rb"^\+", "IDLE")
    code = m.deliver(t.make_message("ctx1@client.test",
                                    subject="ctxdelivery 1"))
    t.is_(code, 250, "a message for the context delivered over SMTP")
    t0 = time.monotonic()
    seen = wait_tags(a, ["D1", "D2"], 5)
    dt = time.monotonic() - t0
    ex = [int(x.split()[1]) for x in seen if re.match(rb"^\* \d+ EXISTS", x)]
    n = ex[-1] if ex else 0
    t.ok(n > 0, "in IDLE: * %d EXISTS" % n)
    t.is_(updates(seen, "D1"), [("ADDTO", ["0", str(n)])],
          "in IDLE: * ESEARCH (TAG \"D1\") ADDTO (0 %d)" % n)
    t.ok(len(updates(seen, "D2")) == 1, "in IDLE: the UID context too")
    i_ex = [i for i, x in enumerate(seen) if re.match(rb"^\* \d+ EXISTS", x)]
    i_add = [i for i, x in enumerate(seen) if b'"D1"' in x]
    t.ok(i_ex and i_add and i_ex[0] < i_add[0],
         "... the ADDTO comes after the EXISTS (RFC 5267 4.3.3)")
    t.diag("update %.3f s after the delivery" % dt)
    # A delivery that does not match: nothing for the contexts.
    m.deliver(t.make_message("ctx2@client.test", subject="other"))
    line, seen = a.wait_for(rb"^\* \d+ EXISTS", 5)
    t.ok(line is not None and not any(b"ESEARCH" in x for x in seen),
         "a delivery that does not match: EXISTS, no ESEARCH")
    a.send("DONE\r\n")
    r = a._collect(tag, 5)
    t.is_(r.status, "OK", "DONE: OK")
    t.ok(not any(b"ESEARCH" in x for x in r.untagged),
         "... nor at the end of IDLE")
    a.logout()


def other_session(m):
    a = m.imap_login()
    b = m.imap_login()
    new_folder(a, "other", ["s%d" % i for i in range(1, 7)])
    b.select("other")
    r = a.command("SEARCH RETURN (UPDATE ALL) SEEN", tag="S1")
    t.is_(item(r.untagged, "S1", "ALL"), None, "S1: nothing seen yet")
    mod = Model("S1", False, [])
    # another session's STORE, heard in IDLE
    tag = a.next_tag()
    a.send(tag + " IDLE\r\n")
    a.response()
    b.command("STORE 2,4:5 +FLAGS (\\Seen)")
    line, seen = a.wait_for(rb'^\* ESEARCH \(TAG "S1"\)', 3)
    t.is_(updates(seen, "S1"), [("ADDTO", ["0", "2,4:5"])],
          "b's STORE 2,4:5 +\\Seen: ADDTO (0 2,4:5) in IDLE")
    mod.feed(seen)
    b.command("STORE 4 -FLAGS (\\Seen)")
    line, seen = a.wait_for(rb'^\* ESEARCH \(TAG "S1"\)', 3)
    t.is_(updates(seen, "S1"), [("REMOVEFROM", ["0", "4"])],
          "b's STORE 4 -\\Seen: REMOVEFROM (0 4) in IDLE")
    mod.feed(seen)
    a.send("DONE\r\n")
    mod.feed(a._collect(tag, 5).untagged)
    # another session's EXPUNGE: held back in FETCH, STORE and SEARCH
    b.command("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.command("EXPUNGE")
    time.sleep(0.2)
    r = a.command("FETCH 1:* (FLAGS)")
    mod.feed(r.untagged)
    t.ok(not r.find(rb"EXPUNGE") and not r.find(rb"REMOVEFROM"),
         "a's FETCH: no EXPUNGE and no REMOVEFROM for it")
    r = a.command("STORE 1 +FLAGS (\\Seen)")
    mod.feed(r.untagged)
    t.is_(updates(r.untagged, "S1"), [("ADDTO", ["0", "1"])],
          "a's own STORE 1 +\\Seen: ADDTO (0 1) in its answer")
    t.ok(not r.find(rb"EXPUNGE"), "... with the expunge still held back")
    r = a.command("SEARCH RETURN (COUNT) SEEN")
    t.ok(not r.find(rb"EXPUNGE") and not r.find(rb"REMOVEFROM"),
         "a's SEARCH: no EXPUNGE, no REMOVEFROM")
    r = a.command("NOOP")
    mod.feed(r.untagged)
    t.is_(updates(r.untagged, "S1"), [("REMOVEFROM", ["0", "2"])],
          "NOOP: REMOVEFROM (0 2), the number before the expunge")
    t.ok([u for u in r.untagged if b"REMOVEFROM" in u or b"EXPUNGE" in u]
         == [b'* ESEARCH (TAG "S1") REMOVEFROM (0 2)', b"* 2 EXPUNGE"],
         "... then * 2 EXPUNGE")
    # a UID FETCH may report the expunge: the context goes first there too
    b.command("STORE 4 +FLAGS.SILENT (\\Deleted)")   # s5, seen
    b.command("EXPUNGE")
    r = a.command("UID FETCH 1:* (FLAGS)")
    mod.feed(r.untagged)
    t.ok([u for u in r.untagged if b"REMOVEFROM" in u or b"EXPUNGE" in u]
         == [b'* ESEARCH (TAG "S1") REMOVEFROM (0 4)', b"* 4 EXPUNGE"],
         "UID FETCH: REMOVEFROM (0 4) then * 4 EXPUNGE")
    # our own APPEND and EXPUNGE
    r = a.command_literal('APPEND "other" (\\Seen)',
                          b"Subject: mine\r\n\r\nx\r\n", plus=True)
    mod.feed(r.untagged)
    n = t.untagged_numbers(r.untagged, "EXISTS")
    t.ok(n and updates(r.untagged, "S1") == [("ADDTO", ["0", str(n[-1])])],
         "own APPEND (\\Seen): EXISTS then ADDTO (0 %s)" % (n or ["?"])[-1])
    r = a.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    r = a.command("EXPUNGE")
    mod.feed(r.untagged)
    t.is_(updates(r.untagged, "S1"), [("REMOVEFROM", ["0", "1"])],
          "own EXPUNGE: REMOVEFROM (0 1) before * 1 EXPUNGE")
    t.is_(mod.errors, [], "the client's copy followed every rule")
    t.is_(mod.res, search_set(a, "SEEN"),
          "the client's copy is a fresh SEARCH SEEN (%s)" % sorted(mod.res))
    a.logout()
    b.logout()


def seqset_criteria(m):
    a = m.imap_login()
    b = m.imap_login()
    new_folder(a, "seqs", ["q%d" % i for i in range(1, 7)])
    b.select("seqs")
    uids = uids_of(a)
    r = a.command("SEARCH RETURN (UPDATE ALL) 3:4,6 UNSEEN", tag="Q1")
    t.is_(item(r.untagged, "Q1", "ALL"), "3:4,6", "Q1: 3:4,6 UNSEEN")
    b.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.command("EXPUNGE")
    r = a.command("NOOP")
    t.ok(not updates(r.untagged, "Q1"),
         "expunge of message 1: the set still means the same messages")
    b.command("UID STORE %d,%d -FLAGS (\\Seen)" % (uids[1], uids[2]))
    b.command("UID STORE %d +FLAGS (\\Seen)" % uids[3])
    r = a.command("NOOP")
    t.is_(updates(r.untagged, "Q1"), [("REMOVEFROM", ["0", "3"])],
          "old message 4 (now 3) seen: REMOVEFROM (0 3); old 2, 3 "
          "unchanged (3 was in, 2 never)")
    b.command("UID STORE %d +FLAGS (\\Seen)" % uids[2])
    b.command("UID STORE %d -FLAGS (\\Seen)" % uids[2])
    r = a.command("NOOP")
    t.is_(updates(r.untagged, "Q1"), [], "seen and unseen again: nothing")
    c = a.command_literal('APPEND "seqs"', b"Subject: new\r\n\r\nx\r\n",
                          plus=True)
    t.is_(updates(c.untagged, "Q1"), [],
          "a new message is outside the set (6 was the last then)")
    a.logout()
    b.logout()


def examine_and_unselect(m):
    a = m.imap_login()
    b = m.imap_login()
    new_folder(b, "ro", ["r1", "r2", "r3"])
    r = a.select("ro", examine=True)
    t.is_(r.status, "OK", "EXAMINE ro")
    r = a.command("UID SEARCH RETURN (UPDATE) FLAGGED", tag="E1")
    t.ok(r.status == "OK" and not r.find(rb"NOUPDATE"),
         "UPDATE in a read-only mailbox: OK")
    b.command("STORE 2 +FLAGS (\\Flagged)")
    r = a.command("NOOP")
    t.is_(len(updates(r.untagged, "E1")), 1, "... and updates arrive")
    r = a.command("UNSELECT")
    t.is_(r.status, "OK", "UNSELECT")
    a.select("ro", examine=True)
    r = a.command('CANCELUPDATE "E1"')
    t.is_(r.status, "NO", "after UNSELECT the context is gone "
          "(CANCELUPDATE: NO)")
    r = a.command("UID SEARCH RETURN (UPDATE) FLAGGED", tag="E1")
    t.is_(r.status, "OK", "its tag can name a new context")
    a.select("INBOX")
    b.command("STORE 1 +FLAGS (\\Flagged)")
    a.select("ro")
    r = a.command("NOOP")
    t.ok(not r.find(rb"ESEARCH"), "SELECT elsewhere dropped it: no updates")
    r = a.command("SEARCH RETURN (UPDATE) DELETED", tag="E2")
    a.command("CLOSE")
    a.select("ro")
    r = a.command('CANCELUPDATE "E2"')
    t.is_(r.status, "NO", "CLOSE dropped it too")
    a.logout()
    b.logout()


def bad_input(m):
    a = m.imap_login()
    new_folder(a, "bad", ["b1", "b2", "b3"])
    for cmd, why in [
            ("SEARCH RETURN (FOO) ALL", "unknown return option"),
            ("SEARCH RETURN (PARTIAL) ALL", "PARTIAL without a range"),
            ("SEARCH RETURN (PARTIAL 0:5) ALL", "PARTIAL 0:5"),
            ("SEARCH RETURN (PARTIAL 5:0) ALL", "PARTIAL 5:0"),
            ("SEARCH RETURN (PARTIAL 1:4294967296) ALL",
             "PARTIAL past 2^32-1"),
            ("SEARCH RETURN (PARTIAL 99999999999999999999:1) ALL",
             "PARTIAL of 20 digits"),
            ("SEARCH RETURN (PARTIAL 1:*) ALL", "PARTIAL 1:*"),
            ("SEARCH RETURN (PARTIAL *:1) ALL", "PARTIAL *:1"),
            ("SEARCH RETURN (PARTIAL 1) ALL", "PARTIAL 1"),
            ("SEARCH RETURN (PARTIAL -1:-5) ALL", "PARTIAL -1:-5 "
             "(RFC 9394, PARTIAL not advertised)"),
            ('SEARCH RETURN (PARTIAL "1:5") ALL', "PARTIAL quoted"),
            ("SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL", "two PARTIALs"),
            ("SEARCH RETURN (PARTIAL 1:2 ALL) ALL", "PARTIAL with ALL"),
            ("SEARCH RETURN (UPDATE UPDATE) ALL", "UPDATE twice"),
            ("SEARCH RETURN (UPDATE (FLAGS)) ALL", "UPDATE with a list"),
            ("SEARCH RETURN (UPDATE) FOO", "UPDATE with a bad key"),
            ("CANCELUPDATE", "CANCELUPDATE without tags"),
            ("CANCELUPDATE x", "CANCELUPDATE with an atom"),
            ("CANCELUPDATE {1+}\r\nx", "CANCELUPDATE with a literal"),
            ("UID CANCELUPDATE \"x\"", "UID CANCELUPDATE")]:
        r = a.command(cmd)
        t.is_(r.status, "BAD", "%s: BAD" % why)
    r = a.command('CANCELUPDATE "nosuch"')
    t.is_(r.status, "NO", "CANCELUPDATE of an unknown tag: NO")
    r = a.command("SEARCH RETURN (UPDATE) ALL", tag="K1")
    r = a.command('CANCELUPDATE "K1" "nosuch"')
    t.is_(r.status, "NO", "one unknown tag among known ones: NO ...")
    r = a.command('CANCELUPDATE "K1"')
    t.is_(r.status, "OK", "... and none was cancelled")
    r = a.command("SEARCH RETURN (UPDATE) ALL", tag="K1")
    t.ok(r.status == "OK" and not r.find(rb"ESEARCH \(TAG \"K1\"\) ALL"),
         "RETURN (UPDATE) alone: no ALL in the answer")
    r = a.command("SEARCH RETURN (PARTIAL 2:2) ALL", tag="P1")
    t.is_(item(r.untagged, "P1", "PARTIAL"), ["2:2", "2"],
          "PARTIAL 2:2 answered after all that")
    t.is_(a.command("NOOP").status, "OK", "the session is still usable")
    a.logout()


def random_walk(m, rounds=60):
    rng = random.Random(72)
    a = m.imap_login()
    b = m.imap_login()
    subjects = ["special %d" % i if i % 3 == 0 else "plain %d" % i
                for i in range(30)]
    new_folder(a, "walk", subjects)
    b.select("walk")
    ctxs = [("W1", False, "SEEN"),
            ("W2", True, "FLAGGED NOT SEEN"),
            ("W3", False, "OR KEYWORD $Junk SUBJECT special"),
            ("W4", True, "SUBJECT special"),
            ("W5", False, "NOT DELETED"),
            ("W6", True, "ALL")]
    models = []
    for tag, uid, crit in ctxs:
        r = a.command("%sSEARCH RETURN (UPDATE ALL) %s"
                      % ("UID " if uid else "", crit), tag=tag)
        allv = item(r.untagged, tag, "ALL")
        mod = Model(tag, uid, expand(allv) if allv else [])
        mod.exists = len(subjects)
        models.append((mod, crit))
    flags = ["\\Seen", "\\Flagged", "$Junk", "\\Deleted"]

    count = {"ADDTO": 0, "REMOVEFROM": 0, "EXPUNGE": 0}

    def feed(untagged):
        for mod, _ in models:
            mod.feed(untagged)
            for k, _ in updates(untagged, mod.tag):
                count[k] += 1
        count["EXPUNGE"] += len([u for u in untagged
                                 if re.match(rb"^\* \d+ EXPUNGE$", u)])

    for i in range(rounds):
        op = rng.choice(["store", "store", "store", "expunge", "append",
                         "own"])
        n = len(b.fetch("1:*", "(UID)")[1]) or 1
        s = "%d:%d" % tuple(sorted((rng.randint(1, n), rng.randint(1, n))))
        if op == "store":
            b.command("STORE %s %sFLAGS.SILENT (%s)" % (
                s, rng.choice("+-"), rng.choice(flags)))
        elif op == "expunge":
            k = rng.randint(1, n)
            b.command("STORE %d:%d +FLAGS.SILENT (\\Deleted)"
                      % (k, min(n, k + rng.randint(0, 2))))
            b.command("EXPUNGE")
        elif op == "append":
            b.command_literal('APPEND "walk"', (
                "Subject: %s new %d\r\n\r\nx\r\n" % (
                    rng.choice(["special", "plain"]), i)).encode(),
                plus=True)
        else:
            r = a.command("STORE %s %sFLAGS (%s)" % (
                "1:%d" % rng.randint(1, 3), rng.choice("+-"),
                rng.choice(flags[:3])))
            feed(r.untagged)
        r = a.command(rng.choice(["NOOP", "FETCH 1 (FLAGS)",
                                  "UID FETCH 1:* (FLAGS)", "CHECK"]))
        feed(r.untagged)
    feed(a.command("NOOP").untagged)
    t.diag("%d rounds: %d ADDTO, %d REMOVEFROM, %d EXPUNGE"
           % (rounds, count["ADDTO"], count["REMOVEFROM"], count["EXPUNGE"]))
    t.ok(count["ADDTO"] > rounds / 2 and count["REMOVEFROM"] > rounds / 2
         and count["EXPUNGE"] > 0, "the walk changed the results often")
    for mod, crit in models:
        t.is_(mod.errors, [], "%s: every update followed the rules" % mod.tag)
        fresh = search_set(a, crit, mod.uid)
        if not t.is_(sorted(mod.res), sorted(fresh),
                     "%s (%s%s): after %d rounds, the client's copy is a "
                     "fresh SEARCH" % (mod.tag, "UID " if mod.uid else "",
                                       crit, rounds)):
            t.diag("copy - fresh: %s, fresh - copy: %s"
                   % (sorted(mod.res - fresh), sorted(fresh - mod.res)))
    a.logout()
    b.logout()


def sort_context(m):
    # CONTEXT=SORT (RFC 5267 4.3.3, 4.3.4): a SORT RETURN (UPDATE) keeps
    # its order; ADDTO and REMOVEFROM carry the context position (1 is
    # the first message in sort order), computed before the change for
    # removals; the client's copy replayed stays equal to a fresh SORT.
    a = m.imap_login()
    b = m.imap_login()
    new_folder(a, "sorted", ["delta", "bravo", "foxtrot", "alpha"])
    b.select("sorted")
    r = a.command("UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 ALL",
                  tag="S1")
    t.is_(r.status, "OK", "UID SORT RETURN (UPDATE ALL): OK")
    allv = item(r.untagged, "S1", "ALL")
    mine = expand(allv) if allv else []
    u = uids_of(a)
    t.is_(mine, [u[3], u[1], u[0], u[2]], "... in subject order")
    b.command_literal('APPEND "sorted"', b"From: a@example.org\r\n"
                      b"Subject: charlie\r\n\r\nx\r\n", plus=True)
    r = a.command("NOOP")
    up = updates(r.untagged, "S1")
    t.is_([k for k, _ in up], ["ADDTO"], "a new message: ADDTO")
    pos, uid = (list(up[0][1]) if up else [0, 0])[:2]
    t.is_((str(pos), str(uid)), ("3", str(max(u) + 1)),
          "... at position 3 (after alpha, bravo)")
    mine.insert(int(pos) - 1, int(uid))
    b.command("UID STORE %d +FLAGS.SILENT (\\Deleted)" % u[1])
    b.command("UID EXPUNGE %d" % u[1])
    r = a.command("NOOP")
    up = updates(r.untagged, "S1")
    t.ok(up and up[0][0] == "REMOVEFROM", "an expunge: REMOVEFROM")
    rv = list(up[0][1]) if up else [0, 0]
    t.is_((str(rv[0]), str(rv[1])), ("2", str(u[1])),
          "... of bravo at position 2, known after it is gone")
    if up:
        mine.remove(int(rv[1]))
    r = a.command("UID SORT (SUBJECT) UTF-8 ALL")
    fresh = [int(x) for x in re.findall(rb"\d+", (r.find(
        rb"^\* SORT") or [b""])[0])]
    t.is_(mine, fresh, "the client's copy equals a fresh SORT")
    r = a.command("SORT RETURN (PARTIAL 1:2) (REVERSE SUBJECT) UTF-8 ALL",
                  tag="S2")
    t.ok(item(r.untagged, "S2", "PARTIAL") is not None,
         "SORT RETURN (PARTIAL 1:2): PARTIAL answered")
    r = a.command("SORT RETURN (PARTIAL 1:2 ALL) (SUBJECT) UTF-8 ALL")
    t.is_(r.status, "BAD", "SORT PARTIAL with ALL: BAD")
    r = a.command("SORT RETURN (UPDATE) (SUBJECT) UTF-8 ALL", tag="S1")
    t.is_(r.status, "BAD", "a second UPDATE with the same tag: BAD")
    r = a.command('CANCELUPDATE "S1"')
    t.is_(r.status, "OK", "CANCELUPDATE of the sort context: OK")
    a.logout()
    b.logout()


def main():
    m = t.Maild(imap=True)
    m.start()
    m.wait_imap()
    m.imap_login().logout()
    t.section(capability, m)
    t.section(rfc_examples, m)
    t.section(delivery, m)
    t.section(other_session, m)
    t.section(seqset_criteria, m)
    t.section(examine_and_unselect, m)
    t.section(bad_input, m)
    t.section(sort_context, m)
    t.section(random_walk, m)
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
