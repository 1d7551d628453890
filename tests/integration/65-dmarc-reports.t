#!/usr/bin/env python3
# mailctl dmarc: DMARC aggregate reports built as Google (a bare
# application/zip message), Microsoft (multipart, .xml.gz) and Yahoo
# (multipart, .zip) send them, with python's zipfile, gzip and email
# modules, lie in the "DMARC Reports" folders (".DMARC Reports" on disk)
# of the Maildirs of a maild that delivered to them; the summary's
# numbers per policy domain, reporter and source IP are the ones the
# test computes from the records it wrote.  A report filed twice counts
# once; a zip bomb, a gzip bomb, a DTD (billion laughs), a cut zip and
# a report that is not XML are reported as errors, the rest still
# summarised; a symbolic link is not followed; a C1 control character
# of an org_name does not reach the terminal; as root, the folders are
# read as the vmail user (a file only root can read is an error) and
# the parser runs as nobody.  Bad arguments exit 2, a bad domain 1.
import email.policy
import gzip
import io
import os
import pwd
import random
import re
import shutil
import subprocess
import sys
import time
import zipfile
from email.message import EmailMessage

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import maildtest as t  # noqa: E402

MAILCTL = os.path.join(t.REPO, "mailctl")
FOLDER_DIR = ".DMARC Reports"      # mailbox_name_to_dir("DMARC Reports")

VIRTUALS = """\
alice@example.org       vmail
postmaster@example.org  vmail
postmaster@example.net  vmail
"""

REPORTERS = {
    # org_name: (style, email)
    "google.com": ("google", "noreply-dmarc-support@google.com"),
    "Enterprise Outlook": ("microsoft", "dmarcreport@microsoft.com"),
    "Yahoo": ("yahoo", "dmarchelp@yahooinc.com"),
}


