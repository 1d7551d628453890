#!/usr/bin/env python3
# DKIM signs only for the sender (issue 10, finding 3).  Logged in as
# alice@example.org, a message From boss@example.jp used to be signed
# d=example.jp, so DMARC passed for a forgery; any program on this
# machine got mail signed for any hosted domain.  Now a logged-in user's
# From header must be one address of theirs (their own, or one the
# virtual table delivers to them: the MAIL FROM rule), else 550 5.7.1, or
# unsigned with "from-mismatch unsigned"; "any-sender" lifts the rule;
# mail from this machine is signed only for "dkim local domain" domains.
import email
import os
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

PW = t.IMAP_PASSWORDS["alice@example.org"]
VIRTUALS = t.DEFAULT_VIRTUALS + "sales@example.jp alice@example.org\n"
_n = [0]


def keygen(path):
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out",
                    path], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    os.chmod(path, 0o600)


def send(m, port, header, auth=True):
    """Submit a message whose header starts with header (From lines);
    (final reply code, Subject tag) or (code of the failing step, tag)."""
    _n[0] += 1
    tag = "msg%d" % _n[0]
    with t.SMTPConn(m.addr, port) as c:
        c.ehlo()
        if auth:
            c.starttls()
            c.ehlo()
            r = c.cmd("AUTH PLAIN " + t.sasl_plain("alice@example.org", PW))
            if r.code != 235:
                return r.code, tag
        data = (header + "Subject: %s\r\nMessage-ID: <%s@t>\r\n\r\nbody\r\n"
                % (tag, tag)).encode()
        _, _, _, fr = c.send_message("alice@example.org",
                                     ["bob@example.org"], data)
        c.quit()
    return (fr.code if fr else None), tag


def delivered(m, tag):
    md = m.maildir("bob")
    needle = ("Subject: %s\r\n" % tag).encode()
    t.wait_until(lambda: any(needle in x for x in md.messages()), 5)
    return [x for x in md.messages() if needle in x]


