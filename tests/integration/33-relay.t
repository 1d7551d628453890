#!/usr/bin/env python3
# Outbound relay and queue policy (issue 4).  dnsmasq serves the MX
# records; maild A takes mail from alice after AUTH and relays it to
# maild B, the MX of remote.test (same port: MAILD_TEST_RELAY_PORT), over
# STARTTLS, all recipients of a message in one transaction.  A fake MX
# (python) greylists with 451 and records what A sends: PIPELINING,
# dot-stuffing.  B stopped then started: A retries and delivers.  B's
# 550, a null MX and expiry ("queue ttl", on a second maild) bounce to
# alice's INBOX at A (RFC 3464); a failing mail from <> bounces nowhere.
import os
import re
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

PW = t.IMAP_PASSWORDS["alice@example.org"]
N = t.test_index()
B_ADDR = "127.0.%d.1" % N        # maild B, MX of remote.test
FAKE_ADDR = "127.0.%d.2" % N     # the greylisting fake MX of grey.test
DOWN_ADDR = "127.0.%d.3" % N     # nothing listens: down.test
BAD_ADDR = "127.0.%d.4" % N      # first MX of two.test: a broken server
OLD_ADDR = "127.0.%d.5" % N      # MX of old.test: no EHLO, only HELO
RELAY_PORT = t.test_port(5)


class FakeMX(t.FakeServer):
    """A small SMTP server: PIPELINING, 8BITMIME, SIZE, no STARTTLS.
    The first RCPT of a "dave" address gets 451 (greylisting); the
    greeting comes after 0.3 s (so that jobs queue up meanwhile); every
    connection's lines and every message's raw DATA are kept."""

    def __init__(self, addr, port, mode="grey"):
        super().__init__(addr, port)
        self.mode = mode
        self.seen = set()

    def session(self, c):
        c.settimeout(10)
        f = c.makefile("rb")
        lines = []
        self.conns.append(lines)
        ok = 0
        if self.mode == "garbage":
            c.sendall(b"hello, this is no SMTP reply\r\n")
            f.readline()
            return
        time.sleep(0.3)
        c.sendall(b"220 fake.test ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode(errors="replace")
            lines.append(cmd)
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO" and self.mode == "old":
                c.sendall(b"502 5.5.1 what is EHLO\r\n")
            elif verb == "HELO":
                c.sendall(b"250 fake.test\r\n")
            elif verb == "EHLO":
                c.sendall(b"250-fake.test\r\n250-PIPELINING\r\n"
                          b"250-8BITMIME\r\n250 SIZE 10000000\r\n")
            elif verb == "MAIL":
                ok = 0
                c.sendall(b"250 2.1.0 ok\r\n")
            elif verb == "RCPT":
                rcpt = cmd[8:].lower()
                if rcpt.startswith("<dave") and rcpt not in self.seen:
                    self.seen.add(rcpt)
                    c.sendall(b"451 4.7.1 greylisted, try again later\r\n")
                else:
                    ok += 1
                    c.sendall(b"250 2.1.5 ok\r\n")
            elif verb == "DATA":
                if ok == 0:
                    c.sendall(b"554 5.5.1 no valid recipients\r\n")
                    continue
                c.sendall(b"354 go ahead\r\n")
                if not self.read_data(c, f):
                    return
            elif verb == "RSET":
                c.sendall(b"250 2.0.0 ok\r\n")
            elif verb == "QUIT":
                c.sendall(b"221 2.0.0 bye\r\n")
                return
            else:
                c.sendall(b"502 5.5.2 what\r\n")


def submit(m, port, sender, rcpts, data):
    """STARTTLS, AUTH as alice, one message; returns the final reply."""
    c = t.SMTPConn(m.addr, port)
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW))
    if r.code != 235:
        c.close()
        raise t.SMTPError("AUTH: %s" % r)
    mr, rr, dr, fr = c.send_message(sender, rcpts, data)
    c.quit()
    if fr is None:
        raise t.SMTPError("refused: %s %s %s" % (mr, rr, dr))
    return fr


