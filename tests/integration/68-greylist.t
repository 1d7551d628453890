#!/usr/bin/env python3
# Greylisting (issue 13), end to end with a real maild: clients on the
# Internet (loopback addresses of 127.68.0.0/16, which maild counts as
# remote through MAILD_TEST_REMOTE_NET) get "451 4.7.1" at RCPT TO for
# a triplet (client /24, sender, recipient) seen for the first time or
# retried before "greylist delay"; after it the recipient is accepted,
# the message delivered, and the pair (client /24, sender domain) is
# auto-whitelisted: another sender of that domain, to another
# recipient, from another address of the /24 passes at once, another
# domain or another /24 does not.  Bounces are whitelisted by network.
# A logged-in client is not greylisted.  The state survives a restart
# (whitelisted pairs, and the first-seen time of a pending triplet),
# also with a damaged file; "greylist expire" forgets a triplet not
# retried; with "greylist no" there is no 451 and the file is left
# alone; a reload turns greylisting on and off.  The test's dnsmasq answers the message checks' lookups.
import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

NET = "127.68.0.0/16"
C1 = "127.68.1.5"       # the first client
C2 = "127.68.1.6"       # ... another address of its /24
C3 = "127.68.2.5"       # another /24
C4 = "127.68.3.5"       # logs in
C5 = "127.68.4.5"       # sends a bounce
C5B = "127.68.4.9"      # ... and another address of that /24
C6 = "127.68.5.5"       # pending across the restart
C7 = "127.68.6.5"       # expires
C8 = "127.68.7.5"       # greylisting off
DELAY = 2
EXPIRE = 20
PW = t.IMAP_PASSWORDS["alice@example.org"]
GREY = r"^451 4\.7\.1 Greylisted, please try again later"


def connect(m, src, port=None):
    """An SMTPConn from address src, greeted and EHLO said."""
    s = socket.create_connection((m.addr, port or m.port), timeout=30,
                                 source_address=(src, 0))
    c = t.SMTPConn.__new__(t.SMTPConn)
    c.addr, c.port, c.timeout = m.addr, port or m.port, 30.0
    c.sock, c.buf, c.tls, c.closed = s, b"", False, False
    c.greeting = c.reply()
    c.ehlo("client.sender.test")
    return c


def rcpt(m, src, sender, to):
    """The reply to RCPT TO from src (one transaction, then QUIT)."""
    with connect(m, src) as c:
        mr = c.cmd("MAIL FROM:<%s>" % sender)
        if mr.code != 250:
            return mr
        r = c.cmd("RCPT TO:<%s>" % to)
        c.quit()
    return r


def message(subject, sender, to):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s.%d@test>"
            "\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nHello.\r\n"
            % (sender or "MAILER-DAEMON@sender.test", to, subject,
               subject.replace(" ", "-"), os.getpid())).encode()


def send(m, src, sender, to, subject):
    """A whole message: (RCPT reply, final reply or None)."""
    with connect(m, src) as c:
        mr, rr, _, fr = c.send_message(sender, [to],
                                       message(subject, sender, to))
        c.quit()
    return (rr[0] if rr else mr), fr


def until_accepted(m, src, sender, to, subject, timeout):
    """Retry as an MTA would, every half second, until the recipient is
    accepted; (RCPT reply, final reply, seconds since the call, 451s)."""
    start = time.monotonic()
    got = {"deferred": 0}

    def attempt():
        r, fr = send(m, src, sender, to, subject)
        if r.code == 451:
            got["deferred"] += 1
            return None
        return r, fr
    res = t.wait_until(attempt, timeout, interval=0.5)
    if res is None:
        return None, None, time.monotonic() - start, got["deferred"]
    return res[0], res[1], time.monotonic() - start, got["deferred"]


def find(md, subject):
    return [x for x in md.messages() if b"Subject: " + subject.encode() in x]


def stats(m):
    out = subprocess.run([os.path.join(t.REPO, "mailctl"), "-s",
                          m.socket_path, "show", "stats"],
                         stdout=subprocess.PIPE, universal_newlines=True,
                         timeout=30).stdout
    return dict(x.split("=", 1) for x in out.splitlines() if "=" in x)


