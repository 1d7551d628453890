#!/usr/bin/env python3
# Login throttling (issue 10, finding 7).  Twenty parallel sessions from
# one address used to get 1.2 password checks a second, since each
# session waited on its own; guessers spread over many addresses were
# not slowed at all, nor an IPv6 /64 of them.  Now checks are scheduled
# per network (IPv4 address, IPv6 /64) and per account: four at once are
# free, then each waits 1, 2, 4, 8, at most 15 s after the one before,
# whatever the number of sessions; and the real user, from a network
# that logged in before, is not slowed by a guesser elsewhere.
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

ALICE = "alice@example.org"
PW = t.IMAP_PASSWORDS[ALICE]
WINDOW = 15.0


def tls_conn(m, src, port=None):
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    raw = socket.socket(fam, socket.SOCK_STREAM)
    raw.settimeout(60)
    raw.bind((src, 0))
    raw.connect((m.addr if fam == socket.AF_INET else "::1",
                 port or m.imap_port))
    s = t.insecure_ssl_context().wrap_socket(raw)
    s.recv(4096)                           # greeting
    return s


def answer(s, tag, until=None):
    buf = b""
    while (b"\r\n" + tag + b" ") not in b"\r\n" + buf:
        if until is not None:
            s.settimeout(max(0.05, until - time.monotonic()))
        d = s.recv(4096)
        if not d:
            raise EOFError("closed")
        buf += d
    rest = buf.split(tag + b" ", 1)[1].decode(errors="replace")
    if rest.startswith("NO [UNAVAILABLE]"):
        return "WAIT"          # throttled: refused unchecked, try later
    return rest[:2]


def guesser(m, src, user, until, times, tag0):
    """LOGIN with wrong passwords until the deadline; record the time of
    each answer."""
    try:
        s = tls_conn(m, src)
    except OSError:
        return
    n = 0
    try:
        while time.monotonic() < until:
            n += 1
            tag = b"%s%d" % (tag0, n)
            s.sendall(b'%s LOGIN "%s" "guess%d"\r\n' % (tag, user.encode(),
                                                       n))
            st = answer(s, tag, until)
            if st == "WAIT":
                time.sleep(0.2)
            elif time.monotonic() <= until:
                times.append((time.monotonic(), st))
    except (OSError, EOFError):
        pass
    finally:
        s.close()


def login(m, src, user, password, port=None):
    """(status, seconds) of one LOGIN on a new connection from src."""
    s = tls_conn(m, src, port)
    try:
        t0 = time.monotonic()
        s.sendall(b'a LOGIN "%s" "%s"\r\n' % (user.encode(),
                                            password.encode()))
        st = answer(s, b"a")
        return st, time.monotonic() - t0
    finally:
        s.close()


def run_parallel(targets):
    threads = [threading.Thread(target=f, args=a) for f, a in targets]
    for th in threads:
        th.start()
    for th in threads:
        th.join(WINDOW + 60)


def main():
    imap6 = t.imap_test_port(5)
    m = t.Maild(imap=True, extra="listen on ::1 port %d imaps pki mail "
                "auth <passwd>" % imap6)
    m.start()
    base = "127.%d" % (100 + t.test_index())

    # 1. twenty sessions from one address, guessing for WINDOW seconds
    times = []
    t0 = time.monotonic()
    run_parallel([(guesser, (m, base + ".1.1", "p%d@example.org" % i,
                             t0 + WINDOW, times, b"p%d-" % i))
                  for i in range(20)])
    t.diag("one address, 20 sessions: %d checks in %.0f s" % (len(times),
                                                              WINDOW))
    t.ok(all(st == "NO" for _, st in times), "every guess refused")
    # 4 free, then 1, 2, 4, 8, 15 s apart: at most 9 in 20 s
    t.ok(4 <= len(times) <= 10, "20 sessions from one address, each its "
         "own account: %d checks in %.0f s, not one per session and second"
         % (len(times), WINDOW))

    # 2. one account, guessed from 30 addresses at once; meanwhile alice
    # herself tries from a network new to her account
    times, probe = [], []

    def alice_meanwhile():
        time.sleep(WINDOW / 2)
        probe.append(login(m, base + ".4.1", ALICE, PW)[0])

    t0 = time.monotonic()
    run_parallel([(guesser, (m, base + ".2.%d" % (i + 1), ALICE,
                             t0 + WINDOW, times, b"q%d-" % i))
                  for i in range(30)] + [(alice_meanwhile, ())])
    t.diag("one account, 30 addresses: %d checks in %.0f s" % (len(times),
                                                               WINDOW))
    t.ok(4 <= len(times) <= 10, "30 addresses guessing one account: %d "
         "checks in %.0f s" % (len(times), WINDOW))
    t.is_(probe, ["WAIT"], "alice meanwhile, from a new network: 'try "
          "again later' (NO [UNAVAILABLE]), not 'wrong password'")

    # 3. an IPv6 /64 is one network: 30 addresses of one /64
    times = []
    t0 = time.monotonic()
    srcs = ["fd00:%x::%x" % (t.test_index(), i + 1) for i in range(30)]
    have6 = True
    for a in srcs:
        r = t.subprocess.run(["ip", "-6", "addr", "add", a + "/128", "dev",
                              "lo"], stderr=t.subprocess.DEVNULL)
        have6 = have6 and r.returncode in (0, 2)
    try:
        if not have6:
            t.skip("cannot add IPv6 addresses to lo", 1)
        else:
            m6 = type("M6", (), {"addr": "::1", "imap_port": imap6})
            run_parallel([(guesser, (m6, a, "guess%d@example.org" % i,
                                     t0 + WINDOW, times, b"r%d-" % i))
                          for i, a in enumerate(srcs)])
            t.diag("one /64, 30 addresses, 30 accounts: %d checks" %
                   len(times))
            t.ok(4 <= len(times) <= 10, "30 addresses of one IPv6 /64, "
                 "each its own account: %d checks in %.0f s"
                 % (len(times), WINDOW))
    finally:
        for a in srcs:
            t.subprocess.run(["ip", "-6", "addr", "del", a + "/128", "dev",
                              "lo"], stderr=t.subprocess.DEVNULL)

    # 4. alice, whose account was just guessed at, from a new network:
    # "try later" while the account's schedule is full (never "wrong
    # password" for the right one), then in; once in, not slowed there
    new = base + ".4.1"
    answers = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 40:
        st, dt = login(m, new, ALICE, PW)
        answers.append(st)
        if st != "WAIT":
            break
        time.sleep(1)
    t.diag("alice from a new network: %s after %.1f s" % (answers,
                                                          time.monotonic()
                                                          - t0))
    t.is_(answers[-1], "OK", "the right password logs in once the "
          "account's schedule allows")
    t.ok(all(a == "WAIT" for a in answers[:-1]), "... before that, only "
         "'try again later', never 'wrong password'")
    st, dt = login(m, new, ALICE, PW)
    t.ok(st == "OK" and dt < 1.0, "then she is not slowed by the guessers "
         "(%.2f s)" % dt)
    st, dt = login(m, new, ALICE, "typo")
    t.is_(st, "NO", "her typo: NO")
    st, dt = login(m, new, ALICE, PW)
    t.ok(st == "OK" and dt < 2.5, "her next try waits a second or so "
         "(%.2f s)" % dt)
    # SMTP shares the schedule's rules: 454 when it is full
    t.ok(m.running(), "maild still running")
    m.stop()


t.run(main)