def esc(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;"))


def report_xml(org, mail, rid, domain, p, begin, end, records,
               org_xml=None):
    """The XML of RFC 7489 appendix C, with the elements real reporters
    add; records: dicts ip, count, disp, dkim, spf."""
    out = ['<?xml version="1.0" encoding="UTF-8" ?>',
           '<feedback xmlns:xsi="http://www.w3.org/2001/'
           'XMLSchema-instance">', '  <version>1.0</version>',
           '  <report_metadata>',
           '    <org_name>%s</org_name>' % (org_xml or esc(org)),
           '    <email>%s</email>' % esc(mail),
           '    <report_id>%s</report_id>' % esc(rid),
           '    <date_range><begin>%d</begin><end>%d</end></date_range>'
           % (begin, end),
           '  </report_metadata>',
           '  <policy_published><domain>%s</domain><adkim>r</adkim>'
           '<aspf>r</aspf><p>%s</p><sp>%s</sp><pct>100</pct>'
           '</policy_published>' % (domain, p, p)]
    for r in records:
        out += ['  <record>', '    <row>',
                '      <source_ip>%s</source_ip>' % r["ip"],
                '      <count>%d</count>' % r["count"],
                '      <policy_evaluated><disposition>%s</disposition>'
                '<dkim>%s</dkim><spf>%s</spf></policy_evaluated>'
                % (r["disp"], r["dkim"], r["spf"]),
                '    </row>',
                '    <identifiers><header_from>%s</header_from>'
                '</identifiers>' % domain,
                '    <auth_results>',
                '      <dkim><domain>%s</domain><selector>s1</selector>'
                '<result>%s</result></dkim>' % (domain, r["dkim"]),
                '      <spf><domain>%s</domain><scope>mfrom</scope>'
                '<result>%s</result></spf>'
                % (domain, "pass" if r["spf"] == "pass" else "softfail"),
                '    </auth_results>', '  </record>']
    out.append('</feedback>')
    return "\n".join(out).encode() + b"\n"


def zip_bytes(name, data):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return b.getvalue()


def message(style, org, mail, domain, rid, begin, end, xml=None,
            payload=None):
    """A report message as that reporter sends it: the XML compressed
    (or payload as it is), base64 in MIME."""
    base = "%s!%s!%d!%d" % (org.split()[0].lower(), domain, begin, end)
    m = EmailMessage(policy=email.policy.SMTP)
    m["From"] = mail
    m["To"] = "postmaster@%s" % domain
    m["Date"] = "Thu, 02 May 2024 00:00:00 +0000"
    m["Message-ID"] = "<%s@%s>" % (rid, "reports.test")
    if style == "google":
        m["Subject"] = ("Report domain: %s Submitter: %s Report-ID: %s"
                        % (domain, org, rid))
        data = payload if payload is not None else zip_bytes(
            base + ".xml", xml)
        m.set_content(data, maintype="application", subtype="zip",
                      filename=base + ".zip")
    elif style == "microsoft":
        m["Subject"] = ("Report Domain: %s Submitter: "
                        "protection.outlook.com Report-ID: <%s>"
                        % (domain, rid))
        m.set_content("This is a DMARC aggregate report from Microsoft "
                      "Corporation.\n")
        data = payload if payload is not None else gzip.compress(xml)
        m.add_attachment(data, maintype="application", subtype="gzip",
                         filename=base + ".xml.gz")
    else:
        m["Subject"] = ("Report Domain: %s Submitter: Yahoo Inc. "
                        "Report-ID: <%s>" % (domain, rid))
        m.set_content("This is an aggregate report from Yahoo Inc.\n")
        data = payload if payload is not None else zip_bytes(
            base + ".xml", xml)
        m.add_attachment(data, maintype="application", subtype="zip",
                         filename=base + ".zip")
    return m.as_bytes()


class Folder:
    """The reports folder of one Maildir, made as maild makes folders,
    owned by the vmail user when the test runs as root."""

    def __init__(self, maildir):
        self.path = os.path.join(maildir, FOLDER_DIR)
        for sub in ("", "cur", "new", "tmp"):
            os.makedirs(os.path.join(self.path, sub), mode=0o700,
                        exist_ok=True)
        self.n = 0
        self.chown(self.path)

    def chown(self, path):
        if t.is_root():
            pw = pwd.getpwnam("vmail")
            os.lchown(path, pw.pw_uid, pw.pw_gid)
            for d, dirs, files in os.walk(path):
                for x in [os.path.join(d, f) for f in dirs + files]:
                    os.lchown(x, pw.pw_uid, pw.pw_gid)

    def put(self, data, sub="new"):
        self.n += 1
        name = "%d.M%dP%d.mx.test" % (1714608000 + self.n, self.n,
                                      os.getpid())
        if sub == "cur":
            name += ":2,S"
        path = os.path.join(self.path, sub, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o600)
        self.chown(path)
        return path


def records(rng, ips, n):
    out = []
    for _ in range(n):
        dkim = rng.choice(["pass", "pass", "fail"])
        spf = rng.choice(["pass", "fail"])
        disp = "none"
        if dkim == "fail" and spf == "fail":
            disp = rng.choice(["none", "quarantine", "reject"])
        out.append({"ip": rng.choice(ips), "count": rng.randint(1, 500),
                    "dkim": dkim, "spf": spf, "disp": disp})
    return out


def expected(reports):
    """domain -> {"p", "reports", "orgs": org -> {"reports", "ips": ip ->
    [msgs, dkim pass, dkim fail, spf pass, spf fail, none, quarantine,
    reject, both fail]}}, each report once."""
    out = {}
    for r in reports:
        d = out.setdefault(r["domain"], {"p": None, "end": -1,
                                         "reports": 0, "orgs": {}})
        d["reports"] += 1
        if r["end"] >= d["end"]:
            d["end"], d["p"] = r["end"], r["p"]
        o = d["orgs"].setdefault(r["org"], {"reports": 0, "ips": {}})
        o["reports"] += 1
        for rec in r["records"]:
            s = o["ips"].setdefault(rec["ip"], [0] * 9)
            c = rec["count"]
            s[0] += c
            s[1 if rec["dkim"] == "pass" else 2] += c
            s[3 if rec["spf"] == "pass" else 4] += c
            s[5 + ["none", "quarantine", "reject"].index(rec["disp"])] += c
            if rec["dkim"] == "fail" and rec["spf"] == "fail":
                s[8] += c
    return out


def parse_summary(text):
    """The summary mailctl printed, in the shape of expected()."""
    out = {}
    d = o = None
    spoof = []
    for line in text.splitlines():
        m = re.match(r"^(\S+): p=(\w+), (\d+) reports? from (\d+) "
                     r"reporters?, .* UTC$", line)
        if m:
            d = out.setdefault(m.group(1), {"p": m.group(2), "reports":
                                            int(m.group(3)), "orgs": {},
                                            "nrep": int(m.group(4))})
            continue
        m = re.match(r"^  (\d+) messages: DKIM aligned (\d+), SPF aligned "
                     r"(\d+), neither (\d+)$", line)
        if m:
            d["totals"] = [int(x) for x in m.groups()]
            continue
        m = re.match(r"^  reporter (.+): (\d+) reports?$", line)
        if m:
            o = d["orgs"].setdefault(m.group(1), {"reports":
                                                  int(m.group(2)),
                                                  "ips": {}})
            continue
        m = re.match(r"^    (\S+)" + r"\s+(\d+)" * 8 + "$", line)
        if m and o is not None:
            o["ips"][m.group(1)] = [int(x) for x in m.groups()[1:]]
            continue
        m = re.match(r"^  misconfigured or spoofed: (\S+): (\d+) of (\d+) "
                     r"messages failed DKIM and SPF alignment "
                     r"\(reporter (.+)\)$", line)
        if m:
            spoof.append((m.group(1), int(m.group(2)), int(m.group(3)),
                          m.group(4)))
    return out, spoof


def mailctl_env():
    """As root mailctl dmarc reads as vmail: a process that changed its
    ids is not dumpable, and LeakSanitizer cannot read it (make
    SANITIZE=1): leaks are for the unit tests, as for maild."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    return env


def mailctl(m, *args):
    r = subprocess.run([MAILCTL, "-f", m.conf] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300, env=mailctl_env())
    return (r.returncode, r.stdout.decode("utf-8", "replace"),
            r.stderr.decode("utf-8", "replace"), r.stdout)


def check_summary(got, spoof, want, label):
    t.is_(sorted(got), sorted(want), "%s: the policy domains" % label)
    for dom, w in sorted(want.items()):
        g = got.get(dom)
        if g is None:
            continue
        t.is_(g["p"], w["p"], "%s: %s: p of the latest report" % (label,
                                                                   dom))
        t.is_(g["reports"], w["reports"], "%s: %s: reports" % (label, dom))
        t.is_(g["nrep"], len(w["orgs"]), "%s: %s: reporters" % (label, dom))
        tot = [0, 0, 0, 0]
        for o in w["orgs"].values():
            for s in o["ips"].values():
                tot = [tot[0] + s[0], tot[1] + s[1], tot[2] + s[3],
                       tot[3] + s[8]]
        t.is_(g.get("totals"), tot, "%s: %s: totals (messages, DKIM, SPF, "
              "neither)" % (label, dom))
        t.is_(sorted(g["orgs"]), sorted(w["orgs"]),
              "%s: %s: the reporters" % (label, dom))
        for org, wo in sorted(w["orgs"].items()):
            go = g["orgs"].get(org, {"reports": None, "ips": {}})
            t.is_(go["reports"], wo["reports"], "%s: %s: %s: reports" %
                  (label, dom, org))
            want_ips = {ip: s[:8] for ip, s in wo["ips"].items()}
            t.is_(go["ips"], want_ips, "%s: %s: %s: per source IP: "
                  "messages, DKIM pass/fail, SPF pass/fail, none/"
                  "quarantine/reject" % (label, dom, org))
    want_spoof = sorted((ip, s[8], s[0], org)
                        for w in want.values()
                        for org, o in w["orgs"].items()
                        for ip, s in o["ips"].items() if s[8] > 0)
    t.is_(sorted(spoof), want_spoof, "%s: a 'misconfigured or spoofed' "
          "line for each source that failed both" % label)
    t.ok(len(want_spoof) > 0, "%s: the data has such sources" % label)


def main():
    m = t.Maild(virtuals=VIRTUALS)
    m.start()
    # maild makes the Maildirs, as for any delivery.
    for rcpt in ("postmaster@example.org", "postmaster@example.net",
                 "alice@example.org"):
        t.is_(m.deliver(t.make_message("pm-%s" % rcpt, to=rcpt), rcpt), 250,
              "a message to %s" % rcpt)
    for u, dom in (("postmaster", "example.org"),
                   ("postmaster", "example.net"), ("alice", "example.org")):
        t.is_(m.maildir(u, dom).wait(1), 1, "%s@%s has its Maildir" %
              (u, dom))
    m.stop()

    rc, out, err, _ = mailctl(m, "dmarc")
    t.is_(rc, 0, "no report folder yet: exit 0")
    t.like(out, r'No "DMARC Reports" folder', "says there is none")

    rng = random.Random(65)
    ips = {"example.org": ["192.0.2.%d" % i for i in range(1, 6)] +
           ["2001:db8::%x" % i for i in range(1, 4)],
           "example.net": ["198.51.100.%d" % i for i in range(1, 5)]}
    fo = Folder(m.maildir("postmaster", "example.org").path)
    fn = Folder(m.maildir("postmaster", "example.net").path)
    fa = Folder(m.maildir("alice", "example.org").path)
    good = []
    day = 86400
    n = 0
    for dom, folder in (("example.org", fo), ("example.net", fn)):
        for org, (style, mail) in sorted(REPORTERS.items()):
            for k in range(2):
                n += 1
                begin = 1714521600 + k * day
                rep = {"org": org, "domain": dom,
                       "rid": "%s-%d-%d" % (style, n, rng.randint(0, 1 << 40)),
                       "p": ["none", "quarantine"][k], "begin": begin,
                       "end": begin + day - 1,
                       "records": records(rng, ips[dom],
                                          rng.randint(1, 12))}
                xml = report_xml(org, mail, rep["rid"], dom, rep["p"],
                                 begin, rep["end"], rep["records"])
                msg = message(style, org, mail, dom, rep["rid"], begin,
                              rep["end"], xml)
                folder.put(msg, "cur" if k else "new")
                good.append((rep, msg))
    reports = [r for r, _ in good]
    # One more for example.org in alice's folder (postmaster an alias).
    rep = {"org": "google.com", "domain": "example.org", "rid": "alias-1",
           "p": "reject", "begin": 1714521600 + 5 * day,
           "end": 1714521600 + 6 * day - 1,
           "records": records(rng, ips["example.org"], 5)}
    fa.put(message("google", rep["org"], "noreply-dmarc-support@google.com",
                   rep["domain"], rep["rid"], rep["begin"], rep["end"],
                   report_xml(rep["org"], "x@google.com", rep["rid"],
                              rep["domain"], rep["p"], rep["begin"],
                              rep["end"], rep["records"])))
    reports.append(rep)
    # The same reports filed twice count once.
    fo.put(good[0][1], "cur")
    fn.put(good[-1][1], "new")
    # Hostile and broken reports: errors, the rest still counted.
    bad = {}
    begin = 1714521600
    bad["zip bomb"] = fo.put(message(
        "google", "google.com", "x@google.com", "example.org", "bomb-1",
        begin, begin + day, payload=zip_bytes("bomb.xml",
                                              b" " * (64 << 20))))
    bad["gzip bomb"] = fo.put(message(
        "microsoft", "Enterprise Outlook", "x@microsoft.com", "example.org",
        "bomb-2", begin, begin + day,
        payload=gzip.compress(b"<feedback>" + b" " * (40 << 20))))
    laughs = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
              b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
              b'<feedback><report_metadata><org_name>&lol3;</org_name>'
              b'</report_metadata></feedback>\n')
    bad["DTD"] = fn.put(message(
        "yahoo", "Yahoo", "x@yahoo.test", "example.net", "dtd-1", begin,
        begin + day, xml=laughs))
    whole = zip_bytes("r.xml", report_xml(
        "Yahoo", "x@yahoo.test", "cut-1", "example.net", "none", begin,
        begin + day, records(rng, ips["example.net"], 3)))
    bad["cut zip"] = fn.put(message(
        "yahoo", "Yahoo", "x@yahoo.test", "example.net", "cut-1", begin,
        begin + day, payload=whole[:len(whole) - 40]))
    bad["not XML"] = fo.put(message(
        "microsoft", "Enterprise Outlook", "x@microsoft.com",
        "example.org", "junk-1", begin, begin + day,
        xml=b"<feedback><report_metadata>unclosed"))
    want_err = {"zip bomb": "refused", "gzip bomb": "refused",
                "DTD": "DOCTYPE", "cut zip": "zip: malformed",
                "not XML": "ends inside"}
    # A link to a report elsewhere is not followed.
    outside = os.path.join(m.dir, "outside-report.eml")
    with open(outside, "wb") as f:
        f.write(message("google", "google.com", "x@google.com",
                        "example.org", "link-1", begin, begin + day,
                        report_xml("Linked Reporter", "x@l.test", "link-1",
                                   "example.org", "none", begin,
                                   begin + day, records(rng, ["1.2.3.4"],
                                                        1))))
    os.symlink(outside, os.path.join(fo.path, "new", "1714700000.link.mx"))
    # C1 control characters of a report never reach the terminal.
    c1 = {"org": "Evil\u009b31mCorp", "domain": "example.net",
          "rid": "c1-1", "p": "none", "begin": begin, "end": begin + day,
          "records": records(rng, ips["example.net"], 2)}
    fn.put(message("google", "evil", "x@evil.test", "example.net", "c1-1",
                   begin, begin + day,
                   report_xml(c1["org"], "x@evil.test", c1["rid"],
                              c1["domain"], "none", begin, begin + day,
                              c1["records"], org_xml="Evil&#x9b;31mCorp")))
    c1_shown = dict(c1, org="Evil??31mCorp")

    t0 = time.monotonic()
    rc, out, err, raw = mailctl(m, "dmarc")
    t.diag("mailctl dmarc took %.1fs" % (time.monotonic() - t0))
    if os.environ.get("RUA_SHOW"):
        t.diag(out + err)
    t.is_(rc, 0, "mailctl dmarc: exit 0 (bad reports are not a failure "
          "of the command)")
    want = expected(reports + [c1_shown])
    got, spoof = parse_summary(out)
    check_summary(got, spoof, want, "all domains")
    nread = len(reports) + 1
    t.like(out, r"^DMARC aggregate reports: %d read from 3 folders, "
           r"2 duplicates, %d not readable" % (nread, len(bad)),
           "the heading counts reports, folders, duplicates, errors")
    for what, path in sorted(bad.items()):
        rel = path[len(m.vmail) + 1:]
        t.like(err, re.escape(rel) + ": .*" + re.escape(want_err[what]),
               "%s: an error naming the file: %s" % (what, want_err[what]))
    t.unlike(err, "link", "the symbolic link is not followed (nor named)")
    t.unlike(out, "Linked Reporter", "nor counted")
    t.unlike(err, t.SANITIZER_RE.pattern, "no sanitizer report")
    t.ok(b"\x1b" not in raw and b"\xc2\x9b" not in raw,
         "no escape or CSI character in the output")
    t.like(out, r"reporter Evil\?\?31mCorp: 1 report",
           "the C1 character shown as ??")
    if t.failures():
        t.diag(out)
        t.diag(err)

    # One domain.
    rc, out, err, _ = mailctl(m, "dmarc", "Example.NET")
    t.is_(rc, 0, "mailctl dmarc example.net: exit 0")
    got, spoof = parse_summary(out)
    want_net = {d: w for d, w in want.items() if d == "example.net"}
    check_summary(got, spoof, want_net, "example.net")
    t.like(out, r"for other domains", "the others are counted as left out")

    if t.is_root():
        # Read as vmail: a file only root can read is not read.
        p = fo.put(good[1][1])
        os.chown(p, 0, 0)
        rc, out, err, _ = mailctl(m, "dmarc")
        t.like(err, re.escape(p[len(m.vmail) + 1:]) +
               ": Permission denied",
               "as root, the folders are read as the vmail user")
        os.unlink(p)
        t.ok(check_nobody(m), "a report is parsed by a process of user "
             "nobody (real, effective, saved and file system ids)")
    else:
        t.skip("not root: no privilege drop to check", 3)

    for args in (["dmarc", "a", "b"], ["dmarc", "-x"]):
        rc, out, err, _ = mailctl(m, *args)
        t.is_(rc, 2, "usage: mailctl %s exits 2" % " ".join(args))
    rc, out, err, _ = mailctl(m, "dmarc", "not a domain")
    t.is_(rc, 1, "a bad domain exits 1")
    t.like(err, "not a valid domain", "and says why")


def check_nobody(m):
    """Watch the processes of mailctl dmarc (in /proc) while it parses a
    report big enough to be seen: each parser seen for a while is user
    nobody in all its ids."""
    folder = Folder(m.maildir("postmaster", "example.org").path)
    rng = random.Random(6565)
    recs = "".join(
        "<record><row><source_ip>10.%d.%d.%d</source_ip><count>%d</count>"
        "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
        "<spf>fail</spf></policy_evaluated></row><identifiers>"
        "<header_from>example.org</header_from></identifiers>"
        "<auth_results><spf><domain>x%d.example.org</domain><result>pass"
        "</result></spf></auth_results></record>\n"
        % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255),
           rng.randint(1, 99999), rng.randint(0, 99999))
        for i in range(40000))
    xml = ("<feedback><report_metadata><org_name>big</org_name>"
           "<report_id>big-1</report_id><date_range><begin>1</begin>"
           "<end>2</end></date_range></report_metadata><policy_published>"
           "<domain>example.org</domain><p>none</p></policy_published>"
           + recs + "</feedback>\n").encode()
    path = folder.put(message("microsoft", "big", "x@big.test",
                              "example.org", "big-1", 1, 2,
                              payload=gzip.compress(xml)))
    nobody = pwd.getpwnam("nobody").pw_uid
    # Into files: the summary of 40000 sources fills a pipe nobody reads.
    fout = open(os.path.join(m.dir, "big.out"), "w+b")
    ferr = open(os.path.join(m.dir, "big.err"), "w+b")
    p = subprocess.Popen([MAILCTL, "-f", m.conf, "dmarc"], stdout=fout,
                         stderr=ferr, env=mailctl_env())
    samples = {}
    try:
        end = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < end:
            for pid in t.proc_descendants(p.pid):
                try:
                    st = t.proc_status(pid)
                    ids = [int(x) for x in st["Uid"].split()]
                except (OSError, KeyError, ValueError):
                    continue
                samples.setdefault(pid, []).append(ids)
            time.sleep(0.001)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        os.unlink(path)
    fout.seek(0)
    ferr.seek(0)
    out, err = fout.read(), ferr.read()
    fout.close()
    ferr.close()
    # A sample in the instant between fork and the drop is no finding:
    # the last one of a parser seen several times is what counts.
    seen = [v[-1] for v in samples.values() if len(v) >= 3]
    t.diag("parsers seen a while: %d, their ids: %s" % (
        len(seen), sorted(set(tuple(x) for x in seen))))
    ok = p.returncode == 0 and b"reporter big: 1 report" in out
    t.ok(ok, "the big report (40000 records) is summarised")
    if not ok:
        t.diag(err.decode(errors="replace"))
    return len(seen) > 0 and all(x == [nobody] * 4 for x in seen)


t.run(main)
