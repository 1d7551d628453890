#!/usr/bin/env python3
# maild-import-opensmtpd: the seed setup's smtpd.conf and dovecot.conf
# (tests/data/seed/, as users run them) become a mail.conf with the dkim
# line, the listeners (587 STARTTLS and 465 smtps for "port submission
# smtps"), the rdns messages without "550 ", the rules in order, and a
# "# not converted" comment for everything maild cannot do.  The same
# files with paths of real fixtures convert into a mail.conf that "maild
# -n" accepts and that a real maild runs: port 25 refuses a client
# without rDNS with the converted message, submission AUTH and IMAPS
# LOGIN work with one bcrypt passwd line.  Bad input, -o over an
# existing file, and every installed POSIX shell and awk are checked.
# The spam filters (tests/data/import/filters.conf): filter-dnsbl lists
# become dnsbl and dnswl lines and "dnsbl no|yes" where maild's default
# differs, -m and filter-senderscore are explained with the lines they
# would need, filter-rspamd becomes "rspamd url"; the output, rspamd
# lines included, passes "maild -n".
import os
import re
import socket
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

SCRIPT = os.path.join(t.REPO, "scripts", "maild-import-opensmtpd")
MAILCTL = os.path.join(t.REPO, "mailctl")
SEED = os.path.join(t.REPO, "tests", "data", "seed")
EDGE = os.path.join(t.REPO, "tests", "data", "import", "edge.conf")
FILTERS = os.path.join(t.REPO, "tests", "data", "import", "filters.conf")
MAN = os.path.join(t.REPO, "man", "maild-import-opensmtpd.8")
PW = "seed-user-pw"


