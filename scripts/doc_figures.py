"""Rewrite the figures in the docs from stores, so the text never drifts from what a build gives.

    .venv/bin/python scripts/doc_figures.py [--demo stores/demo.duckdb] [--cifar PATH] [--check]

Each figure sits in a docs file between `<!-- figures:NAME -->` and `<!-- /figures:NAME -->`;
everything between the markers is replaced by what the store says. `--check` changes nothing and
exits 1 when a block differs (the slow tests run it on a fresh demo build). Blocks whose store
is not given are left as they are.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store import StoreError, open_store, queries  # noqa: E402


def pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f} %"


def demo_models(con) -> str:
    """The demo's table of models, and the spread the text draws from it."""
    rows = queries.model_overview(con).to_dicts()
    lines = ["| model | method | measured sparsity | non-zero parameters | clean accuracy "
             "| mean corruption accuracy (15 benchmark corruptions) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['method']} | {pct(r['sparsity'])} | "
                     f"{r['params_nonzero']:,} | {pct(r['clean_accuracy'])} | "
                     f"{pct(r['mean_corruption_accuracy'])} |")
    clean = [r["clean_accuracy"] for r in rows]
    mca = [r["mean_corruption_accuracy"] for r in rows if r["mean_corruption_accuracy"] is not None]
    best = max(rows, key=lambda r: r["mean_corruption_accuracy"] or 0)
    lines += ["", f"Clean accuracies lie within {100 * (max(clean) - min(clean)):.1f} points of "
                  f"each other and mean corruption accuracy spreads over "
                  f"{100 * (max(mca) - min(mca)):.1f} points; {best['model']} holds up best "
                  f"({pct(best['mean_corruption_accuracy'])})."]
    return "\n".join(lines)


def _budget(model: dict) -> str:
    train = model.get("train", {})
    prune = model.get("prune", {})
    parts = []
    if prune.get("rounds"):
        parts.append(f"{prune['rounds']} rounds of {train.get('epochs', '?')} epochs")
    elif train:
        parts.append(f"{train.get('epochs', '?')} epochs")
    if "lr" in train:
        parts.append(f"lr {train['lr']}")
    return ", ".join(parts)


def cifar_models(con) -> str:
    """The CIFAR-10 config's clean accuracies, with each model's training budget."""
    config = tomllib.loads(con.execute("SELECT value FROM meta WHERE key = 'config_toml'").fetchall()[0][0])
    recipe = {m["name"]: m for m in config.get("models", [])}
    lines = ["| model | budget | clean accuracy |", "| --- | --- | --- |"]
    for r in queries.model_overview(con).to_dicts():
        m = recipe.get(r["model"], {})
        name = r["model"] + (" (pretrained)" if "checkpoint" in m else "")
        lines.append(f"| {name} | {_budget(m)} | {100 * r['clean_accuracy']:.2f} % |")
    # Indented: the table sits inside a list item of docs/pruning.md.
    return "\n".join("  " + line for line in lines)


# block name -> (docs file, which store, how to write it)
BLOCKS: dict[str, tuple[str, str, Callable]] = {
    "demo-models": ("docs/pruning.md", "demo", demo_models),
    "cifar-models": ("docs/pruning.md", "cifar", cifar_models),
}


def replace_block(text: str, name: str, body: str) -> str:
    """`text` with the block NAME's content replaced by `body`; an error if the markers are missing."""
    key = re.escape(name)
    pattern = re.compile(rf"(<!-- figures:{key} -->\n)(.*?)([ \t]*<!-- /figures:{key} -->)", re.S)
    if not pattern.search(text):
        raise KeyError(f"no <!-- figures:{name} --> ... <!-- /figures:{name} --> block")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(3), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", default=str(ROOT / "stores" / "demo.duckdb"))
    parser.add_argument("--cifar", help="a store built from configs/cifar10-resnet20.toml")
    parser.add_argument("--docs", default=str(ROOT), help="the folder holding docs/ (default: this repo)")
    parser.add_argument("--check", action="store_true", help="only report blocks that differ")
    args = parser.parse_args(argv)
    stores = {"demo": args.demo, "cifar": args.cifar}
    differ = []
    for name, (doc, which, write) in BLOCKS.items():
        if not stores[which]:
            continue
        try:
            con = open_store(stores[which])
        except StoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        path = Path(args.docs) / doc
        text = path.read_text()
        new = replace_block(text, name, write(con))
        con.close()
        if new != text:
            differ.append(f"{doc}:{name}")
            if not args.check:
                path.write_text(new)
    verb = "differ from the store (run scripts/doc_figures.py)" if args.check else "rewritten"
    print(f"{len(differ)} block(s) {verb}: {', '.join(differ) or 'none'}")
    return 1 if args.check and differ else 0


if __name__ == "__main__":
    sys.exit(main())
