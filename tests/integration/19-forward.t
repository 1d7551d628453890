#!/usr/bin/env python3
# A recipient that has to leave the machine (an alias to a remote
# address, or a relay rule for local clients) is accepted and relayed
# to the remote domain's MX (here a second maild, found through
# dnsmasq); other recipients of the same transaction still get their
# local copy, and the queue is empty afterwards.  The MX port is the
# test's (MAILD_TEST_RELAY_PORT), and stays so after a reload.
import os
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

VIRTUALS = t.DEFAULT_VIRTUALS + "fwd@example.org someone@remote.test\n"
N = t.test_index()
MX_ADDR = "127.0.%d.1" % N
RELAY_PORT = t.test_port(5)
MAILCTL = os.path.join(t.REPO, "mailctl")


def send(m, rcpt, msgid):
    with m.connect() as c:
        c.ehlo()
        c.cmd("MAIL FROM:<s@client.test>")
        if c.cmd("RCPT TO:<%s>" % rcpt).code != 250 or \
                c.cmd("DATA").code != 354:
            return False
        c.send(t.make_message(msgid) + b".\r\n")
        ok = c.reply(10).code == 250
        c.quit()
    return ok


def main():
    if t.Dnsmasq.binary() is None:
        t.skip_all("dnsmasq is not installed")
    dns = t.Dnsmasq(["--mx-host=remote.test,mx.remote.test,10",
                     "--host-record=mx.remote.test,%s" % MX_ADDR]).start()
    remote = t.Maild(addr=MX_ADDR, port=RELAY_PORT, name="maild-remote",
                     domains=("remote.test",),
                     virtuals="someone@remote.test vmail\n"
                              "x@remote.test vmail\n").start()
    m = t.Maild(virtuals=VIRTUALS, relay_port=RELAY_PORT,
                extra="\n".join([dns.conf(),
                                 'action "out" relay',
                                 'match from local for any action "out"'])
                ).start()
    with m.connect() as c:
        c.ehlo()
        t.is_(c.cmd("MAIL FROM:<s@client.test>").code, 250, "MAIL")
        r = c.cmd("RCPT TO:<fwd@example.org>")
        t.is_(r.code, 250, "alias to a remote address: 250 (%s)" % r)
        r = c.cmd("RCPT TO:<x@remote.test>")
        t.is_(r.code, 250, "relay rule from local: 250 (%s)" % r)
        t.is_(c.cmd("RCPT TO:<alice@example.org>").code, 250,
              "a local recipient in the same transaction: 250")
        t.is_(c.cmd("DATA").code, 354, "DATA")
        c.send(t.make_message("fwd.%d@client.test" % os.getpid()) +
               b".\r\n")
        t.is_(c.reply(10).code, 250, "message accepted")
        c.quit()
    t.ok(m.maildir("alice").wait(1), "alice got it")
    t.ok(remote.maildir("someone", "remote.test").wait(1),
         "the alias's remote address got it")
    t.ok(remote.maildir("x", "remote.test").wait(1),
         "the remote recipient got it")
    t.like(remote.log_text(), r"accepted: from=<s@client\.test> .* nrcpt=2",
           "both remote recipients in one transaction")
    t.ok(t.wait_until(lambda: not any(m.queue_entries().values()), 5),
         "nothing left in the queue")

    # The relay port is not in mail.conf: a reload keeps it.
    r = subprocess.run([MAILCTL, "-s", m.socket_path, "reload"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    t.is_(r.returncode, 0, "mailctl reload exits 0")
    before = len(remote.maildir("x", "remote.test").messages())
    t.ok(send(m, "x@remote.test", "again.%d@client.test" % os.getpid()),
         "after the reload: accepted")
    t.ok(t.wait_until(lambda: len(remote.maildir(
        "x", "remote.test").messages()) > before, 10),
         "after the reload: relayed to the test's MX port")
    m.stop()
    remote.stop()


t.run(main)
