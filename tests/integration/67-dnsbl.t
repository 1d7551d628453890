#!/usr/bin/env python3
# DNS blocklists and allowlists on connect (issue 13), against a real
# maild and the test's dnsmasq serving the zones: clients connect from
# several 127.0.N.x addresses (remote ones, MAILD_TEST_REMOTE_NET).  A
# listed client gets "554 5.7.1" with the list's TXT record, or the
# zone's message with %{ip} expanded, or the default text, instead of
# the 220, and then only QUIT works; one not listed is greeted and its
# mail delivered; an allowlist overrides; answers outside the match
# ranges, Spamhaus error codes (127.255.255.254) and answers outside
# 127/8 do not list, the last two logged and counted; a zone whose
# server never answers lets clients in within the resolver timeout; a
# listener with auth, one with "dnsbl no" and local clients are not
# checked; with "check rdns" the two checks run together and the DNSBL
# reply wins; an IPv6 client on ::1 is checked by its nibbles; a bad
# zone name is an error at its file:line.
import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

N = t.test_index()
NET = "127.0.%d.0/25" % N
TXT = "127.0.%d.2" % N          # bl.test: 127.0.0.2 and a TXT record
MSG = "127.0.%d.3" % N          # msg.test, which has a message
ALLOWED = "127.0.%d.4" % N      # bl.test, and wl.test allowlists it
ERRCODE = "127.0.%d.5" % N      # err.test answers 127.255.255.254
NOMATCH = "127.0.%d.6" % N      # msg.test answers outside its match
BOGUS = "127.0.%d.7" % N        # bl.test answers 10.0.0.1
DEFAULT = "127.0.%d.8" % N      # bl.test without a TXT record
HEAVY = "127.0.%d.9" % N        # bl.test (1) and msg.test (2)
CLEAN = "127.0.%d.10" % N       # listed nowhere, FCrDNS good
NOPTR = "127.0.%d.11" % N       # listed nowhere, no PTR
LOCAL = "127.0.%d.200" % N      # outside NET: a local client, bl.test
BL_TXT = "Listed by bl.test: see http://bl.test/lookup?127.0.%d.2" % N
V6_NIBBLES = ".".join(["1"] + ["0"] * 31)


def rev(ip):
    return ".".join(reversed(ip.split(".")))


def records():
    r = []
    for ip in (TXT, ALLOWED, DEFAULT, HEAVY, LOCAL):
        r.append("--host-record=%s.bl.test,127.0.0.2" % rev(ip))
    r.append("--host-record=%s.bl.test,10.0.0.1" % rev(BOGUS))
    for ip in (TXT, ALLOWED, HEAVY, LOCAL):
        r.append("--txt-record=%s.bl.test,%s" % (
            rev(ip), BL_TXT if ip == TXT else "bl.test lists " + ip))
    r.append("--host-record=%s.wl.test,127.0.10.3" % rev(ALLOWED))
    r.append("--host-record=%s.msg.test,127.0.0.4" % rev(MSG))
    r.append("--host-record=%s.msg.test,127.0.0.4" % rev(HEAVY))
    r.append("--txt-record=%s.msg.test,not this one" % rev(HEAVY))
    r.append("--host-record=%s.msg.test,127.0.0.20" % rev(NOMATCH))
    r.append("--host-record=%s.err.test,127.255.255.254" % rev(ERRCODE))
    r.append("--host-record=good.client.test,%s" % CLEAN)
    r.append("--host-record=%s.bl.test,127.0.0.2" % V6_NIBBLES)
    r.append("--txt-record=%s.bl.test,bl.test lists ::1" % V6_NIBBLES)
    return r


def conn(addr, port, src, timeout=30):
    """An SMTPConn from source address src, its greeting read."""
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((addr, port))
    c = t.SMTPConn.__new__(t.SMTPConn)
    c.addr, c.port, c.timeout = addr, port, float(timeout)
    c.sock, c.buf, c.tls, c.closed = s, b"", False, False
    c.greeting = c.reply()
    return c


def greeting(addr, port, src, timeout=30):
    c = conn(addr, port, src, timeout)
    c.quit()
    return str(c.greeting)


def closed(c, timeout=5):
    """True when the server closes the connection (EOF) in time."""
    c.sock.settimeout(timeout)
    try:
        while True:
            data = c.sock.recv(4096)
            if not data:
                return True
    except OSError:
        return False


