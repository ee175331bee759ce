#!/usr/bin/env python3
"""The table of skipped checkov findings in infra/checkov.md, from the inline skip comments.

Every `#checkov:skip=ID:reason` comment under infra/ becomes a row (ID, resource, file, reason)
between `<!-- skips:begin -->` and `<!-- skips:end -->`, so the list of accepted findings is
reviewed in one place and can never drift from the code. With --check it changes nothing and
exits 1 when the table is out of date (used by scripts/check-infra).

Usage: scripts/checkov-skips.py [--check]
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
DOC = INFRA / "checkov.md"
BEGIN, END = "<!-- skips:begin -->", "<!-- skips:end -->"
HEADER = re.compile(r'^(resource|data)\s+"([^"]+)"\s+"([^"]+)"')
SKIP = re.compile(r"#checkov:skip=([A-Z0-9_]+):(.*)$")


def rows():
    out = []
    for tf in sorted(INFRA.rglob("*.tf")):
        if ".terraform" in tf.parts:
            continue
        block = None
        for line in tf.read_text().splitlines():
            h = HEADER.match(line)
            if h:
                block = ("data." if h.group(1) == "data" else "") + h.group(2) + "." + h.group(3)
            m = SKIP.search(line)
            if m:
                if block is None:
                    sys.exit(f"{tf}: skip comment outside a resource: {line.strip()}")
                out.append((m.group(1), block, str(tf.relative_to(ROOT)), m.group(2).strip().replace("|", "\\|")))
    key = lambda r: (int(re.search(r"\d+", r[0].split("_AWS_")[1]).group()) + (10000 if r[0].startswith("CKV2") else 0), r[1], r[2])
    return sorted(out, key=key)


def table():
    lines = ["| ID | resource | file | reason |", "|---|---|---|---|"]
    lines += [f"| {i} | `{r}` | {f} | {why} |" for i, r, f, why in rows()]
    return "\n".join(lines)


def main():
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    new = text[:start] + "\n" + table() + "\n" + text[end:]
    if "--check" in sys.argv:
        if new != text:
            print("infra/checkov.md: the skipped-findings table is out of date; run scripts/checkov-skips.py")
            return 1
        print(f"    {len(rows())} skips, all listed in infra/checkov.md")
        return 0
    if new != text:
        DOC.write_text(new)
        print("updated infra/checkov.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
