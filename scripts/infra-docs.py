#!/usr/bin/env python3
"""Inputs/outputs tables of the Terraform roots and modules under infra/.

Rewrites the text between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->` in each README.md
from the directory's variables.tf and outputs.tf (like terraform-docs, without the binary).
With --check it changes nothing and exits 1 when a README is out of date (used by
scripts/check-infra).

Usage: scripts/infra-docs.py [--check]
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "infra"
DIRS = ["bootstrap", "env", "modules/costctl"]
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def blocks(text, kind):
    """(name, body) of every top-level `kind "name" { ... }` block, braces matched."""
    for m in re.finditer(r'^%s\s+"([^"]+)"\s*\{' % kind, text, re.M):
        depth, i = 1, m.end()
        in_str = heredoc = None
        while depth and i < len(text):
            if heredoc:
                end = re.compile(r"^\s*%s\s*$" % heredoc, re.M).search(text, i)
                i, heredoc = end.end(), None
                continue
            c = text[i]
            if in_str:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_str = None
            elif c == '"':
                in_str = c
            elif text.startswith("<<", i):
                h = re.match(r"<<-?(\w+)", text[i:])
                heredoc, i = h.group(1), i + h.end()
                continue
            elif c == "#":
                i = text.index("\n", i)
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
        yield m.group(1), text[m.end() : i - 1]


def attribute(body, key):
    """Raw text of a top-level attribute (multi-line values included)."""
    lines = body.split("\n")
    for n, line in enumerate(lines):
        m = re.match(r"^  %s\s*=\s*(.*)$" % key, line)
        if not m:
            continue
        value = m.group(1)
        h = re.match(r"<<-?(\w+)$", value.strip())
        if h:
            out = []
            for rest in lines[n + 1 :]:
                if rest.strip() == h.group(1):
                    break
                out.append(rest.strip())
            return " ".join(out)
        depth = value.count("{") + value.count("(") + value.count("[") - value.count("}") - value.count(")") - value.count("]")
        out = [value]
        for rest in lines[n + 1 :]:
            if depth <= 0:
                break
            out.append(rest.strip())
            depth += rest.count("{") + rest.count("(") + rest.count("[") - rest.count("}") - rest.count(")") - rest.count("]")
        return " ".join(out)
    return None


def cell(text):
    text = re.sub(r"\s+", " ", text or "").strip()
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    return text.replace("|", "\\|")


def table(directory):
    variables = (directory / "variables.tf").read_text()
    outputs = (directory / "outputs.tf").read_text()
    rows = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:-:|"]
    for name, body in blocks(variables, "variable"):
        default = attribute(body, "default")
        typ = cell(attribute(body, "type") or "any")
        if len(typ) > 60:
            typ = typ.split("(")[0] + "(…)"
        rows.append(
            f"| `{name}` | {cell(attribute(body, 'description'))} | `{typ}` | "
            f"{'`' + cell(default) + '`' if default is not None else 'n/a'} | {'no' if default is not None else 'yes'} |"
        )
    rows += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, body in blocks(outputs, "output"):
        rows.append(f"| `{name}` | {cell(attribute(body, 'description'))} |")
    return "\n".join(rows)


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for d in DIRS:
        readme = ROOT / d / "README.md"
        text = readme.read_text()
        if BEGIN not in text or END not in text:
            stale.append(f"{readme}: no {BEGIN} … {END} markers")
            continue
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        new = f"{head}{BEGIN}\n{table(ROOT / d)}\n{END}{tail}"
        if new != text:
            if check:
                stale.append(f"{readme.relative_to(ROOT.parent)} is out of date: run scripts/infra-docs.py")
            else:
                readme.write_text(new)
                print(f"updated {readme.relative_to(ROOT.parent)}")
    for s in stale:
        print(s)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