def greylist_file(m):
    try:
        with open(os.path.join(m.spool, "greylist"), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def config(m, dns, extra):
    m.extra = "\n".join([
        dns.conf(),
        "listen on %s port %d tls-require pki mail auth <passwd>"
        % (t.test_addr(), t.test_port(1))] + extra)
    m.write_files()


def part_first(m, state):
    """Unknown triplets: 451, again on an early retry."""
    state["t0"] = time.monotonic()
    r = rcpt(m, C1, "a@sender.test", "alice@example.org")
    t.is_(r.code, 451, "first attempt: 451")
    t.like(str(r), GREY, "... 4.7.1 Greylisted, please try again later")
    r = rcpt(m, C1, "a@sender.test", "alice@example.org")
    t.like(str(r), GREY, "immediate retry: 451 again")
    r = rcpt(m, C1, "a@sender.test", "bob@example.org")
    t.like(str(r), GREY, "another recipient from the same client: 451")
    r = rcpt(m, C3, "a@sender.test", "alice@example.org")
    t.like(str(r), GREY, "the same sender from another /24: 451")
    r = rcpt(m, C5, "", "alice@example.org")
    t.like(str(r), GREY, "a bounce from an unknown network: 451")
    t.like(m.log_text(), r"smtp: greylisted: src=127\.68\.1\.5 "
           r"from=<a@sender\.test> to=<alice@example\.org>",
           "a log line per greylisted triplet")
    data = greylist_file(m)
    t.ok(data is not None and data.startswith(b"maild-greylist 1 "),
         "the state is in <spool>/greylist")
    t.is_(oct(os.stat(os.path.join(m.spool, "greylist")).st_mode & 0o777),
          "0o600", "... mode 0600")
    t.ok(data is not None and b"sender.test" not in data and
         b"127.68" not in data, "... naming no address or network")


def part_pass(m, state):
    """After the delay: accepted, delivered, auto-whitelisted."""
    md = m.maildir("alice")
    r, fr, secs, deferred = until_accepted(
        m, C1, "a@sender.test", "alice@example.org", "after the delay",
        DELAY + 15)
    t.is_(r.code if r else None, 250, "retry after the delay: accepted")
    t.ok(time.monotonic() - state["t0"] >= DELAY - 1,
         "... not before the delay (%.1fs after the first attempt)"
         % (time.monotonic() - state["t0"]))
    t.is_(fr.code if fr else None, 250, "... the message is accepted")
    t.ok(t.wait_until(lambda: find(md, "after the delay"), 10),
         "... and delivered to the Maildir")
    t.like(m.log_text(), r"smtp: greylist passed: src=127\.68\.1\.5 "
           r"from=<a@sender\.test> to=<alice@example\.org> after \d+s",
           "a log line for the triplet that passed")

    r, fr = send(m, C2, "other@Sender.TEST", "bob@example.org", "whitelisted")
    t.is_(r.code, 250, "same /24, same sender domain, another sender and "
          "recipient: accepted at once (auto-whitelist)")
    t.is_(fr.code if fr else None, 250, "... and the message")
    t.ok(t.wait_until(lambda: find(m.maildir("bob"), "whitelisted"), 10),
         "... delivered")
    r = rcpt(m, C2, "x@elsewhere.test", "bob@example.org")
    t.like(str(r), GREY, "same /24, another sender domain: 451")
    r = rcpt(m, C3, "a@sender.test", "bob@example.org")
    t.like(str(r), GREY, "another /24, the whitelisted domain: 451")

    r, fr, _, _ = until_accepted(m, C5, "", "alice@example.org", "bounce 1",
                                 DELAY + 15)
    t.is_(r.code if r else None, 250, "the bounce retried after the delay: "
          "accepted")
    r, fr = send(m, C5B, "", "bob@example.org", "bounce 2")
    t.is_(r.code, 250, "another bounce from that /24, to another "
          "recipient: accepted at once")
    r = rcpt(m, C5B, "a@sender.test", "bob@example.org")
    t.like(str(r), GREY, "... but not mail with a sender (bounces are "
           "whitelisted by network alone)")


def part_auth(m):
    """A logged-in client is not greylisted; the same one on 25 is."""
    r = rcpt(m, C4, "alice@example.org", "bob@example.org")
    t.like(str(r), GREY, "a client that did not log in: 451")
    with connect(m, C4, t.test_port(1)) as c:
        c.starttls()
        c.ehlo("client.sender.test")
        a = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW))
        t.is_(a.code, 235, "submission: logged in")
        mr, rr, _, fr = c.send_message(
            "alice@example.org", ["carol@example.net"],
            message("submitted", "alice@example.org", "carol@example.net"))
        c.quit()
    t.is_(rr[0].code if rr else None, 250, "... its recipient is not "
          "greylisted")
    t.is_(fr.code if fr else None, 250, "... nor its message")