def conv(*args, shell="sh", awk=None, cwd=None):
    env = dict(os.environ)
    if awk:
        env["AWK"] = awk
    r = subprocess.run(shell.split() + [SCRIPT] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=60, env=env,
                       cwd=cwd or t.REPO, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def active(text):
    """The statements of a mail.conf: no comments, no blank lines."""
    return [x for x in text.splitlines() if x and not x.startswith("#")]


def maild_n(path):
    r = subprocess.run([t.maild_path(), "-n", "-f", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout


def seed_output():
    rc, out, err = conv("-d", "tests/data/seed/dovecot.conf",
                        "tests/data/seed/smtpd.conf")
    t.is_(rc, 0, "seed: converted, exit 0")
    lines = active(out)
    t.is_(lines[0], 'hostname "mail.example.jp"', "hostname first")
    for want in (
            'pki example.jp cert "/etc/ssl/mail.example.jp.fullchain.pem"',
            'pki example.jp key "/etc/ssl/private/mail.example.jp.key"',
            'table passwd file:/etc/mail/passwd',
            'table virtuals file:/etc/mail/virtuals',
            'dkim mail.example.jp selector selector1 key '
            '"/etc/mail/dkim/private.key"',
            'listen on * port smtp tls pki example.jp '
            'check { rdns, fcrdns }',
            'smtp rdns-message "no rDNS."',
            'smtp fcrdns-message "no FCrDNS."',
            'listen on * port submission tls-require pki example.jp '
            'auth <passwd> mask-src',
            'listen on * port smtps smtps pki example.jp auth <passwd> '
            'mask-src',
            'listen on * port imaps imaps pki example.jp auth <passwd>',
            'action "domain" maildir "/var/vmail/%{dest.domain:lowercase}/'
            '%{dest.user:lowercase}" virtual <virtuals>',
            'action "outbound" relay'):
        t.ok(want in lines, "seed: line %s" % want)
    t.is_([x for x in lines if x.startswith("match ")], [
        'match from any for domain "example.jp" action "domain"',
        'match from local for any action "outbound"',
        'match auth from any for any action "outbound"'],
        "seed: the converted rules, in their order")
    t.is_(len(lines), 17, "seed: 17 statements, nothing more")
    t.unlike(out, r"(?m)^table aliases", "seed: no aliases table")
    for orig in ('table aliases file:/etc/mail/aliases',
                 'listen on socket', 'listen on lo0',
                 'action "local_mail" mbox alias <aliases>',
                 'match from local for local action "local_mail"',
                 'ssl_dh = </etc/ssl/dh.pem'):
        t.like(out, r"(?m)^# not converted: %s" % re.escape(orig),
               "seed: commented: %s" % orig)
    t.like(out, r"(?s)# not converted: action \"local_mail\".*?\n#   "
           r"maild delivers into Maildirs only.*?no mbox",
           "seed: the reason for the mbox action")
    t.like(out, r"(?s)# not converted: listen on socket\n#   maild has no "
           r"local socket", "seed: the reason for listen on socket")
    t.unlike(out, r"NOTE: maild signs|dkim example\.jp selector",
             "seed: no second dkim line: d=mail.example.jp signs mail From "
             "example.jp (relaxed alignment), as filter-dkimsign did")
    flat = re.sub(r"\n#   ", " ", out)
    t.like(flat, r"port submission smtps was TLS from the first byte on "
           r"port 587\. maild does as RFC 8314 says: STARTTLS, required, on "
           r"587, and TLS from the first byte on 465 \(smtps\)\. Switch the "
           r"mail clients to port 587 with STARTTLS, or to port 465",
           "seed: comment on 587 implicit TLS -> 587 STARTTLS + 465")
    t.like(out, r"mail_location = maildir:~ with home = /var/vmail/%d/%n "
           r"is /var/vmail/%d/%n,\n#\s+the Maildir of action \"domain\"",
           "seed: Dovecot's mail location is the maildir action's")
    t.ok(all(not x.rstrip().endswith("\\") for x in out.splitlines()
             if x.startswith("#")), "no comment ends in a backslash")
    t.like(err, r"smtpd\.conf:17: not converted: maild delivers into "
           r"Maildirs only", "stderr: file:line of the mbox action")
    t.like(err, r"dovecot\.conf:5: not converted: ssl_dh",
           "stderr: the dovecot line too")
    t.like(err, r"6 statements not converted", "stderr: the count")
    t.unlike(err, r"maild signs by From domain",
             "stderr: no dkim From domain warning for the seed")
    return out


def shells_and_awks(ref):
    """The same output under every POSIX shell and awk installed."""
    shells = [s for s in ("dash", "posh", "busybox sh", "mksh", "ksh",
                          "bash --posix") if t.have(s.split()[0])]
    awks = [a for a in ("mawk", "original-awk", "nawk", "busybox awk",
                        "gawk --posix") if t.have(a.split()[0])]
    t.ok("dash" in shells, "dash is installed (scripts/install-deps)")
    for sh in shells:
        rc, out, _ = conv("-d", "tests/data/seed/dovecot.conf",
                          "tests/data/seed/smtpd.conf", shell=sh)
        t.ok(rc == 0 and out == ref, "same output under %s" % sh)
    for awk in awks:
        rc, out, _ = conv("-d", "tests/data/seed/dovecot.conf",
                          "tests/data/seed/smtpd.conf", shell="dash",
                          awk=awk)
        t.ok(rc == 0 and out == ref, "same output with AWK=%s" % awk)
    if not t.have("posh"):
        t.skip("posh is not installed")
    if not t.have("original-awk"):
        t.skip("original-awk (OpenBSD's awk) is not installed")


def man_example(ref, d):
    """The EXAMPLES of the manual, folded lines and all, convert to the
    same statements as the seed files."""
    text = open(MAN).read()
    blocks = re.findall(r"\.Bd -literal -offset indent\n(.*?)\n\.Ed",
                        text, re.S)
    smtpd, dove = os.path.join(d, "man-smtpd.conf"), os.path.join(
        d, "man-dovecot.conf")
    for path, block in ((smtpd, blocks[0]), (dove, blocks[1])):
        with open(path, "w") as f:
            f.write(block.replace("\\e", "\\") + "\n")
    rc, out, _ = conv("-d", dove, smtpd)
    t.is_(active(out), active(ref), "the manual's example converts as the "
          "seed files do")
    shown = [x.replace("\\e", "\\") for x in blocks[3].splitlines()]
    joined = "\n".join(shown).replace(" \\\n\t", " ").splitlines()
    t.is_(joined, active(ref), "the manual shows the converted statements")


def bad_input(d):
    rc, out, err = conv(os.path.join(d, "missing.conf"))
    t.ok(rc == 1 and "missing.conf: no such file" in err and out == "",
         "missing file: exit 1, message")
    rc, out, err = conv("-d", d, "tests/data/seed/smtpd.conf")
    t.ok(rc == 1 and "is a directory" in err, "directory: exit 1")
    binf = os.path.join(d, "bin.conf")
    with open(binf, "wb") as f:
        f.write(b"listen on lo0\n\0\x01\x02binary\n")
    rc, out, err = conv(binf)
    t.ok(rc == 1 and "NUL" in err and out == "", "NUL bytes: exit 1")
    rc, out, err = conv()
    t.ok(rc == 2 and "usage:" in err, "no argument: usage, exit 2")
    rc, out, err = conv("-q", "x")
    t.is_(rc, 2, "unknown option: exit 2")
    if os.geteuid() != 0:
        unreadable = os.path.join(d, "unreadable.conf")
        open(unreadable, "w").close()
        os.chmod(unreadable, 0)
        rc, out, err = conv(unreadable)
        t.ok(rc == 1 and "cannot be read" in err, "unreadable: exit 1")
    else:
        t.skip("root reads any file")
    # Hostile but readable: control characters never reach mail.conf raw.
    ctl = os.path.join(d, "ctl.conf")
    with open(ctl, "wb") as f:
        f.write(b'pki a cert "/x\x1by" key "/k"\n'
                b'weird\x07 statement "\\\n'
                b'match from any for domain "a\x1b.test" action nope\n')
    rc, out, err = conv(ctl)
    t.is_(rc, 0, "control characters: converted")
    t.ok(not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out),
         "control characters: none in the output")
    t.like(out, r"(?m)^# not converted: weird\? statement",
           "an unknown statement is a comment")
    t.like(out, r"(?m)^#   unterminated quoted string",
           "... with the lexer's reason")


def edge_cases():
    rc, out, err = conv(EDGE)
    t.is_(rc, 0, "edge cases: exit 0")
    lines = active(out)
    for want in (
            'pki mx.example.net cert "/etc/ssl/mx.crt" key '
            '"/etc/ssl/private/mx.key"',
            'smtp max-message-size 50M', 'smtp limit max-rcpt 50',
            'queue ttl 5d',
            'listen on ::1 port 10025',
            'listen on * family inet6 port 2525 tls pki mx.example.net',
            'action "smart" relay tls verify host '
            '"smtp+tls://label@smtp.example.org:587" auth <secrets>',
            'match from any for domain "example.com" action "deliver_mail"',
            'match from local for any action "smart"'):
        t.ok(want in lines, "edge: %s" % want)
    for orig in ('listen on $ext_if port 25', 'include "/etc/mail/more.conf"',
                 'match from any for any action smart',
                 'match !from local for any action smart',
                 'action lm lmtp', 'table sql mysql:'):
        t.like(out, r"(?m)^# not converted: %s" % re.escape(orig),
               "edge: commented: %s" % orig)
    t.like(out, r"an open relay", "edge: the open relay rule is explained")
    t.like(out, r"(?m)^# smtpd\.conf: action \"deliver mail\".*\n#\s+action "
           r"\"deliver mail\" renamed \"deliver_mail\"", "edge: renamed")
    t.ok(all(l.count('"') % 2 == 0 for l in lines), "edge: quotes balanced")


def filters(m):
    """filter-dnsbl, filter-senderscore, filter-rspamd."""
    rc, out, err = conv(FILTERS)
    t.is_(rc, 0, "filters: exit 0")
    lines = active(out)
    for want in (
            'dnsbl zen.spamhaus.org',
            'dnsbl b.barracudacentral.org weight 2 match 127.0.0.4',
            'rspamd url "http://127.0.0.1:11333"',
            'listen on 192.0.2.1 port smtp tls pki mx',
            'listen on 192.0.2.1 port 2525 tls pki mx dnsbl no',
            'listen on 192.0.2.1 port submission tls-require pki mx auth '
            '<passwd> dnsbl yes'):
        t.ok(want in lines, "filters: line %s" % want)
    t.is_(len([x for x in lines if x.startswith(("dnsbl ", "dnswl ",
                                                  "rspamd "))]), 3,
          "filters: no other dnsbl, dnswl or rspamd line")
    flat = re.sub(r"\n#   ", " ", out)
    t.like(flat, r"list dbl\.example\.org dropped: -d looks up the "
           r"client's host name", "filters: a -d list is dropped, and why")
    t.like(flat, r"-v dropped", "filters: -v is dropped")
    t.like(flat, r"maild lets it in \(fails open\)",
           "filters: the failing open is said")
    t.like(out, r"(?s)# not converted: filter marking .*?-m marks.*?\n"
           r"#   dnsbl bl\.spamcop\.net\n#   dnswl list\.dnswl\.org\n",
           "filters: -m is not converted; the lines it would need shown")
    t.like(out, r"(?s)# not converted: filter sscore .*?no equivalent in "
           r"maild.*?-junkBelow 70: no equivalent.*?\n#   dnsbl "
           r"score\.senderscore\.com match 127\.0\.4\.0-127\.0\.4\.9\n",
           "filters: filter-senderscore has no equivalent; the nearest "
           "dnsbl line is suggested")
    t.like(out, r"# not converted: filter rspamd2 .*\n#   maild talks to "
           r"one rspamd", "filters: a second rspamd is explained")
    t.like(flat, r"filter dnsbl \(filter-dnsbl\) was on this listener "
           r"with auth: kept as dnsbl yes", "filters: the note on the "
           "listener with auth")
    for w in (r"filters\.conf:10: not converted: filter-dnsbl -m marks",
              r"filters\.conf:11: not converted: filter-senderscore has no "
              r"equivalent in maild",
              r"filters\.conf:11: suggested instead: dnsbl "
              r"score\.senderscore\.com match 127\.0\.4\.0-127\.0\.4\.9",
              r"filters\.conf:13: not converted: maild talks to one rspamd",
              r"filters\.conf:14: not converted: unknown filter-dnsbl "
              r"option -x",
              r"filters\.conf:18: filter-dnsbl on a listener with auth: "
              r"kept \(dnsbl yes\)"):
        t.like(err, w, "filters: warning %s" % w.replace("\\", ""))
    awks = [a for a in ("mawk", "original-awk", "busybox awk")
            if t.have(a.split()[0])]
    for awk in awks:
        rc2, out2, _ = conv(FILTERS, shell="dash", awk=awk)
        t.ok(rc2 == 0 and out2 == out, "filters: same output with AWK=%s"
             % awk)

    # With real files, rspamd lines and all: maild -n takes it.
    text = out
    for a, b in (('"/etc/ssl/mx.crt"', '"%s"' % m.cert_file),
                 ('"/etc/ssl/private/mx.key"', '"%s"' % m.key_file),
                 ("/etc/mail/passwd", m.passwd_file),
                 ("/etc/mail/virtuals", m.virtuals_file),
                 ("/var/vmail", m.vmail)):
        t.ok(a in text, "filters: %s is there to substitute" % a)
        text = text.replace(a, b)
    t.ok(any(x.startswith("rspamd url ") for x in text.splitlines()),
         "filters: the output has its rspamd url")
    path = os.path.join(m.dir, "filters-converted.conf")
    with open(path, "w") as f:
        f.write(text + "\n")
    rc, text = maild_n(path)
    t.is_(rc, 0, "filters: maild -n accepts the output, rspamd url too")
    if rc != 0:
        t.diag(text)

    # filter-rspamd's options: --url=, localhost, unknown ones, a socket.
    src = os.path.join(m.dir, "rspamd-smtpd.conf")
    with open(src, "w") as f:
        f.write('filter r proc-exec "filter-rspamd --url=http://localhost:'
                '11334/ -bogus"\nlisten on 127.0.0.1 port 25 filter r\n')
    rc, out, err = conv(src)
    t.ok('rspamd url "http://127.0.0.1:11334/"' in active(out),
         "rspamd: --url= with localhost becomes 127.0.0.1")
    t.like(out, r"unknown filter-rspamd option -bogus dropped",
           "rspamd: an unknown option is named in the comment")
    t.like(err, r"rspamd-smtpd\.conf:1: unknown filter-rspamd option "
           r"-bogus dropped", "rspamd: ... and on stderr")
    with open(src, "w") as f:
        f.write('filter r proc-exec "filter-rspamd -url /var/run/rspamd.'
                'sock"\nlisten on 127.0.0.1 port 25 filter r\n')
    rc, out, err = conv(src)
    t.ok(not [x for x in active(out) if x.startswith("rspamd")],
         "rspamd: a unix socket is not converted")
    t.like(err, r"not converted: filter-rspamd -url /var/run/rspamd\.sock "
           r"is a unix socket", "rspamd: ... and says why")


def fixture_conversion(m):
    """The seed files with the paths of real fixtures: maild -n accepts
    the result, and a real maild serves it."""
    d = m.dir
    aliases = os.path.join(d, "aliases")
    with open(aliases, "w") as f:
        f.write("root: user\n")
    dkim = os.path.join(d, "dkim.key")
    r = subprocess.run([MAILCTL, "dkim", "keygen", "-s", "selector1",
                        "-o", dkim, "mail.example.jp"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    t.is_(r.returncode, 0, "mailctl dkim keygen")
    subst = [("/etc/ssl/mail.example.jp.fullchain.pem", m.cert_file),
             ("/etc/ssl/private/mail.example.jp.key", m.key_file),
             ("/etc/mail/dkim/private.key", dkim),
             ("/etc/mail/aliases", aliases),
             ("/etc/mail/passwd", m.passwd_file),
             ("/etc/mail/virtuals", m.virtuals_file),
             ("/var/vmail", m.vmail)]
    for name in ("smtpd.conf", "dovecot.conf"):
        text = open(os.path.join(SEED, name)).read()
        for a, b in subst:
            text = text.replace(a, b)
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    out = os.path.join(d, "converted.conf")
    rc, so, err = conv("-d", os.path.join(d, "dovecot.conf"), "-o", out,
                       os.path.join(d, "smtpd.conf"))
    t.ok(rc == 0 and so == "" and os.path.exists(out),
         "-o: written, nothing on stdout")
    t.like(err, r"wrote .*converted\.conf", "-o: says where")
    first = open(out).read()
    rc, so, err = conv("-o", out, os.path.join(d, "smtpd.conf"))
    t.ok(rc == 1 and "exists, not overwritten" in err,
         "-o over an existing file: exit 1")
    t.is_(open(out).read(), first, "... and the file is unchanged")
    rc, text = maild_n(out)
    t.is_(rc, 0, "maild -n accepts the converted seed configuration")
    t.like(text, r"configuration OK", "... configuration OK")
    if rc != 0:
        t.diag(text)
    return first


def run_converted(m, conf):
    """A real maild on the converted file, ports and address made ours."""
    dns = t.Dnsmasq([]).start()   # no PTR at all: every client lacks rDNS
    p25, p587, p465 = t.test_port(0), t.test_port(1), t.test_port(2)
    p993 = t.imap_test_port(0)
    addr = m.addr
    for a, b in (("port smtp ", "port %d " % p25),
                 ("port submission ", "port %d " % p587),
                 ("port smtps smtps", "port %d smtps" % p465),
                 ("port imaps imaps", "port %d imaps" % p993),
                 ("listen on * ", "listen on %s " % addr)):
        t.ok(a in conf, "run: %r is there to substitute" % a)
        conf = conf.replace(a, b)
    conf = ('spool "%s"\nsocket "%s"\n%s\nqueue retry 1s\n' % (
        m.spool, m.socket_path, dns.conf())) + conf
    with open(m.conf, "w") as f:
        f.write(conf)
    m.port = p587
    m.start()
    c = t.SMTPConn(addr, p25)
    t.is_(str(c.greeting), "550 5.7.25 no rDNS.",
          "port 25: the converted rdns-message, after 550 5.7.25")
    c.close()
    c = t.SMTPConn(addr, p587)
    t.is_(c.greeting.code, 220, "587: greeting")
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("user@example.jp", PW))
    t.ok(r.code in (530, 538), "587: no AUTH before STARTTLS (%s)" % r)
    t.is_(c.starttls().code, 220, "587: STARTTLS")
    c.ehlo()
    r = c.cmd("AUTH PLAIN " + t.sasl_plain("user@example.jp", PW))
    t.is_(r.code, 235, "587: AUTH with the bcrypt passwd line")
    _, rr, _, fr = c.send_message(
        "user@example.jp", ["postmaster@example.jp"],
        "From: user@example.jp\r\nSubject: imported\r\n\r\nhello\r\n")
    t.ok(fr is not None and fr.code == 250,
         "587: mail to postmaster@ accepted (%s)" % fr)
    c.quit()
    md = m.maildir("user", "example.jp")
    t.is_(md.wait(1), 1, "delivered through virtuals to user@example.jp")
    msgs = md.messages()
    t.ok(msgs and re.search(rb"\nDKIM-Signature: v=1; a=rsa-sha256; "
                            rb"c=relaxed/relaxed; d=mail\.example\.jp;",
                            msgs[0]),
         "From example.jp: signed with d=mail.example.jp, as "
         "filter-dkimsign did")
    ctx = t.insecure_ssl_context()
    with socket.create_connection((addr, p465), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="mx.test") as ts:
            ts.settimeout(10)
            g = ts.recv(512)
    t.like(g.decode(errors="replace"), r"^220 ",
           "465: TLS from the first byte, then the greeting")
    c = t.IMAPConn(addr, p993, tls=True)
    r = c.login("user@example.jp", PW)
    t.is_(r.status, "OK", "993: IMAPS LOGIN with the same password")
    r = c.select("INBOX")
    t.ok(t.untagged_numbers(r.untagged, "EXISTS") == [1],
         "993: the delivered message is in INBOX")
    c.logout()
    t.ok(m.stop(), "maild stops cleanly")
    dns.stop()


def main():
    if not os.access(SCRIPT, os.X_OK):
        t.bail_out("no executable %s" % SCRIPT)
        return
    ref = seed_output()
    shells_and_awks(ref)
    m = t.Maild(passwd="user@example.jp:%s\n" % t.hash_password(PW),
                virtuals="abuse@example.jp user@example.jp\n"
                         "postmaster@example.jp user@example.jp\n"
                         "user@example.jp vmail\n",
                domains=("example.jp",))
    man_example(ref, m.dir)
    bad_input(m.dir)
    edge_cases()
    t.section(filters, m)
    conf = fixture_conversion(m)
    t.section(run_converted, m, conf)


t.run(main)
