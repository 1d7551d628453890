#!/usr/bin/env python3
# Floods (issue 10, finding 6).  10,000 connections to port 25 and 10,000
# to the IMAPS port, from 2,000 loopback addresses in 250 /24s, idle or
# trickling a byte every few seconds (command bytes without a line end,
# a ClientHello a byte at a time), while a legitimate client on another
# address submits 100 messages with AUTH and reads them over IMAP: all
# 100 delivered and read, maild's memory bounded and reported, every
# flood connection closed by its deadline (smtp timeout, the IMAP
# pre-login minute), maild still answering afterwards.  Then the limits
# on their own: port 25 filled to its share still leaves submission room
# (the reserve), and one /24 gets four times what one address may.
import imaplib
import os
import resource
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

PW = t.IMAP_PASSWORDS["alice@example.org"]
PER_PORT = 10000
NETS, HOSTS = 250, 8               # 2,000 addresses, 5 per port each
CLIENT_HELLO = bytes.fromhex(
    "16030100f4010000f00303") + os.urandom(32) + b"\x00" * 150


def rss_kb(m, which=None):
    """Resident memory of maild and its children (or of the child named
    which: "smtp", "imap"), in KiB."""
    total = 0
    for pid in [m.pid] + m.children():
        if which and t.proc_comm(pid) != "maild-" + which:
            continue
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def closed(s):
    """Has the server closed s (EOF or reset, after what it sent)?"""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def flooder(addr, port, first, seconds, check_at):
    """Run as a child (a process may hold 20,000 descriptors here): open
    PER_PORT connections to addr:port from 2,000 addresses, half of them
    idle, half trickling a byte every 3 s (command bytes without a line
    end, or a ClientHello); count at check_at seconds those the server
    has closed; print "opened open_at_check" and exit at seconds."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (PER_PORT + 100,
                                                PER_PORT + 100))
    payload = b"NOOPX" if first == "smtp" else CLIENT_HELLO
    base = 100 + t.test_index()
    socks = []
    t0 = time.monotonic()
    for i in range(PER_PORT):
        n, h = (i // 5) % NETS, (i // 5) // NETS
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind(("127.%d.%d.%d" % (base, n, h + 1), 0))
        try:
            s.connect((addr, port))
        except BlockingIOError:
            pass
        socks.append(s)
    print("ready", flush=True)
    k, still = 0, None
    while time.monotonic() - t0 < seconds:
        for i, s in enumerate(socks):
            if i % 2:
                try:
                    s.send(payload[k % len(payload):k % len(payload) + 1])
                except OSError:
                    pass
        k += 1
        time.sleep(3)
        if still is None and time.monotonic() - t0 >= check_at:
            still = sum(1 for s in socks if not closed(s))
    if still is None:
        still = sum(1 for s in socks if not closed(s))
    print("%d %d" % (len(socks), still), flush=True)


def start_flooder(m, port, kind, seconds, check_at):
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                          "--flood", m.addr, str(port), kind, str(seconds),
                          str(check_at)], stdout=subprocess.PIPE,
                         universal_newlines=True)
    return p


def legit(m, sub):
    """100 messages with AUTH on submission, then read over IMAP."""
    sent = 0
    with t.SMTPConn(m.addr, sub, timeout=60) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW))
        if r.code != 235:
            return 0, 0, "AUTH %s" % r.text
        for i in range(100):
            _, _, _, fr = c.send_message(
                "alice@example.org", ["bob@example.org"],
                t.make_message("flood%d@t" % i, subject="legit %d" % i,
                               sender="alice@example.org"))
            sent += fr is not None and fr.code == 250
        c.quit()
    md = m.maildir("bob")
    md.wait(100, 60)
    M = imaplib.IMAP4_SSL(m.addr, m.imap_port,
                          ssl_context=t.insecure_ssl_context(), timeout=60)
    M.login("bob@example.org", t.IMAP_PASSWORDS["bob@example.org"])
    M.select("INBOX", readonly=True)
    typ, data = M.search(None, "SUBJECT", "legit")
    ids = data[0].split() if typ == "OK" else []
    read = 0
    for n in ids:
        typ, d = M.fetch(n, "(BODY.PEEK[])")
        read += typ == "OK" and b"legit" in d[0][1]
    M.logout()
    return sent, read, ""


def sanitized():
    with open(t.maild_path(), "rb") as f:
        return b"__asan_init" in f.read()


def big_flood(m, sub):
    rss0 = rss_kb(m)
    t0 = time.monotonic()
    # smtp timeout 10 s closes port 25's by 25 s; the IMAP pre-login
    # minute the IMAPS ones by 75 s
    fs = [start_flooder(m, m.port, "smtp", 30, 25),
          start_flooder(m, m.imap_port, "imap", 80, 75)]
    for p in fs:
        t.is_(p.stdout.readline().strip(), "ready", "flooder connected")
    t.diag("%d flood connections opened in %.1f s" % (2 * PER_PORT,
                                                      time.monotonic() - t0))
    time.sleep(2)
    peak = rss_kb(m)
    t.diag("with the flood: smtp %d KiB, imap %d KiB" % (rss_kb(m, "smtp"),
                                                       rss_kb(m, "imap")))
    sent, read, err = legit(m, sub)
    took = time.monotonic() - t0
    t.is_(sent, 100, "100 messages submitted during the flood (%s)" % err)
    t.is_(read, 100, "... delivered and read over IMAP (%.1f s)" % took)
    while any(p.poll() is None for p in fs) and time.monotonic() - t0 < 120:
        peak = max(peak, rss_kb(m))
        time.sleep(2)
    res = []
    for p in fs:
        out = p.stdout.read().split()
        p.wait(10)
        res.append([int(x) for x in out] if len(out) == 2 else [0, -1])
    t.diag("maild memory: %d KiB before, %d KiB at the peak with %d "
           "connections (%.1f KiB each)" % (rss0, peak, 2 * PER_PORT,
                                            (peak - rss0) / (2 * PER_PORT)))
    # (AddressSanitizer's redzones and quarantine cost several times more)
    limit = 4096 if sanitized() else 1024
    t.ok(peak < limit * 1024, "memory bounded: %d MiB for %d connections "
         "(under %d)" % (peak // 1024, 2 * PER_PORT, limit))
    t.is_(res[0], [PER_PORT, 0], "every port 25 flood connection closed "
          "within 25 s (smtp timeout 10 s)")
    t.is_(res[1], [PER_PORT, 0], "every IMAPS flood connection closed "
          "within 75 s (a minute before login)")
    with m.connect() as c:
        t.is_(c.ehlo().code, 250, "maild answers on port 25 after the "
              "flood")
    M = m.imaplib("bob@example.org")
    t.is_(M.noop()[0], "OK", "and on IMAPS")
    M.logout()


def first_line(s, wait):
    """The first line the server sends within wait seconds, or None."""
    s.settimeout(wait)
    try:
        d = s.recv(4096)
    except OSError:
        return None
    return d.split(b"\r\n")[0].decode(errors="replace") if d else "EOF"


def connect_from(src, addr, port):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(10)
    s.connect((addr, port))
    return s


def reserve_and_nets():
    """A small maild: 224 sessions, 202 of them for port 25."""
    sub = t.test_port(3)
    m = t.Maild(port=t.test_port(2), nofile=512, name="small",
                extra="listen on %s port %d tls-require pki mail auth "
                      "<passwd>" % (t.test_addr(), sub),
                passwd=t.imap_passwd())
    m.start()
    base = 100 + t.test_index()

    # one /24: 10 addresses, 10 connections each; 20 per address, 80
    # per network
    socks = [connect_from("127.%d.30.%d" % (base, i % 10 + 1), m.addr,
                          m.port) for i in range(100)]
    firsts = [first_line(s, 5) for s in socks]
    ok = sum(1 for f in firsts if f and f.startswith("220"))
    busy = sum(1 for f in firsts if f and f.startswith("421 4.7.0"))
    t.is_((ok, busy), (80, 20), "100 connections from one /24: 80 taken, "
          "20 told 421 4.7.0 (4 times what one address may)")
    for s in socks:
        s.close()
    time.sleep(1)

    # port 25 filled to its share: submission still gets in
    socks = [connect_from("127.%d.%d.%d" % (base, 40 + i % 10,
                                            i // 10 % 8 + 1),
                          m.addr, m.port) for i in range(230)]
    time.sleep(3)                       # all that will be greeted are
    firsts = [first_line(s, 0.01) for s in socks]
    greeted = sum(1 for f in firsts if f and f.startswith("220"))
    t.ok(195 <= greeted <= 202, "230 connections to port 25: %d greeted, "
         "the rest wait (202 is port 25's share of 224)" % greeted)
    t.like(m.log_text(), r"sessions without login: port %d waits" % m.port,
           "... and the log says so")
    c = t.SMTPConn(m.addr, sub, timeout=10)
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW))
    t.is_(r.code, 235, "submission: greeted and logged in meanwhile")
    _, _, _, fr = c.send_message("alice@example.org", ["bob@example.org"],
                                 t.make_message("reserve@t",
                                                subject="reserve",
                                                sender="alice@example.org"))
    t.is_(fr.code if fr else None, 250, "... and its message taken")
    c.quit()
    for s in socks:
        s.close()
    t.ok(t.wait_until(lambda: t.SMTPConn(m.addr, m.port).ehlo().code == 250,
                      10), "port 25 answers again once they are gone")
    m.stop()


def main():
    if os.geteuid() != 0:
        t.skip_all("needs root (file limits, 20,000 sockets)")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < PER_PORT + 100:
        t.skip_all("a process may hold only %d descriptors" % hard)
    sub = t.test_port(1)
    m = t.Maild(imap=True, nofile=hard if hard != resource.RLIM_INFINITY
                else 65536, extra="\n".join([
        "listen on %s port %d tls-require pki mail auth <passwd>"
        % (t.test_addr(), sub), "smtp timeout 10s"]))
    m.start()
    if "valgrind" in t.maild_path():
        t.skip("20,000 connections are too many under valgrind", 9)
    else:
        big_flood(m, sub)
    m.stop()
    reserve_and_nets()


if len(sys.argv) > 1 and sys.argv[1] == "--flood":
    flooder(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]),
            float(sys.argv[6]))
else:
    t.run(main)