def part_restart(m, state):
    """The state across a restart, with damage at the end of the file."""
    r = rcpt(m, C6, "p@pending.test", "alice@example.org")
    t.like(str(r), GREY, "a triplet pending at the restart: 451")
    created = time.monotonic()
    t.ok(m.stop(), "maild stops")
    path = os.path.join(m.spool, "greylist")
    with open(path, "ab") as f:
        f.write(b"not a record\np 0123456789")   # a line cut short
    m.start()
    log = m.log_text(since_start=True)
    t.like(log, r"greylist: greylist: 1 unreadable line", "restart: the "
           "bad line is logged")
    t.like(log, r"last line is cut short", "... and the cut one")
    t.ok(not greylist_file(m).endswith(b"0123456789") and
         b"not a record" not in greylist_file(m),
         "... and the file rewritten without them")
    r = rcpt(m, C2, "third@sender.test", "info@example.org")
    t.is_(r.code, 250, "after the restart the whitelisted pair passes at "
          "once")
    r = rcpt(m, C5B, "", "info@example.org")
    t.is_(r.code, 250, "... and the whitelisted bounce network")
    # Long enough after its first attempt, whatever the restart took.
    left = created + DELAY + 1.2 - time.monotonic()
    if left > 0:
        time.sleep(left)
    r = rcpt(m, C6, "p@pending.test", "alice@example.org")
    t.is_(r.code, 250, "the pending triplet kept its first-seen time: it "
          "passes")
    st = stats(m)
    t.ok(int(st.get("smtp.greylist.passed", "0")) >= 1 and
         int(st.get("smtp.greylist.whitelisted", "0")) >= 2 and
         int(st.get("queue.greylist.entries", "0")) >= 3,
         "mailctl show stats: passed, whitelisted, entries (%s)"
         % {k: v for k, v in st.items() if "grey" in k})


def part_expire(m, dns):
    """A short expire: a triplet not retried in it is new again."""
    t.ok(m.stop(), "maild stops")
    config(m, dns, ["greylist yes delay 1s expire 3s"])
    m.start()
    r = rcpt(m, C7, "e@expire.test", "alice@example.org")
    t.like(str(r), GREY, "short expire: first attempt 451")
    time.sleep(4.2)     # past expire (whole seconds) and past the delay
    r = rcpt(m, C7, "e@expire.test", "alice@example.org")
    t.like(str(r), GREY, "retried after expire: forgotten, 451 again "
           "(it would have passed otherwise)")
    r, _, _, _ = until_accepted(m, C7, "e@expire.test", "alice@example.org",
                                "expired then passed", 10)
    t.is_(r.code if r else None, 250, "... and passes a delay later")


def part_off(m, dns):
    """greylist no: no 451, and the file is left as it is."""
    t.ok(m.stop(), "maild stops")
    before = greylist_file(m)
    config(m, dns, ["greylist no delay 1h"])
    m.start()
    r, fr = send(m, C8, "o@off.test", "alice@example.org", "greylist off")
    t.is_(r.code, 250, "greylist no: a new client is accepted at once")
    t.is_(fr.code if fr else None, 250, "... and its message")
    t.is_(greylist_file(m), before, "... the state file is untouched")
    st = stats(m)
    t.is_(st.get("smtp.greylisted"), "0", "... nothing greylisted")


def mailctl(m, *args):
    r = subprocess.run([os.path.join(t.REPO, "mailctl"), "-s",
                        m.socket_path] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True,
                       timeout=30)
    return r.returncode, r.stdout


def part_reload(m, dns):
    """A reload turns greylisting on (the file read back) and off."""
    config(m, dns, ["greylist yes delay %ds expire %ds" % (DELAY, EXPIRE)])
    rc, out = mailctl(m, "reload")
    t.is_(rc, 0, "reload with greylist yes: %s" % out.strip())
    t.like(m.log_text(since_start=True), r"greylist: on, [1-9]\d* entr",
           "... the queue reads the state back")
    r = rcpt(m, C8, "o2@off.test", "bob@example.org")
    t.like(str(r), GREY, "... a new triplet is greylisted")
    r = rcpt(m, C2, "fourth@sender.test", "bob@example.org")
    t.is_(r.code, 250, "... a whitelisted pair passes")
    config(m, dns, ["greylist no"])
    rc, out = mailctl(m, "reload")
    t.is_(rc, 0, "reload with greylist no: %s" % out.strip())
    t.like(m.log_text(since_start=True), r"greylist: off",
           "... greylisting is off")
    r = rcpt(m, C8, "o3@off.test", "alice@example.org")
    t.is_(r.code, 250, "... no 451")


def main():
    dns = t.Dnsmasq([]).start()
    m = t.Maild(imap=True, remote_net=NET)
    config(m, dns, ["greylist yes",
                    "greylist delay %ds expire %ds" % (DELAY, EXPIRE)])
    m.start()
    state = {}
    for part in (part_first, part_pass):
        t.section(part, m, state)
    t.section(part_auth, m)
    t.section(part_restart, m, state)
    t.section(part_expire, m, dns)
    t.section(part_off, m, dns)
    t.section(part_reload, m, dns)
    t.ok(m.running(), "maild is still running")
    t.unlike(m.log_text(), t.SANITIZER_RE, "no sanitizer reports")


t.run(main)