def signers(msg):
    sigs = email.message_from_bytes(msg).get_all("DKIM-Signature") or []
    out = []
    for s in sigs:
        for part in str(s).replace("\r\n", "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "d":
                out.append(v.strip())
    return out


def case(m, port, header, want_code, want_d, name, auth=True):
    code, tag = send(m, port, header, auth)
    t.is_(code, want_code, "%s: %s" % (name, want_code))
    got = delivered(m, tag) if want_code == 250 else []
    if want_code == 250:
        t.is_(signers(got[0]) if got else None, want_d,
              "%s: signed %s" % (name, want_d or "by nobody"))
    else:
        t.is_([x for x in m.maildir("bob").messages()
               if ("Subject: %s\r\n" % tag).encode() in x], [],
              "%s: nothing delivered" % name)


def main():
    sub, unsigned, anys = t.test_port(1), t.test_port(2), t.test_port(3)
    m = t.Maild(imap=True, virtuals=VIRTUALS,
                domains=("example.org", "example.net", "example.jp"))
    keys = {}
    for dom in ("example.org", "example.jp"):
        keys[dom] = os.path.join(m.dir, "%s.key" % dom)
        keygen(keys[dom])
    a = t.test_addr()
    m.extra = "\n".join([
        'dkim example.org selector s key "%s"' % keys["example.org"],
        'dkim example.jp selector s key "%s"' % keys["example.jp"],
        'dkim local domain "example.org"',
        "listen on %s port %d tls-require pki mail auth <passwd>" % (a, sub),
        "listen on %s port %d tls-require pki mail auth <passwd> "
        "from-mismatch unsigned" % (a, unsigned),
        "listen on %s port %d tls-require pki mail auth <passwd> "
        "any-sender" % (a, anys)])
    m.write_files()
    m.start()

    # -- a logged-in user: From must be theirs
    case(m, sub, "From: boss@example.jp\r\n", 550, None,
         "From another hosted domain's user")
    case(m, sub, 'From: "Alice" <alice@example.org>\r\n', 250,
         ["example.org"], "own address with a display name")
    case(m, sub, "From: alice@example.org (Alice)\r\n", 250,
         ["example.org"], "own address with a comment")
    case(m, sub, "From: sales@example.jp\r\n", 250, ["example.jp"],
         "an address the virtual table delivers to the user")
    case(m, sub, "FROM : Alice\r\n <alice@example.org>\r\n", 250,
         ["example.org"], "folded, obsolete space before the colon")
    case(m, sub, 'From: "boss@example.jp" <alice@example.org>\r\n', 250,
         ["example.org"], "a display name that looks like an address")
    case(m, sub, "From:\r\n boss@example.jp\r\n", 550, None,
         "folded From of another user")
    case(m, sub, "From: alice@example.org\r\nFrom: boss@example.jp\r\n",
         550, None, "two From fields")
    case(m, sub, "From: alice@example.org, boss@example.jp\r\n", 550, None,
         "two addresses in From")
    case(m, sub, "From: team: alice@example.org;\r\n", 550, None,
         "a group in From")
    case(m, sub, "From: <alice@example.org> <boss@example.jp>\r\n", 550,
         None, "two angle addresses")
    case(m, sub, "From: \"Alice <alice@example.org>\r\n", 550, None,
         "an unterminated quote")
    case(m, sub, "From: " + "x" * 900 + "\r\n " + "y" * 900 + "\r\n " +
         "z" * 900 + " <alice@example.org>\r\n", 550, None,
         "a From field too long to judge (2,700 bytes, folded)")
    case(m, sub, "To: bob@example.org\r\n", 250, [],
         "no From: accepted, nothing to sign")
    t.like(m.log_text(), r"\(alice@example\.org\) sent From "
           r"<boss@example\.jp>: refused", "the refusal is logged")

    # -- from-mismatch unsigned: accepted, not signed
    case(m, unsigned, "From: boss@example.jp\r\n", 250, [],
         "from-mismatch unsigned, another user")
    case(m, unsigned, "From: alice@example.org\r\n", 250, ["example.org"],
         "from-mismatch unsigned, own address")
    # -- any-sender: anything goes, and is signed
    case(m, anys, "From: boss@example.jp\r\n", 250, ["example.jp"],
         "any-sender")

    # -- this machine (port 25 on loopback, no login): dkim local only
    case(m, m.port, "From: root@example.org\r\n", 250, ["example.org"],
         "local, a dkim local domain", auth=False)
    case(m, m.port, "From: boss@example.jp\r\n", 250, [],
         "local, not a dkim local domain", auth=False)

    # configuration
    bad = os.path.join(m.dir, "bad.conf")
    for text, err in (
            ("listen on %s port %d from-mismatch unsigned" % (a, sub + 50),
             "from-mismatch applies to SMTP listeners with auth"),
            ("listen on %s port %d tls pki mail auth <passwd> any-sender "
             "from-mismatch unsigned" % (a, sub + 50),
             "from-mismatch applies"),
            ("listen on %s port %d tls pki mail auth <passwd> "
             "from-mismatch maybe" % (a, sub + 50),
             "expected refuse or unsigned"),
            ('dkim local domain "bad..name"', "invalid dkim local domain"),
            ('dkim local domain "example.org"', "already given")):
        with open(m.conf) as f:
            base = f.read()
        with open(bad, "w") as f:
            f.write(base + text + "\n")
        r = subprocess.run([t.maild_path(), "-n", "-f", bad],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        t.ok(r.returncode != 0 and err in r.stdout and
             "bad.conf:" in r.stdout, "maild -n refuses %r (%s)"
             % (text, r.stdout.strip().splitlines()[-1:]))
    t.ok(m.running(), "maild still running")
    m.stop()


t.run(main)
