"""The corruption table of docs/corruptions.md, from the registry: one row per corruption, in the
suite's order, with its family, whether the mean and mCE average over it, whether it draws random
numbers, the published generator it reproduces and its parameters per severity.

    .venv/bin/python scripts/corruption_table.py           # rewrite the table in the docs
    .venv/bin/python scripts/corruption_table.py --check   # exit 1 if the docs' table is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compute.corruptions import suite  # noqa: E402

DOCS = ROOT / "docs" / "corruptions.md"
BEGIN = "<!-- corruption table: scripts/corruption_table.py writes it -->"
END = "<!-- end of the corruption table -->"


def _params(values: tuple) -> str:
    return " · ".join("(" + ", ".join(f"{v:g}" for v in p) + ")" if isinstance(p, tuple)
                      else f"{p:g}" for p in values)


def table() -> str:
    rows = ["| corruption | family | in the mean | random | reproduces | parameters, severity 1 · ... · 5 |",
            "| --- | --- | --- | --- | --- | --- |"]
    for c in suite():
        rows.append(f"| {c.name} | {c.family} | {'yes' if c.benchmark else 'no'} | "
                    f"{'yes' if c.random else 'no'} | {f'`{c.reference}`' if c.reference else '(own)'} | "
                    f"{_params(c.params)} |")
    return "\n".join(rows)


def with_table(text: str) -> str:
    """`text` with the block between the markers replaced by the current table."""
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOCS} lacks the markers {BEGIN!r} and {END!r}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the docs' table is stale")
    args = parser.parse_args(argv)
    text = DOCS.read_text(encoding="utf-8")
    new = with_table(text)
    if args.check:
        if new != text:
            print(f"{DOCS.relative_to(ROOT)}: the corruption table differs from the registry; "
                  "run python scripts/corruption_table.py", file=sys.stderr)
            return 1
        return 0
    DOCS.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
