#!/usr/bin/env python3
"""The docs are the truth, kept so (issue 13 item 19).

Three checks over the tree, each listing what breaks it:
  1. every error code the server can answer (the literals it passes to its error makers,
     the protocol's and the stores' error enums) is documented in docs/*.md;
  2. every error code docs/protocol.md or docs/admin.md documents (a table row or a
     "`code` [status]" mention) is expected by some test: quoted on a line that checks it
     (CHECK/REQUIRE/expect/assert, or a helper whose name says it expects an error);
  3. every close code of protocol/close_codes.hpp that the server sends is in the close
     code table of docs/protocol.md, and every row of that table is expected by some test
     (its number or its close_code:: name).
Run from anywhere: python3 tests/docs/doc_codes.py [repo root]. Exit 1 on a gap.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
SRC_DIRS = ["accounts", "actors", "cluster", "http", "protocol", "runtime", "server", "storage", "transport"]
CODE = r"[a-z][a-z0-9_]*[a-z0-9]"


def read(p):
    return p.read_text(encoding="utf-8", errors="replace")


def sources():
    for d in SRC_DIRS:
        for p in sorted((root / d).rglob("*")):
            if p.suffix in (".cpp", ".hpp"):
                yield p


# 1. Codes the server answers with.
EMIT = [
    re.compile(r'\b(?:fail|fail_retry|error|retry_error|admin_fail|reject)\(\s*(?:self,\s*)?\d{3},\s*"(' + CODE + r')"'),
    re.compile(r'\b(?:send_error|respond_error|refuse_request)\([^;]*?"(' + CODE + r')"'),
    re.compile(r'\bcanned_\d{3}\(\s*"(' + CODE + r')"'),
    re.compile(r'\bbad_code\s*=\s*"(' + CODE + r')"'),
    re.compile(r'\\"code\\"\s*:\s*\\"(' + CODE + r')\\"'),
    re.compile(r'\bencode_error\([^;]*?"(' + CODE + r')"'),
    re.compile(r'\.field\("code",\s*"(' + CODE + r')"\)'),
]
emitted = {}
for p in sources():
    text = read(p)
    for rx in EMIT:
        for m in rx.finditer(text):
            emitted.setdefault(m.group(1), f"{p.relative_to(root)}")
    # enum -> string tables of the codes clients get (chat_errc, accounts::errc; the
    # cluster membership's errc is a start-up failure, printed, never answered)
    for m in [] if p.name not in ("chat_error.cpp", "accounts.cpp") else re.finditer(r'case (?:chat_errc|errc)::\w+:\s*return "(' + CODE + r')";', text):
        emitted.setdefault(m.group(1), f"{p.relative_to(root)}")
    for m in re.finditer(r'inline constexpr std::string_view \w+ = "(' + CODE + r')";', text):
        if p.name == "client_op.hpp":
            emitted.setdefault(m.group(1), f"{p.relative_to(root)}")
# Internal results that never reach a client as a code.
for internal in ("ok", "none", "storage", "internal"):
    emitted.pop(internal, None)

docs = {p.name: read(p) for p in sorted((root / "docs").glob("*.md"))}
all_docs = "\n".join(docs.values())
backticked = set(re.findall(r"`(" + CODE + r")`", all_docs))

problems = []
for code, where in sorted(emitted.items()):
    if code not in backticked:
        problems.append(f"undocumented error code `{code}` (answered in {where})")

# 2. Codes the docs promise.
documented = {}
status_rows = set()
for name in ("protocol.md", "admin.md"):
    text = docs.get(name, "")
    for line in text.splitlines():
        # "| `a`, `b` [503] | ..." rows of error tables
        row = re.match(r"\|\s*((?:`" + CODE + r"`(?:,\s*|\s*/\s*)?)+)\s*(?:\[\d{3}\])?\s*\|", line)
        if row and "code" not in line[:12]:
            cells = line.split("|")
            if len(cells) > 3:
                for c in re.findall(r"`(" + CODE + r")`", row.group(1)):
                    documented.setdefault(c, name)
        # "| 404 | `a` / `b` | ..." rows of the operator API's table
        srow = re.match(r"\|\s*\d{3}\s*\|\s*((?:`" + CODE + r"`(?:,\s*|\s*/\s*)?)+)\s*\|", line)
        if srow:
            for c in re.findall(r"`(" + CODE + r")`", srow.group(1)):
                documented.setdefault(c, name)
                status_rows.add(c)
        for m in re.finditer(r"`(" + CODE + r")`(?:\s*/\s*`" + CODE + r"`)*\s*\[\d{3}\]", line):
            for c in re.findall(r"`(" + CODE + r")`", m.group(0)):
                documented.setdefault(c, name)
# Rows of tables that are not error tables (ops, event kinds, fields) would be caught by
# the table rule: keep only what the server really answers with, or what the docs mark
# with a status.
status_marked = set(status_rows)
for text in docs.values():
    for m in re.finditer(r"`(" + CODE + r")`(?:\s*(?:,|/)\s*`" + CODE + r"`)*\s*\[\d{3}\]", text):
        status_marked.update(re.findall(r"`(" + CODE + r")`", m.group(0)))
documented = {c: n for c, n in documented.items() if c in emitted or c in status_marked}

test_lines = []
for p in sorted((root / "tests").rglob("*")):
    if p.suffix in (".cpp", ".hpp", ".mjs", ".js", ".py") and p.name != "doc_codes.py":
        for line in read(p).splitlines():
            test_lines.append(line)
CHECKING = re.compile(r"CHECK|REQUIRE|expect|assert|code|error|refus|==", re.I)


def tested(code):
    pats = (f'"{code}"', f"\\\"{code}\\\"", f"'{code}'", f'\\"code\\":\\"{code}\\"')
    return any(any(q in line for q in pats) and CHECKING.search(line) for line in test_lines)


# Codes only a race produces (an actor stopping between the lookup and the ask, a
# supervisor restarting it or stopping the tree in those microseconds): no test can make
# them on demand without a hook in the server. Listed here so the gap stays visible.
RACE_ONLY = {"actor_gone", "actor_restarting", "shutting_down"}
for code, name in sorted(documented.items()):
    if code in RACE_ONLY:
        print(f"  note: `{code}` is produced only by a race; no test expects it")
        continue
    if not tested(code):
        problems.append(f"documented error code `{code}` (docs/{name}) is expected by no test")

# 3. Close codes.
close_hpp = read(root / "protocol" / "close_codes.hpp")
close_names = {int(n): name for name, n in re.findall(r"constexpr uint16_t (\w+) = (\d+);", close_hpp)}
proto = docs.get("protocol.md", "")
table = proto.split("### Close codes", 1)[1].split("\n### ", 1)[0] if "### Close codes" in proto else ""
close_documented = {int(n) for n in re.findall(r"^\|\s*(\d{4})\s*\|", table, re.M)}
# Reported to the application only (no close frame on the wire), or the client's own.
not_sent = {1001, 1006, 1011}
for n, name in sorted(close_names.items()):
    if n not in not_sent and n not in close_documented:
        problems.append(f"close code {n} ({name}) is not in the close code table of docs/protocol.md")
for n in sorted(close_documented):
    name = close_names.get(n)
    if name is None:
        problems.append(f"close code {n} is documented but protocol/close_codes.hpp has no such code")
        continue
    if not any((str(n) in line or f"close_code::{name}" in line) and CHECKING.search(line) for line in test_lines):
        problems.append(f"close code {n} ({name}) is expected by no test")

print(f"doc_codes: {len(emitted)} codes answered, {len(documented)} documented error codes, "
      f"{len(close_documented)} documented close codes")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