def stats(m):
    r = subprocess.run([os.path.join(t.REPO, "mailctl"), "-s",
                        m.socket_path, "show", "stats"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=30)
    d = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        d[k] = int(v) if v.isdigit() else v
    return d


def main_checks(dns):
    p_rdns, p_sub, p_no = t.test_port(1), t.test_port(2), t.test_port(3)
    m = t.Maild(remote_net=NET, extra="\n".join([
        dns.conf(),
        "dnsbl bl.test",
        "dnsbl msg.test weight 2 match 127.0.0.2-127.0.0.11 "
        "message \"Blocked: %{ip} is on %{zone}\"",
        "dnsbl err.test",
        "dnswl wl.test",
        "listen on %s port %d check rdns" % (t.test_addr(), p_rdns),
        "listen on %s port %d tls-require pki mail auth <passwd>" % (
            t.test_addr(), p_sub),
        "listen on %s port %d dnsbl no" % (t.test_addr(), p_no)]))
    m.start()

    # Listed, with the TXT record: 554, then only QUIT.
    c = conn(m.addr, m.port, TXT)
    t.is_(str(c.greeting), "554 5.7.1 " + BL_TXT,
          "listed: 554 5.7.1 and the list's TXT record, instead of 220")
    r = c.cmd("EHLO client.test")
    t.like(str(r), r"^503 5\.5\.1 ", "... then EHLO gets 503")
    r = c.cmd("MAIL FROM:<spam@client.test>")
    t.like(str(r), r"^503 5\.5\.1 ", "... MAIL gets 503")
    r = c.cmd("QUIT")
    t.is_(r.code, 221, "... QUIT gets 221")
    t.ok(closed(c), "... and the server closes the connection")
    c.close()

    t.is_(greeting(m.addr, m.port, MSG),
          "554 5.7.1 Blocked: %s is on msg.test" % MSG,
          "the zone's message, %{ip} and %{zone} expanded")
    t.is_(greeting(m.addr, m.port, DEFAULT),
          "554 5.7.1 Service unavailable; client [%s] blocked using "
          "bl.test" % DEFAULT, "no message, no TXT: the default text")
    t.is_(greeting(m.addr, m.port, HEAVY),
          "554 5.7.1 Blocked: %s is on msg.test" % HEAVY,
          "listed twice: the text of the heavier list")
    t.like(greeting(m.addr, m.port, NOMATCH), r"^220 ",
           "an answer outside the zone's match: not listed")
    t.like(greeting(m.addr, m.port, ALLOWED), r"^220 ",
           "listed, and allowlisted: the allowlist overrides")

    # Not listed: greeted, the mail delivered.
    c = conn(m.addr, m.port, CLEAN)
    t.like(str(c.greeting), r"^220 ", "not listed: 220")
    c.ehlo()
    mid = "dnsbl.%d@client.test" % os.getpid()
    r = c.send_message("sender@client.test", ["alice@example.org"],
                       "Message-ID: <%s>\r\nFrom: sender@client.test\r\n"
                       "Subject: clean\r\n\r\nhello\r\n" % mid)
    t.is_(r[3].code if r[3] else None, 250, "... its mail accepted")
    c.quit()
    t.ok(m.maildir("alice").wait(1) == 1, "... and delivered")

    # Unusable answers: not listed, said in the log, counted.
    t.like(greeting(m.addr, m.port, ERRCODE), r"^220 ",
           "an error code (127.255.255.254): not listed")
    t.like(greeting(m.addr, m.port, BOGUS), r"^220 ",
           "an answer outside 127/8: not listed")
    log = m.log_text()
    t.like(log, r"err\.test answered 127\.255\.255\.254 about %s: query "
           r"through a public or open resolver" % ERRCODE.replace(
               ".", r"\."), "... the error code is logged with its zone")
    t.like(log, r"bl\.test answered 10\.0\.0\.1 about %s, outside "
           r"127\.0\.0\.0/8" % BOGUS.replace(".", r"\."),
           "... so is the answer outside 127/8")

    # Listeners and clients that are not checked.
    t.like(greeting(m.addr, p_sub, TXT), r"^220 ",
           "a listener with auth: not checked")
    t.like(greeting(m.addr, p_no, TXT), r"^220 ",
           "a listener with dnsbl no: not checked")
    t.like(greeting(m.addr, m.port, LOCAL), r"^220 ",
           "a local client (loopback, not a test remote): not checked")

    # With check rdns: both checks at once, the DNSBL reply first.
    t.is_(greeting(m.addr, p_rdns, TXT), "554 5.7.1 " + BL_TXT,
          "rDNS and DNSBL both refuse: the DNSBL reply")
    t.like(greeting(m.addr, p_rdns, NOPTR), r"^550 5\.7\.25 ",
           "not listed, no PTR: the rDNS reply")
    t.like(greeting(m.addr, p_rdns, CLEAN), r"^220 ",
           "not listed, FCrDNS: 220")

    # One log line per refused client; the counters.
    log = m.log_text()
    t.like(log, r"smtp: %s refused: DNSBL score 1, bl\.test=127\.0\.0\.2 "
           r"\(\+1\)" % TXT.replace(".", r"\."),
           "the refusal is logged with the score and the zone")
    t.like(log, r"smtp: %s refused: DNSBL score 3, bl\.test=127\.0\.0\.2 "
           r"\(\+1\), msg\.test=127\.0\.0\.4 \(\+2\)" % HEAVY.replace(
               ".", r"\."), "... every zone that lists it")
    s = stats(m)
    t.is_(s.get("smtp.refused.dnsbl"), 5, "stats: smtp.refused.dnsbl=5")
    t.is_(s.get("smtp.dnsbl.errors"), 2, "stats: smtp.dnsbl.errors=2")
    t.is_(s.get("smtp.refused.rdns"), 1,
          "stats: smtp.refused.rdns=1 (the DNSBL reply counted once)")
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


def timeout_checks(dns, silent_port):
    """A zone whose server never answers: clients are let in within
    the resolver's time, and one another zone lists is still refused."""
    m = t.Maild(port=t.test_port(4), remote_net=NET, extra="\n".join([
        dns.conf(), "dnsbl slow.test", "dnsbl bl.test"]))
    m.start()
    start = time.monotonic()
    g = greeting(m.addr, m.port, CLEAN, timeout=40)
    took = time.monotonic() - start
    t.like(g, r"^220 ", "a zone that times out: not listed (fail open)")
    t.ok(2 <= took < 15, "... 220 within the resolver timeout (%.1f s)"
         % took)
    t.like(greeting(m.addr, m.port, TXT, timeout=40), r"^554 5\.7\.1 ",
           "... a client another zone lists is still refused")
    t.like(m.log_text(), r"dnsbl: slow\.test: no answer about %s" %
           CLEAN.replace(".", r"\."), "... the timeout is logged")
    t.ok(m.stop(), "maild stops cleanly")


def ipv6_checks(dns):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        t.skip("no IPv6 loopback", 3)
        return
    m = t.Maild(addr="::1", port=t.test_port(5), remote_net="::1/128",
                extra="\n".join([dns.conf(), "dnsbl bl.test"]))
    m.start()
    c = conn("::1", m.port, "::1")
    t.is_(str(c.greeting), "554 5.7.1 bl.test lists ::1",
          "IPv6 client ::1: listed under its 32 nibbles")
    t.is_(c.cmd("QUIT").code, 221, "... QUIT")
    c.close()
    t.ok(m.stop(), "maild stops cleanly")


def config_error():
    d = t.Maild(port=t.test_port(6)).dir
    path = os.path.join(d, "bad.conf")
    with open(path, "w") as f:
        f.write("hostname mx.test\ndnsbl bl.test\ndnsbl bad..zone\n"
                "dnsbl ok.test weight 0\n")
    r = subprocess.run([t.maild_path(), "-n", "-f", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=30)
    t.ok(r.returncode != 0, "maild -n refuses a bad zone")
    t.like(r.stdout, r"bad\.conf:3: invalid dnsbl zone \"bad\.\.zone\"",
           "... at its file:line")
    t.like(r.stdout, r"bad\.conf:4: weight 0 out of range",
           "... and a bad weight at its line")


def main():
    # The server of slow.test: a UDP socket that never answers.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    silent_port = silent.getsockname()[1]
    dns = t.Dnsmasq(records() + [
        "--server=/slow.test/127.0.0.1#%d" % silent_port]).start()
    try:
        t.section(main_checks, dns)
        t.section(timeout_checks, dns, silent_port)
        t.section(ipv6_checks, dns)
        config_error()
    finally:
        dns.stop()
        silent.close()


t.run(main)
