#!/usr/bin/env python3
# Checking inbound mail (issue 12), end to end: clients on the Internet
# (loopback addresses maild counts as remote, MAILD_TEST_REMOTE_NET) send
# over SMTP; the test's dnsmasq serves SPF, DKIM and DMARC records;
# messages are signed by dkimpy.  Mail that passes carries one
# Authentication-Results header that python3-authres parses, with the
# results dkimpy and pyspf would give; DMARC p=reject failures and
# unauthenticated mail From our own domain are refused at the end of
# DATA with 550 5.7.1; p=quarantine failures and SPF fails without DMARC
# land in Junk; a DNS failure of the DMARC lookup gives 451 4.7.5; a
# forged Authentication-Results naming our host is removed; a logged-in
# user's mail is not checked.
import base64
import email
import os
import socket
import subprocess
import sys

SYSPY = "/usr/bin/python3"
try:
    import authres  # noqa: F401
    import dkim  # noqa: F401
except ImportError:
    # Debian's python3-dkim and python3-authres are the system Python's.
    if os.path.realpath(sys.executable) != os.path.realpath(SYSPY) and \
            os.path.exists(SYSPY) and not os.environ.get("MSGAUTH_T_REEXEC"):
        os.environ["MSGAUTH_T_REEXEC"] = "1"
        os.execv(SYSPY, [SYSPY] + sys.argv)

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

N = t.test_index()
NET = "127.0.%d.0/24" % N
GOOD = "127.0.%d.5" % N            # allowed by sender.test's SPF
OTHER = "127.0.%d.6" % N           # allowed by nobody
HOST = "mx.test"
PW = t.IMAP_PASSWORDS["alice@example.org"]


def openssl(*args):
    return subprocess.run(["openssl"] + list(args), check=True,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).stdout


def txt_option(name, value):
    parts = [value[i:i + 250] for i in range(0, len(value), 250)]
    return "--txt-record=%s,%s" % (name, ",".join(parts))


def send(m, src, mailfrom, rcpt, data):
    """One message from address src; the final reply (SMTPReply)."""
    s = socket.create_connection((m.addr, m.port), timeout=30,
                                 source_address=(src, 0))
    c = t.SMTPConn.__new__(t.SMTPConn)
    c.addr, c.port, c.timeout = m.addr, m.port, 30.0
    c.sock, c.buf, c.tls, c.closed = s, b"", False, False
    c.greeting = c.reply()
    c.ehlo("client.sender.test")
    r = c.send_message(mailfrom, [rcpt], data)
    c.quit()
    return r[3] if r[3] is not None else r[1][0]


def message(frm, subject, extra=""):
    return ("From: %s\r\nTo: bob@example.org\r\nSubject: %s\r\n"
            "Message-ID: <%s.%d@test>\r\nDate: Mon, 07 Dec 2026 10:00:00 "
            "+0000\r\n%s\r\nHello.\r\n" % (frm, subject,
                                           subject.replace(" ", "-"),
                                           os.getpid(), extra)).encode()


def sign(data, domain, selector, key):
    import dkim
    sig = dkim.sign(data, selector.encode(), domain.encode(), key,
                    include_headers=[b"from", b"to", b"subject"])
    return sig + data


def find(md, subject, folder=None):
    msgs = md.messages() if folder is None else folder_msgs(md, folder)
    return [x for x in msgs if b"Subject: " + subject.encode() in x]


def folder_msgs(md, folder):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(md.path, "." + folder, sub)
        if os.path.isdir(d):
            for f in sorted(os.listdir(d)):
                with open(os.path.join(d, f), "rb") as fh:
                    out.append(fh.read())
    return out


def authres(msg):
    import authres as ar
    h = email.message_from_bytes(msg).get_all("Authentication-Results")
    return h or [], ar


def results(msg):
    """{method: (result, {ptype.property: value})} of our A-R header."""
    hs, ar = authres(msg)
    out = {}
    for h in hs:
        p = ar.AuthenticationResultsHeader.parse(
            "Authentication-Results: " + " ".join(str(h).split()))
        if p.authserv_id != HOST:
            continue
        for r in p.results:
            props = {"%s.%s" % (x.type, x.name): x.value
                     for x in r.properties}
            out.setdefault(r.method, []).append((r.result, props))
    return out


