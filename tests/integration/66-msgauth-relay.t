#!/usr/bin/env python3
# Checking inbound mail between two maild servers (issue 12): maild B,
# the server of remote.test, signs its users' mail with DKIM and relays
# it to maild A, the MX of example.org (MAILD_TEST_RELAY_PORT); A counts
# every loopback client as remote (MAILD_TEST_REMOTE_NET) and checks
# what arrives.  B's signed mail passes SPF, DKIM and DMARC at A; mail a
# B user sends From a p=reject domain it does not own (B relays it, any
# sender) is refused by A at DATA with 550 5.7.1, which B records (and
# would bounce to the sender); "mailctl check" on A's copy gives the
# same results as the header A wrote.  Mail A forwards (an alias of a
# B user) keeps B's DKIM signature intact.
import base64
import email
import os
import re
import subprocess
import sys

SYSPY = "/usr/bin/python3"
try:
    import authres  # noqa: F401
    import dkim  # noqa: F401
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath(SYSPY) and \
            os.path.exists(SYSPY) and not os.environ.get("MSGAUTH_T_REEXEC"):
        os.environ["MSGAUTH_T_REEXEC"] = "1"
        os.execv(SYSPY, [SYSPY] + sys.argv)

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

N = t.test_index()
A_ADDR = "127.0.%d.1" % N
B_ADDR = "127.0.%d.2" % N
PORT = t.test_port(0)              # both: each is the other's MX
PW = "carol-pw"
MAILCTL = os.path.join(t.REPO, "mailctl")


def openssl(*args):
    return subprocess.run(["openssl"] + list(args), check=True,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).stdout


def txt_option(name, value):
    parts = [value[i:i + 250] for i in range(0, len(value), 250)]
    return "--txt-record=%s,%s" % (name, ",".join(parts))


def submit(b, port, frm, subject, rcpt="bob@example.org"):
    c = t.SMTPConn(b.addr, port)
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("carol@remote.test", PW))
    if r.code != 235:
        raise t.SMTPError("AUTH: %s" % r)
    data = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
            "Message-ID: <%s.%d@remote.test>\r\n\r\nHello.\r\n"
            % (frm, rcpt, subject, subject.replace(" ", "."), os.getpid()))
    r = c.send_message(frm.split("<")[-1].rstrip(">"), [rcpt], data)
    c.quit()
    return r[3]


def ar_results(msg):
    import authres as ar
    out = {}
    for h in email.message_from_bytes(msg).get_all(
            "Authentication-Results") or []:
        p = ar.AuthenticationResultsHeader.parse(
            "Authentication-Results: " + " ".join(str(h).split()))
        if p.authserv_id != "mx.test":
            continue
        for r in p.results:
            out[r.method] = r.result
    return out


