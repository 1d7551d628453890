# Parse a DSN with python's email package and print what it sees, one
# "key value" line each, for tests/unit/test_dsn.c to compare.
import email
import sys

data = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(data)
print("type", m.get_content_type())
print("report-type", m.get_param("report-type"))
parts = m.get_payload()
print("parts", len(parts))
for p in parts:
    print("part", p.get_content_type())
text = parts[0].get_payload(decode=True).decode(
    parts[0].get_content_charset() or "us-ascii")
print("text-lines", len(text.splitlines()))
ds = parts[1].get_payload()
print("blocks", len(ds))
print("reporting-mta", ds[0]["Reporting-MTA"])
for b in ds[1:]:
    diag = b["Diagnostic-Code"]
    if diag is not None:
        diag = " ".join(str(diag).split())
    print("recipient", b["Final-Recipient"], "|", b["Action"], "|",
          b["Status"], "|", diag)
if parts[2].get_content_type() == "message/rfc822":
    print("inner-subject", parts[2].get_payload()[0]["Subject"])
print("defects", sum(len(x.defects) for x in m.walk()))
