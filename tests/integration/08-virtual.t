#!/usr/bin/env python3
# Virtual tables: a direct user, an alias with two targets, a catch-all
# for another domain, plus-addressing, domain case; each message lands in
# the right Maildir and nowhere else.
import os
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402


def main():
    m = t.Maild().start()
    pid = os.getpid()
    # rcpt -> Maildirs that must receive it (exactly once each)
    cases = [
        ("alice@example.org", ["alice"]),
        ("bob@example.org", ["bob"]),
        ("info@example.org", ["alice", "bob"]),
        ("anyone@example.net", ["alice"]),
        ("postmaster@example.net", ["alice"]),
        ("alice+tag@example.org", ["alice"]),
        ("bob+a.b-c@example.org", ["bob"]),
        ("alice@EXAMPLE.org", ["alice"]),
    ]
    expected = {"alice": set(), "bob": set()}
    c = m.connect()
    c.ehlo()
    for i, (rcpt, boxes) in enumerate(cases):
        msgid = "virt%d.%d@client.test" % (i, pid)
        mr, rr, dr, fr = c.send_message(
            "sender@client.test", [rcpt],
            t.make_message(msgid, subject="to %s" % rcpt, to=rcpt))
        t.is_(rr[0].code, 250, "RCPT %s: 250" % rcpt)
        t.is_(fr and fr.code, 250, "message to %s accepted" % rcpt)
        for b in boxes:
            expected[b].add("<%s>" % msgid)
    # one message to alice and info@: alice must get it once (dedup) and
    # bob once.
    msgid = "virt-dup.%d@client.test" % pid
    mr, rr, dr, fr = c.send_message(
        "sender@client.test", ["alice@example.org", "info@example.org",
                               "alice+x@example.org"],
        t.make_message(msgid, subject="dup"))
    t.is_(fr and fr.code, 250, "message to alice, info, alice+x accepted")
    dup = "<%s>" % msgid
    # unknown user in a catch-all-less domain, and in the catch-all one
    r = c.cmd("MAIL FROM:<sender@client.test>")
    r = c.cmd("RCPT TO:<carol@example.org>")
    t.is_(r.code, 550, "carol@example.org (no entry): 550")
    r = c.cmd("RCPT TO:<carol+alice@example.org>")
    t.is_(r.code, 550, "carol+alice@example.org: 550")
    c.quit()

    want_a = len(expected["alice"]) + 1
    want_b = len(expected["bob"]) + 1
    al, bo = m.maildir("alice"), m.maildir("bob")
    t.wait_until(lambda: al.count() >= want_a and bo.count() >= want_b, 10)
    time.sleep(1.0)     # anything extra would show up by now
    ids_a, ids_b = al.message_ids(), bo.message_ids()
    t.is_(sorted(x for x in ids_a if x != dup), sorted(expected["alice"]),
          "alice's Maildir has exactly her messages")
    t.is_(sorted(x for x in ids_b if x != dup), sorted(expected["bob"]),
          "bob's Maildir has exactly his messages")
    nodup_a = [x for x in ids_a if x != dup]
    t.is_(len(nodup_a), len(set(nodup_a)), "no duplicates for alice")
    t.is_(len(ids_b), len(set(ids_b)), "no duplicates for bob")
    t.is_(ids_a.count(dup), 1,
          "alice got the alice+info+alice+x message exactly once")
    t.is_(ids_b.count(dup), 1, "bob got the alice+info message once")
    t.is_(sorted(m.maildirs()), ["example.org/alice", "example.org/bob"],
          "no other Maildir exists (no info, example.net, alice+tag)")
    for box in ("alice", "bob"):
        md = m.maildir(box)
        for sub in ("new", "cur", "tmp"):
            t.ok(os.path.isdir(os.path.join(md.path, sub)),
                 "%s/%s exists" % (box, sub))
        t.is_(md.files("tmp"), [], "%s/tmp is empty after delivery" % box)
    t.ok(m.stop(), "stops cleanly")


t.run(main)