def main():
    if subprocess.run([SYSPY, "-c", "import authres"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        t.skip_all("python3-authres is missing (scripts/install-deps)")
    a = t.Maild(addr=A_ADDR, port=PORT, name="a", domains=("example.org",),
                remote_net="127.0.0.0/8", relay_port=PORT,
                virtuals=t.DEFAULT_VIRTUALS +
                "fwd@example.org carol@remote.test\n", extra="")
    b = t.Maild(addr=B_ADDR, port=PORT, name="b", domains=("remote.test",),
                relay_port=PORT, imap=False,
                passwd="carol@remote.test %s\n" % t.hash_password(PW),
                virtuals="carol@remote.test vmail\n", extra="")
    key = os.path.join(b.dir, "b.key")
    openssl("genrsa", "-out", key, "2048")
    os.chmod(key, 0o600)
    pub = base64.b64encode(openssl("rsa", "-in", key, "-pubout",
                                   "-outform", "DER")).decode()
    dns = t.Dnsmasq([
        "--host-record=mx.example.org,%s" % A_ADDR,
        "--mx-host=example.org,mx.example.org,10",
        "--host-record=mx.remote.test,%s" % B_ADDR,
        "--mx-host=remote.test,mx.remote.test,10",
        # B's mail leaves from the loopback's first address.
        txt_option("remote.test", "v=spf1 ip4:127.0.0.1 ip4:%s -all"
                   % B_ADDR),
        txt_option("_dmarc.remote.test", "v=DMARC1; p=reject"),
        txt_option("s1._domainkey.remote.test", "v=DKIM1; k=rsa; p=" + pub),
        txt_option("bank.test", "v=spf1 -all"),
        txt_option("_dmarc.bank.test", "v=DMARC1; p=reject"),
    ]).start()
    sub = t.test_port(3)
    a.extra = "\n".join([dns.conf(), 'action "out" relay',
                         'match from local for any action "out"'])
    b.extra = "\n".join([
        dns.conf(),
        'dkim remote.test selector s1 key "%s"' % key,
        'action "out" relay',
        'match auth from any for any action "out"',
        "listen on %s port %d tls-require pki mail auth <passwd> "
        "any-sender" % (B_ADDR, sub)])
    # B's own name: B removes results in its name, A's must stay.
    text = b.config_text
    b.config_text = lambda: text().replace('hostname "mx.test"',
                                           'hostname "mx.remote.test"')
    a.write_files()
    b.write_files()
    a.start()
    b.start()
    md = a.maildir("bob")

    r = submit(b, sub, "Carol <carol@remote.test>", "from b")
    t.is_(r.code if r else None, 250, "B takes carol's mail")
    t.wait_until(lambda: any(b"Subject: from b" in x
                             for x in md.messages()), 20)
    msgs = [x for x in md.messages() if b"Subject: from b" in x]
    t.is_(len(msgs), 1, "A delivered B's signed mail")
    msg = msgs[0] if msgs else b""
    t.like(msg, rb"DKIM-Signature: [^\r]*\r?\n?[^\r]*d=remote\.test|"
           rb"d=remote\.test", "signed by B")
    res = ar_results(msg)
    t.is_(res, {"spf": "pass", "dkim": "pass", "dmarc": "pass",
                "arc": "none"}, "A: spf, dkim and dmarc pass")

    # mailctl check on A's copy, without what A prepended: the same.
    raw = msg.split(b"\r\nAuthentication-Results: ", 1)
    orig = msg[msg.find(b"DKIM-Signature"):] if raw else b""
    path = os.path.join(a.dir, "copy.eml")
    with open(path, "wb") as f:
        f.write(orig)
    out = subprocess.run([MAILCTL, "-f", a.conf, "check", "-i",
                          "127.0.0.1", "-h", "b.test", "-m",
                          "carol@remote.test", path],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=60)
    t.is_(out.returncode, 0, "mailctl check runs")
    t.like(out.stdout, r"spf=pass", "mailctl check: spf=pass")
    t.like(out.stdout, r"dkim=pass", "mailctl check: dkim=pass")
    t.like(out.stdout, r"dmarc=pass", "mailctl check: dmarc=pass")
    t.like(out.stdout, r"Verdict: accept", "mailctl check: accept")
    out = subprocess.run([MAILCTL, "-f", a.conf, "check", "-i",
                          "192.0.2.1", "-m", "carol@remote.test", "-"],
                         input=orig.replace(b"Hello.", b"Bye."),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=60)
    t.like(out.stdout, rb"dkim=fail", "mailctl check, changed body, "
           "another address: dkim=fail")
    t.like(out.stdout, rb"spf=fail", "... spf=fail")
    t.like(out.stdout, rb"Verdict: refuse: 550 5\.7\.1 ", "... refuse")

    # Forwarded: to A's alias of carol, so back to B.  A's relay adds
    # its Received and Authentication-Results and changes nothing else:
    # B's signature still verifies where the mail ends up.
    r = submit(b, sub, "Carol <carol@remote.test>", "round trip",
               rcpt="fwd@example.org")
    t.is_(r.code if r else None, 250, "B takes mail for A's alias")
    cmd = b.maildir("carol", "remote.test")
    t.wait_until(lambda: any(b"Subject: round trip" in x
                             for x in cmd.messages()), 20)
    got = [x for x in cmd.messages() if b"Subject: round trip" in x]
    t.is_(len(got), 1, "forwarded by A back to carol at B")
    fwd = got[0] if got else b""
    t.is_(ar_results(fwd).get("dkim"), "pass", "... with A's results")
    import dkim
    txt = ("v=DKIM1; k=rsa; p=" + pub).encode()
    t.ok(dkim.verify(fwd, dnsfunc=lambda name, timeout=5: txt),
         "... and B's DKIM signature intact (dkimpy)")

    # A forged sender: B relays it (any-sender), A refuses it.
    r = submit(b, sub, "CEO <ceo@bank.test>", "forged by b")
    t.is_(r.code if r else None, 250, "B takes the forged mail")
    refused = r"550 5\.7\.1 Message rejected by the DMARC policy of " \
        r"bank\.test"
    t.wait_until(lambda: re.search(refused, b.log_text()), 20)
    t.like(b.log_text(), refused, "B's log has A's refusal")
    t.ok(not any(b"forged by b" in x for x in md.messages()),
         "A did not deliver it")
    t.like(a.log_text(), r"dmarc=fail \(bank\.test\)[^\n]*: reject",
           "A logs the DMARC failure")


t.run(main)