def with_subject(md, subject, n=1, timeout=15):
    t.wait_until(lambda: len([x for x in md.messages()
                              if subject.encode() in x]) >= n, timeout)
    return [x for x in md.messages() if subject.encode() in x]


def bounces(md, subject, timeout=15):
    """Bounces in a Maildir that carry the original subject."""
    def find():
        return [x for x in md.messages()
                if b"multipart/report" in x and subject.encode() in x]
    t.wait_until(find, timeout)
    return find()


def unfold(data):
    return re.sub(rb"\r\n[ \t]+", b" ", data)


def a_conf(dns, sub, ttl=None):
    lines = [dns.conf(),
             "queue retry-remote 1s",
             "listen on %s port %d tls-require pki mail auth <passwd>"
             % (t.test_addr(), sub),
             'action "outbound" relay',
             'match auth from any for any action "outbound"']
    if ttl:
        lines.append("queue ttl %s" % ttl)
    return "\n".join(lines)


def main():
    if not t.have("swaks"):
        t.skip_all("swaks is not installed")
    if t.Dnsmasq.binary() is None:
        t.skip_all("dnsmasq is not installed")
    dns = t.Dnsmasq([
        "--mx-host=remote.test,mx.remote.test,10",
        "--host-record=mx.remote.test,%s" % B_ADDR,
        "--mx-host=grey.test,mx.grey.test,10",
        "--host-record=mx.grey.test,%s" % FAKE_ADDR,
        "--mx-host=down.test,mx.down.test,10",
        "--host-record=mx.down.test,%s" % DOWN_ADDR,
        "--dns-rr=nullmx.test,15,000000",
        "--mx-host=two.test,mx1.two.test,10",
        "--mx-host=two.test,mx2.two.test,20",
        "--host-record=mx1.two.test,%s" % BAD_ADDR,
        "--host-record=mx2.two.test,%s" % FAKE_ADDR,
        "--mx-host=old.test,mx.old.test,10",
        "--host-record=mx.old.test,%s" % OLD_ADDR,
    ]).start()
    fake = FakeMX(FAKE_ADDR, RELAY_PORT)
    fake.start()
    bad = FakeMX(BAD_ADDR, RELAY_PORT, mode="garbage")
    bad.start()
    old = FakeMX(OLD_ADDR, RELAY_PORT, mode="old")
    old.start()

    b = t.Maild(addr=B_ADDR, port=RELAY_PORT, name="maild-b",
                domains=("remote.test",),
                virtuals="bob@remote.test vmail\ncarol@remote.test vmail\n")
    sub = t.test_port(1)
    a = t.Maild(port=t.test_port(0), passwd=t.imap_passwd(),
                name="maild-a", extra=a_conf(dns, sub),
                relay_port=RELAY_PORT)
    # A second sender with a short queue ttl, for expiry.
    sub2 = t.test_port(3)
    a2 = t.Maild(port=t.test_port(2), passwd=t.imap_passwd(),
                 name="maild-a2", extra=a_conf(dns, sub2, ttl="3s"),
                 relay_port=RELAY_PORT)
    b.start()
    a.start()
    a2.start()

    # -- sent at once, checked below
    r = t.subprocess.run(
        ["swaks", "--server", "%s:%d" % (a.addr, sub), "--to",
         "bob@remote.test", "--from", "alice@example.org", "--helo",
         "client.test", "--timeout", "15", "--tls", "--auth", "PLAIN",
         "--auth-user", "alice@example.org", "--auth-password", PW,
         "--header", "Subject: relay-one"], stdout=t.subprocess.PIPE,
        stderr=t.subprocess.STDOUT, timeout=60, universal_newlines=True,
        stdin=t.subprocess.DEVNULL)
    t.ok(r.returncode == 0, "swaks with AUTH to A, for bob@remote.test")
    if r.returncode != 0:
        t.diag(r.stdout)
    fr = submit(a, sub, "alice@example.org",
                ["bob@remote.test", "carol@remote.test"],
                t.make_message("two.%d@test" % os.getpid(), subject="relay-two",
                               sender="alice@example.org",
                               to="bob@remote.test"))
    t.is_(fr.code, 250, "two recipients at remote.test accepted")
    fr = submit(a, sub, "alice@example.org", ["nobody@remote.test"],
                t.make_message("bad.%d@test" % os.getpid(),
                               subject="relay-unknown-user",
                               sender="alice@example.org",
                               to="nobody@remote.test"))
    t.is_(fr.code, 250, "mail for an unknown user at B accepted by A")
    fr = submit(a, sub, "alice@example.org",
                ["nobody1@remote.test", "nobody2@remote.test"],
                t.make_message("pair.%d@test" % os.getpid(),
                               subject="relay-unknown-pair",
                               sender="alice@example.org",
                               to="nobody1@remote.test"))
    t.is_(fr.code, 250, "mail for two unknown users at B accepted by A")
    fr = submit(a, sub, "alice@example.org", ["x@nullmx.test"],
                t.make_message("null.%d@test" % os.getpid(),
                               subject="relay-null-mx",
                               sender="alice@example.org",
                               to="x@nullmx.test"))
    t.is_(fr.code, 250, "mail for a null MX domain accepted by A")
    fr = submit(a, sub, "", ["nobody@remote.test"],
                t.make_message("nullsender.%d@test" % os.getpid(),
                               subject="relay-null-sender",
                               sender="alice@example.org",
                               to="nobody@remote.test"))
    t.is_(fr.code, 250, "mail from <> for an unknown user accepted by A")
    body = ".leading dot\r\n..two dots\r\nend\r\n.\r\nno final newline"
    fr = submit(a, sub, "alice@example.org", ["dave@grey.test"],
                t.make_message("grey.%d@test" % os.getpid(),
                               subject="relay-grey", body=body,
                               sender="alice@example.org",
                               to="dave@grey.test"))
    t.is_(fr.code, 250, "mail for the greylisting MX accepted by A")
    fr = submit(a2, sub2, "alice@example.org", ["x@down.test"],
                t.make_message("down.%d@test" % os.getpid(),
                               subject="relay-expired",
                               sender="alice@example.org",
                               to="x@down.test"))
    t.is_(fr.code, 250, "A2: mail for an unreachable domain accepted")

    # -- delivered to B over STARTTLS
    bob = b.maildir("bob", "remote.test")
    carol = b.maildir("carol", "remote.test")
    got = with_subject(bob, "relay-one")
    t.is_(len(got), 1, "relayed into B's Maildir for bob")
    msg = got[0] if got else b""
    t.like(msg, rb"Received: from mx\.test \(\[127\.0\.0\.\d+\]\)\r\n\tby "
           rb"mx\.test \(maild\) with ESMTPS id", "B's Received: ESMTPS")
    t.like(msg, rb"\(version=TLSv1\.[23] cipher=", "B's Received: TLS "
           "details (STARTTLS between A and B)")
    t.like(msg, rb"with ESMTPSA id [0-9a-f]{8}", "A's Received below it: "
           "authenticated submission")
    t.is_(len(re.findall(rb"(?m)^Received: ", msg)), 2, "two Received "
          "fields: A's and B's")
    t.like(msg, rb"Return-Path: <alice@example\.org>", "envelope sender "
           "kept")

    # -- two recipients, one transaction
    t.is_(len(with_subject(bob, "relay-two")), 1, "bob got the message for "
          "two")
    t.is_(len(with_subject(carol, "relay-two")), 1, "carol got it too")
    blog = b.log_text()
    t.like(blog, r"accepted: from=<alice@example\.org> src=127\.0\.0\.\d+ "
           r"helo=mx\.test nrcpt=2 .* tls", "B: one message with two "
           "recipients over TLS")
    t.wait_until(lambda: a.log_text().count("relayed ") >= 3, 5)
    alog = a.log_text()
    ids = re.findall(r"relayed [0-9a-f]{16} to <(?:bob|carol)@remote\.test> "
                     r"via mx\.remote\.test \[[0-9.]+\]: 250 2\.0\.0 Ok: "
                     r"queued as ([0-9a-f]{8})", alog)
    t.ok(len(ids) >= 3 and len(set(ids)) == len(ids) - 1,
         "A's log: both recipients relayed in one transaction (%s)" % ids)

    # -- 550 from B: bounce to alice at A
    inbox = a.maildir("alice")
    bl = bounces(inbox, "relay-unknown-user")
    t.is_(len(bl), 1, "B's 550: a bounce in alice's INBOX at A")
    bm = bl[0] if bl else b""
    t.like(bm, rb"Return-Path: <>", "the bounce comes from <>")
    t.like(bm, rb"report-type=delivery-status", "multipart/report")
    t.like(bm, rb"Content-Type: message/delivery-status", "with a "
           "message/delivery-status part")
    t.like(bm, rb"Final-Recipient: rfc822; ?nobody@remote\.test",
           "Final-Recipient")
    t.like(bm, rb"Action: failed\r\nStatus: 5\.1\.1", "Action: failed, "
           "Status: 5.1.1")
    t.like(bm, rb"Remote-MTA: dns; ?mx\.remote\.test", "Remote-MTA")
    t.like(unfold(bm), rb"Diagnostic-Code: smtp; ?550 5\.1\.1", "B's reply "
           "as the diagnostic")
    t.like(bm, rb"Subject: relay-unknown-user\r\nMessage-ID: <bad\.",
           "the original headers are in it")

    # -- both recipients of one message refused: one bounce names both
    bl = bounces(inbox, "relay-unknown-pair")
    t.is_(len(bl), 1, "two 550s for one message: one bounce")
    bm = bl[0] if bl else b""
    t.ok(re.search(rb"Final-Recipient: rfc822; ?nobody1@remote\.test", bm)
         and re.search(rb"Final-Recipient: rfc822; ?nobody2@remote\.test",
                       bm), "... with both recipients in it")

    # -- null MX
    bl = bounces(inbox, "relay-null-mx")
    t.is_(len(bl), 1, "null MX: a bounce at once")
    t.like(bl[0] if bl else b"", rb"Status: 5\.1\.10",
           "... with status 5.1.10")

    # -- greylisting: 451, then accepted on the retry
    t.ok(t.wait_until(lambda: len(fake.messages) >= 1, 15),
         "greylisted (451) and delivered on a retry")
    t.ok(len(fake.conns) >= 2, "two connections to the fake MX")
    first = fake.conns[0] if fake.conns else []
    t.ok(any(x.startswith("RCPT TO:<dave@grey.test>") for x in first) and
         "DATA" in first and first.index("DATA") == first.index(
             "RCPT TO:<dave@grey.test>") + 1,
         "PIPELINING: DATA sent right after RCPT, before the 451")
    t.ok(any(re.match(r"MAIL FROM:<alice@example\.org> SIZE=\d+$", x)
             for x in first), "MAIL FROM with SIZE=")
    raw = fake.messages[0] if fake.messages else b""
    t.like(raw, rb"\r\n\r\n\.\.leading dot\r\n\.\.\.two dots\r\nend\r\n"
           rb"\.\.\r\nno final newline\r\n$",
           "dot-stuffed as it went out")
    t.is_(t.bare_lf(raw), [], "no bare LF sent")
    t.like(a.log_text(), r"temporary failure, retry in 1s: 451 4\.7\.1 "
           "greylisted", "A logged the 451 and a retry in 1 s")

    # -- two messages for one domain, one after the other: one connection
    c = t.SMTPConn(a.addr, sub)
    c.ehlo()
    c.starttls()
    c.ehlo()
    c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW))
    codes = []
    for who in ("erin", "frank"):
        _, _, _, fr = c.send_message(
            "alice@example.org", ["%s@grey.test" % who],
            t.make_message("%s.%d@test" % (who, os.getpid()),
                           subject="reuse-" + who, sender="alice@example.org",
                           to="%s@grey.test" % who))
        codes.append(fr and fr.code)
    c.quit()
    t.is_(codes, [250, 250], "two messages for grey.test accepted")

    def reused():
        for lines in fake.conns:
            if ("RCPT TO:<erin@grey.test>" in lines and
                    "RCPT TO:<frank@grey.test>" in lines and
                    lines[-1] == "QUIT"):
                return lines
        return None
    lines = t.wait_until(reused, 10)
    t.ok(lines and len([x for x in lines if x.startswith("MAIL FROM")]) == 2,
         "both went over one connection, two "
         "transactions, then QUIT")
    t.ok(t.wait_until(lambda: len([x for x in fake.messages
                                   if b"reuse-" in x]) == 2, 5),
         "and both were delivered")

    # -- a broken first MX: the second one gets it
    fr = submit(a, sub, "alice@example.org", ["gina@two.test"],
                t.make_message("two.%d@test" % os.getpid(),
                               subject="relay-second-mx",
                               sender="alice@example.org", to="gina@two.test"))
    t.is_(fr.code, 250, "mail for two.test accepted")
    t.ok(t.wait_until(lambda: any(b"relay-second-mx" in x
                                  for x in fake.messages), 10),
         "the first MX answers garbage: delivered to the second")
    t.ok(len(bad.conns) == 1, "the broken MX was tried first, once")
    t.like(a.log_text(), r"mx1\.two\.test \[%s\]: malformed reply" %
           re.escape(BAD_ADDR), "A logged the malformed reply")

    # -- an old server: HELO after EHLO is refused
    fr = submit(a, sub, "alice@example.org", ["hal@old.test"],
                t.make_message("old.%d@test" % os.getpid(),
                               subject="relay-helo",
                               sender="alice@example.org", to="hal@old.test"))
    t.is_(fr.code, 250, "mail for old.test accepted")
    t.ok(t.wait_until(lambda: any(b"relay-helo" in x
                                  for x in old.messages), 10),
         "delivered to a server without EHLO")
    lines = old.conns[0] if old.conns else []
    t.is_(lines[:3], ["EHLO mx.test", "HELO mx.test",
                      "MAIL FROM:<alice@example.org>"],
          "EHLO refused, then HELO, then MAIL without extensions")

    # -- no bounce for a null sender
    t.ok(t.wait_until(lambda: "no bounce for a null sender" in
                      a.log_text(), 10), "failure of mail from <>: "
         "no bounce (logged)")
    t.is_(len([x for x in inbox.messages() if b"relay-null-sender" in x]),
          0, "and nothing in alice's INBOX")

    # -- B down, then up: delivered after retries
    b.stop()
    fr = submit(a, sub, "alice@example.org", ["bob@remote.test"],
                t.make_message("later.%d@test" % os.getpid(),
                               subject="relay-later",
                               sender="alice@example.org",
                               to="bob@remote.test"))
    t.is_(fr.code, 250, "accepted while B is down")
    t.ok(t.wait_until(lambda: re.search(
        r"connect to mx\.remote\.test \[%s\]: Connection refused" %
        re.escape(B_ADDR), a.log_text()), 10), "A: connection refused")
    time.sleep(1.5)
    b.start()
    t.is_(len(with_subject(bob, "relay-later", timeout=20)), 1,
          "delivered once B is back")

    # -- expiry on A2
    bl = bounces(a2.maildir("alice"), "relay-expired", timeout=20)
    t.is_(len(bl), 1, "expired (queue ttl 3s): a bounce at A2")
    t.like(bl[0] if bl else b"", rb"Status: 4\.4\.7", "status 4.4.7")
    t.like(unfold(bl[0]) if bl else b"",
           rb"Diagnostic-Code: .*Connection refused",
           "the last error as the diagnostic")

    t.ok(t.wait_until(lambda: a.queue_entries()["queue"] == [], 5),
         "A's queue is empty")
    t.ok(t.wait_until(lambda: a2.queue_entries()["queue"] == [], 5),
         "A2's queue is empty")
    for m in (a, a2, b):
        t.ok(m.running(), "%s still running" % m.name)
    for f in (fake, bad, old):
        f.stop()
    for m in (a, a2, b):
        t.ok(m.stop(), "%s stops cleanly" % m.name)


t.run(main)
