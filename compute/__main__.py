"""Command line of the compute side: `python -m compute build CONFIG [options]`,
`python -m compute plan CONFIG` and `python -m compute export STORE --out SMALL [options]`
(see --help).

Bad input exits with code 2 and one line saying what is wrong; no traceback.
"""

from __future__ import annotations

import argparse
import sys

from compute.errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        print(f"error: {message} (see `python -m compute --help`)", file=sys.stderr)
        sys.exit(2)


def _add_build(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("build", help="build (or resume) the store a config describes")
    b.add_argument("config", help="TOML experiment config, e.g. configs/demo.toml")
    b.add_argument("--out", help="store path (default: the config's `output`)")
    b.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    b.add_argument("--data-root", help="overrides the config's [data] root")
    b.add_argument("--checkpoints", help="where trained models are cached (default: the config's)")
    b.add_argument("--threads", type=int, help="CPU threads for training and evaluation "
                   "(default: one per core); with --engine ray, each task's")
    b.add_argument("--numerics", choices=["native", "portable"],
                   help="CPU floats: native (fastest kernels of this CPU) or portable (the same "
                        "store on every x86-64 CPU; docs/configs.md#reproducibility); default: "
                        "the config's `numerics`, else native")
    b.add_argument("--engine", default="inprocess", choices=["inprocess", "ray"],
                   help="inprocess (default) or ray: Ray tasks on a local or remote cluster "
                        "(pip install -r requirements-ray.txt; docs/distributed.md)")
    b.add_argument("--address", help="with --engine ray: the cluster to join (e.g. auto, or "
                   "ray://HEAD:10001); default: a local cluster with a worker per core")
    b.add_argument("--gpus-per-task", type=float, help="with --engine ray: GPUs each task "
                   "reserves (default 0: tasks run on CPUs)")


def _add_plan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="list the models, conditions and work units a build will "
                       "run, with a cost estimate, without running anything")
    p.add_argument("config", help="TOML experiment config, e.g. configs/demo-sweep.toml")
    p.add_argument("--out", help="store path (default: the config's `output`)")
    p.add_argument("--device", default="auto", help="device to time: auto, cpu or cuda")
    p.add_argument("--data-root", help="overrides the config's [data] root")
    p.add_argument("--checkpoints", help="where trained models are cached (default: the config's)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")


def _add_export(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("export", help="write a smaller store cut from one, for sharing")
    e.add_argument("store", help="the store to cut (read only)")
    e.add_argument("--out", required=True, help="the new, smaller store")
    e.add_argument("--models", nargs="+", metavar="NAME", help="models to keep (default: all)")
    e.add_argument("--conditions", nargs="+", metavar="NAME",
                   help="conditions to keep, e.g. clean fog-5 (default: all; clean always)")
    keep = e.add_mutually_exclusive_group()
    keep.add_argument("--samples", type=int, metavar="N",
                      help="keep N test samples spread evenly over the classes")
    keep.add_argument("--classes", nargs="+", metavar="NAME", help="keep the samples of these classes")
    e.add_argument("--drop-angles", action="store_true",
                   help="leave out the angles to every class (the class-pair plane needs them)")
    e.add_argument("--thumbnails", type=int, metavar="N",
                   help="keep at most N corrupted thumbnails per condition")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m compute", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_add_build, _add_plan, _add_export):
        add(sub)
    args = parser.parse_args(argv)
    if args.command == "export":
        return export(args)
    if args.command == "plan":
        return plan(args)

    from compute import numerics

    # ATen and MKL read their settings when torch loads, so the mode is set before any import
    # of torch; a config that is not valid TOML is reported by load_config below.
    numerics.prepare(args.numerics or _configured_numerics(args.config))
    from compute.build import build
    from compute.config import load_config

    try:
        cfg = load_config(args.config, data_root=args.data_root, out=args.out,
                          checkpoints=args.checkpoints, numerics=args.numerics)
        path = build(cfg, device=args.device, threads=args.threads, engine=args.engine,
                     address=args.address, gpus_per_task=args.gpus_per_task)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the previous store is untouched; rerun to resume", file=sys.stderr)
        return 130
    print(f"wrote {path}")
    return 0


def _configured_numerics(path: str) -> str:
    """The config's `numerics`, read without torch; native when it cannot be read (load_config
    then says what is wrong with the file)."""
    import tomllib

    try:
        with open(path, "rb") as f:
            value = tomllib.load(f).get("numerics", "native")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return "native"
    return value if value in ("native", "portable") else "native"


def plan(args: argparse.Namespace) -> int:
    from compute import numerics

    numerics.prepare(_configured_numerics(args.config))  # the cache keys depend on it
    from compute.config import load_config
    from compute.plan import describe, make_plan

    try:
        cfg = load_config(args.config, data_root=args.data_root, out=args.out,
                          checkpoints=args.checkpoints)
        made = make_plan(cfg, device=args.device)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(made.to_json() if args.json else describe(made))
    return 0


def export(args: argparse.Namespace) -> int:
    from store import StoreError
    from store.cut import cut

    try:
        path, notes = cut(args.store, args.out, models=args.models, conditions=args.conditions,
                          samples=args.samples, classes=args.classes,
                          drop_angles=args.drop_angles, thumbnails=args.thumbnails)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {path} ({path.stat().st_size / 1e6:,.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