def main():
    for mod in ("dkim", "authres"):
        if subprocess.run(["/usr/bin/python3", "-c", "import " + mod],
                          stderr=subprocess.DEVNULL).returncode != 0:
            t.skip_all("python3 module %s is missing "
                       "(scripts/install-deps)" % mod)
    m = t.Maild(imap=True, remote_net=NET, extra="")
    key = os.path.join(m.dir, "sender.key")
    openssl("genrsa", "-out", key, "2048")
    with open(key, "rb") as f:
        pem = f.read()
    pub = base64.b64encode(openssl("rsa", "-in", key, "-pubout",
                                   "-outform", "DER")).decode()
    dns = t.Dnsmasq([
        txt_option("sender.test", "v=spf1 ip4:%s -all" % GOOD),
        txt_option("_dmarc.sender.test", "v=DMARC1; p=reject"),
        txt_option("s1._domainkey.sender.test",
                   "v=DKIM1; k=rsa; p=" + pub),
        txt_option("bank.test", "v=spf1 -all"),
        txt_option("_dmarc.bank.test", "v=DMARC1; p=reject"),
        txt_option("quar.test", "v=spf1 -all"),
        txt_option("_dmarc.quar.test", "v=DMARC1; p=quarantine"),
        txt_option("nodmarc.test", "v=spf1 -all"),
        # dnsmasq forwards this zone to a port where nobody answers
        "--server=/tempfail.test/127.0.0.1#9",
    ]).start()
    sub = t.test_port(1)
    m.extra = "\n".join([
        dns.conf(),
        "listen on %s port %d tls-require pki mail auth <passwd>"
        % (t.test_addr(), sub)])
    m.write_files()
    m.start()
    md = m.maildir("bob")

    # 1. Signed, SPF pass, DMARC pass: delivered with the results.
    data = sign(message("Sender <a@sender.test>", "good one"),
                "sender.test", "s1", pem)
    r = send(m, GOOD, "a@sender.test", "bob@example.org", data)
    t.is_(r.code if r else None, 250, "signed mail from an SPF-allowed "
          "address is accepted")
    t.wait_until(lambda: find(md, "good one"), 10)
    got = find(md, "good one")
    msg = got[0] if got else b""
    res = results(msg)
    t.is_(res.get("spf", [("", {})])[0][0], "pass", "spf=pass")
    t.is_(res.get("spf", [("", {})])[0][1].get("smtp.mailfrom"),
          "a@sender.test", "... smtp.mailfrom")
    t.is_(res.get("dkim", [("", {})])[0][0], "pass", "dkim=pass")
    t.is_(res.get("dkim", [("", {})])[0][1].get("header.d"),
          "sender.test", "... header.d")
    t.is_(res.get("dkim", [("", {})])[0][1].get("header.s"), "s1",
          "... header.s")
    t.ok(len(res.get("dkim", [("", {})])[0][1].get("header.b", "")) >= 8,
         "... header.b, 8 characters or more")
    t.is_(res.get("dmarc", [("", {})])[0][0], "pass", "dmarc=pass")
    t.is_(res.get("dmarc", [("", {})])[0][1].get("header.from"),
          "sender.test", "... header.from")
    t.is_(res.get("arc", [("", {})])[0][0], "none", "arc=none")
    t.like(msg, rb"\r\nDelivered-To: bob@example\.org\r\n"
           rb"Authentication-Results: mx\.test;",
           "Authentication-Results follows Delivered-To")

    # 2. The same signature over a changed body, from another address:
    # SPF fails, DKIM fails, DMARC p=reject: refused at DATA.
    bad = data.replace(b"Hello.", b"Hellp.")
    r = send(m, OTHER, "a@sender.test", "bob@example.org", bad)
    t.is_(r.code if r else None, 550, "DMARC p=reject failure: 550")
    t.like(r.text if r else "", r"^5\.7\.1 ", "... 5.7.1")

    # 3. Unsigned, From a p=reject domain whose SPF allows nobody.
    r = send(m, GOOD, "ceo@bank.test", "bob@example.org",
             message("CEO <ceo@bank.test>", "wire money"))
    t.is_(r.code if r else None, 550, "forged bank mail: 550")

    # 4. p=quarantine: delivered to Junk.
    r = send(m, GOOD, "x@quar.test", "bob@example.org",
             message("x@quar.test", "quarantined"))
    t.is_(r.code if r else None, 250, "p=quarantine failure: accepted")
    t.wait_until(lambda: find(md, "quarantined", "Junk"), 10)
    t.ok(find(md, "quarantined", "Junk"), "... and in Junk")
    t.ok(not find(md, "quarantined"), "... not in INBOX")

    # 5. From our own domain, unauthenticated, no DMARC record: refused.
    r = send(m, GOOD, "x@sender.test", "bob@example.org",
             message("Alice <alice@example.org>", "spoofed own"))
    t.is_(r.code if r else None, 550, "From our own domain, not "
          "authenticated: 550")
    t.like(r.text if r else "", r"^5\.7\.1 ", "... 5.7.1")

    # 6. SPF fail, no DMARC: "spf fail-action" junk by default.
    r = send(m, GOOD, "x@nodmarc.test", "bob@example.org",
             message("x@nodmarc.test", "spf fails"))
    t.is_(r.code if r else None, 250, "SPF fail without DMARC: accepted")
    t.wait_until(lambda: find(md, "spf fails", "Junk"), 10)
    t.ok(find(md, "spf fails", "Junk"), "... into Junk")
    res = results((find(md, "spf fails", "Junk") or [b""])[0])
    t.is_(res.get("spf", [("", {})])[0][0], "fail", "... spf=fail")

    # Junk is the SPECIAL-USE \\Junk folder IMAP shows.
    c = m.imap_connect()
    c.login("bob@example.org", t.IMAP_PASSWORDS["bob@example.org"])
    r = c.command('LIST "" "*" RETURN (SPECIAL-USE)')
    junk = [u for u in r.untagged if b'"Junk"' in u or u.endswith(b" Junk")]
    t.ok(junk and b"\\Junk" in junk[0], "IMAP LIST: Junk is \\Junk (%r)"
         % junk)
    r = c.select("Junk")
    t.ok(any(u.endswith(b" EXISTS") and u.split()[1] == b"2"
             for u in r.untagged), "SELECT Junk: the 2 messages")
    c.logout()

    # 7. A forged pass in our name is removed; another host's stays.
    forged = ("Authentication-Results: %s; dkim=pass header.d=bank.test\r\n"
              "Authentication-Results: other.example; spf=pass\r\n"
              % HOST.upper())
    data = sign(message("Sender <a@sender.test>", "forged ar", forged),
                "sender.test", "s1", pem)
    r = send(m, GOOD, "a@sender.test", "bob@example.org", data)
    t.is_(r.code if r else None, 250, "a message with forged results")
    t.wait_until(lambda: find(md, "forged ar"), 10)
    msg = (find(md, "forged ar") or [b""])[0]
    hs, _ = authres(msg)
    t.is_(len(hs), 2, "... two Authentication-Results left")
    t.ok(not any("bank.test" in str(h) for h in hs),
         "... the forged one is gone")
    t.ok(any(str(h).startswith("other.example") for h in hs),
         "... the other host's is kept")

    # A DMARC aggregate report goes to the "DMARC Reports" folder.
    import gzip
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    rep = MIMEMultipart()
    rep["From"] = "Sender <a@sender.test>"
    rep["To"] = "bob@example.org"
    rep["Subject"] = "Report Domain: example.org Submitter: sender.test " \
        "Report-ID: <1234>"
    rep["Message-ID"] = "<report.%d@sender.test>" % os.getpid()
    rep.attach(MIMEText("A DMARC aggregate report.\n"))
    rep.attach(MIMEApplication(gzip.compress(
        b"<?xml version='1.0'?><feedback></feedback>"), "gzip",
        Name="sender.test!example.org!1!2.xml.gz"))
    data = sign(rep.as_bytes().replace(b"\n", b"\r\n"), "sender.test",
                "s1", pem)
    r = send(m, GOOD, "a@sender.test", "bob@example.org", data)
    t.is_(r.code if r else None, 250, "a DMARC report is accepted")
    t.wait_until(lambda: find(md, "Report Domain: example.org",
                              "DMARC Reports"), 10)
    t.ok(find(md, "Report Domain: example.org", "DMARC Reports"),
         "... into the DMARC Reports folder")
    t.ok(not find(md, "Report Domain: example.org"), "... not INBOX")

    # 8. The DMARC record cannot be looked up: 451, try later.
    r = send(m, GOOD, "x@tempfail.test", "bob@example.org",
             message("x@tempfail.test", "temp"))
    t.is_(r.code if r else None, 451, "DMARC lookup fails: 451")
    t.like(r.text if r else "", r"^4\.7\.", "... 4.7.x")

    # 9. A logged-in user's mail is not checked.
    r = subprocess.run(["swaks", "--server", "%s:%d" % (m.addr, sub),
                        "--tls", "--auth", "PLAIN", "--auth-user",
                        "alice@example.org", "--auth-password", PW,
                        "--from", "alice@example.org", "--to",
                        "bob@example.org", "--h-From",
                        "alice@example.org", "--h-Subject", "submitted",
                        "--helo", "client.test"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    t.is_(r.returncode, 0, "submission from a logged-in user")
    t.wait_until(lambda: find(md, "submitted"), 10)
    msg = (find(md, "submitted") or [b""])[0]
    t.ok(msg and b"Authentication-Results" not in msg,
         "... carries no Authentication-Results")

    t.like(m.log_text(), r"queue: message [0-9a-f]+: spf=pass",
           "a log line with the results per message")

    # The counters: 9 messages checked above (the 10th logged in).
    out = subprocess.run([os.path.join(t.REPO, "mailctl"), "-s",
                          m.socket_path, "show", "stats"],
                         stdout=subprocess.PIPE, universal_newlines=True,
                         timeout=30).stdout
    st = dict(x.split("=", 1) for x in out.splitlines() if "=" in x)
    want = {"queue.checked": "9", "queue.checked.refused": "3",
            "queue.checked.deferred": "1", "queue.checked.junk": "2",
            "queue.checked.dmarc.pass": "3", "queue.checked.dmarc.fail": "3",
            "queue.checked.dkim.pass": "3"}
    t.is_({k: st.get(k) for k in want}, want, "mailctl show stats counts "
          "the checks")
    t.ok(m.running(), "maild is still running")


t.run(main)
