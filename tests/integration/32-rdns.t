#!/usr/bin/env python3
# rDNS and FCrDNS checks on connect (issue 4), with a private dnsmasq:
# clients connect from several 127.0.x.y source addresses.  "check rdns"
# refuses an address without PTR with 550 5.7.25; "check fcrdns" also
# one whose PTR name does not resolve back; a DNS server that does not
# answer gives 451 4.7.25; a confirmed name goes into Received.  The
# daemon keeps running and other clients are unaffected.
import os
import socket
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

N = t.test_index()
GOOD = "127.0.%d.1" % N        # PTR good.client.test, A back to it
NOPTR = "127.0.%d.2" % N       # no PTR
MISMATCH = "127.0.%d.3" % N    # PTR liar.client.test, A elsewhere


def rev(ip):
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def greeting(m, port, src, timeout=15):
    """First reply line a client from src gets, b"" if none."""
    s = socket.create_connection((m.addr, port), timeout=timeout,
                                 source_address=(src, 0))
    s.settimeout(timeout)
    data = b""
    try:
        while b"\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return data.split(b"\r\n")[0]


def main():
    dns = t.Dnsmasq(["--host-record=good.client.test,%s" % GOOD,
                     "--ptr-record=%s,liar.client.test" % rev(MISMATCH),
                     "--host-record=liar.client.test,127.0.%d.200" % N]
                    ).start()
    p_rdns = t.test_port(1)
    p_fcrdns = t.test_port(2)
    m = t.Maild(extra="\n".join([
        dns.conf(),
        'smtp rdns-message "no rDNS."',
        "listen on %s port %d check rdns" % (t.test_addr(), p_rdns),
        "listen on %s port %d check { rdns, fcrdns }" % (t.test_addr(),
                                                        p_fcrdns)]))
    m.start()

    g = greeting(m, p_rdns, GOOD)
    t.like(g, rb"^220 ", "check rdns: a client with a PTR is greeted")
    g = greeting(m, p_rdns, NOPTR)
    t.is_(g, b"550 5.7.25 no rDNS.",
          "check rdns: no PTR -> 550 5.7.25 with the text from mail.conf")
    g = greeting(m, p_rdns, MISMATCH)
    t.like(g, rb"^220 ", "check rdns: a PTR that does not resolve back "
           "is enough")
    g = greeting(m, p_fcrdns, MISMATCH)
    t.like(g, rb"^550 5\.7\.25 ", "check fcrdns: PTR not confirmed -> 550")
    t.like(g, MISMATCH.encode(), "... the default text names the address")
    g = greeting(m, p_fcrdns, NOPTR)
    t.like(g, rb"^550 5\.7\.25 ", "check fcrdns: no PTR -> 550")
    g = greeting(m, p_fcrdns, GOOD)
    t.like(g, rb"^220 ", "check fcrdns: confirmed name -> 220")
    g = greeting(m, m.port, NOPTR)
    t.like(g, rb"^220 ", "a listener without check greets everyone")
    # This machine's own programs (cron, scripts) connect from the
    # server's address; it has no PTR here, and they are not checked.
    g = greeting(m, p_fcrdns, m.addr)
    t.like(g, rb"^220 ", "check fcrdns: a client on the server's own "
           "address (a local program) is not checked")

    # The confirmed name goes into Received.
    with socket.create_connection((m.addr, p_fcrdns), timeout=10,
                                  source_address=(GOOD, 0)) as s:
        c = t.SMTPConn.__new__(t.SMTPConn)
        c.addr, c.port, c.timeout = m.addr, p_fcrdns, 10.0
        c.sock, c.buf, c.tls, c.closed = s, b"", False, False
        c.greeting = c.reply()
        c.ehlo()
        mid = "rdns.%d@client.test" % os.getpid()
        r = c.send_message("sender@client.test", ["alice@example.org"],
                           "Message-ID: <%s>\r\nSubject: rdns\r\n\r\nx\r\n"
                           % mid)
        t.is_(r[3].code if r[3] else None, 250,
              "mail from the confirmed client accepted")
        c.quit()
    md = m.maildir("alice")
    t.wait_until(lambda: md.count() >= 1, 5)
    msg = md.messages()[0] if md.messages() else b""
    t.ok(("Received: from client.test (good.client.test [%s])" % GOOD)
         .encode() in msg, "Received names the checked PTR")

    # A DNS server that does not answer: 451, in bounded time.
    dns.stop()
    start = time.monotonic()
    g = greeting(m, p_rdns, GOOD, timeout=30)
    took = time.monotonic() - start
    t.like(g, rb"^451 4\.7\.25 ", "DNS down: 451 4.7.25")
    t.ok(took < 20, "... within the resolver timeout (%.1f s)" % took)
    t.like(m.log_text(), r"refused: ", "refusals are logged")
    t.ok(m.running(), "maild still running")
    t.ok(m.stop(), "maild stops cleanly")


t.run(main)
