"""Does a store depend on the CPU that built it? One config built under pinned instruction-set
levels, in each numerics mode, timed and compared side by side.

    .venv/bin/python -m benchmarks.portability [--config configs/demo.toml]
                                               [--levels machine avx2 avx sse4.2]
                                               [--numerics native portable] [--keep DIR]

A level pins what a CPU of that generation would run: ATen's kernels (`ATEN_CPU_CAPABILITY`),
oneDNN's generated code (`ONEDNN_MAX_CPU_ISA`) and MKL's code path (`MKL_ENABLE_INSTRUCTIONS`),
set in the environment of a fresh `python -m compute build` (they are read once, when torch
loads). `machine` pins nothing. A level above this CPU's (avx512 on an AVX2 machine) is skipped:
ATen would run instructions the CPU does not have. Each build trains its models afresh (a
checkpoint folder of its own) on the same thread count.

Prints, per (numerics, level): the build's wall time and its ratio to the native build at the
machine's level; each model's clean and mean corruption accuracy; and the comparison of every
store with the first of its mode (scripts/compare_stores.py: identical, or the largest difference
per column), with the largest accuracy difference in points.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from store import open_store, queries  # noqa: E402

LEVELS: dict[str, dict[str, str]] = {
    "machine": {},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
               "MKL_ENABLE_INSTRUCTIONS": "AVX512"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    # ATen has no AVX-only kernels: below AVX2 it runs its baseline ones.
    "avx": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "AVX",
            "MKL_ENABLE_INSTRUCTIONS": "AVX"},
    "sse4.2": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
               "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
}
CPU_FLAG = {"avx512": "avx512f", "avx2": "avx2", "avx": "avx", "sse4.2": "sse4_2"}


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def accuracies(path: Path) -> dict[str, tuple[float, float]]:
    con = open_store(path)
    return {r["model"]: (r["clean_accuracy"], r["mean_corruption_accuracy"] or 0.0)
            for r in queries.model_overview(con).to_dicts()}


def build(config: Path, out: Path, numerics: str, level: dict[str, str], threads: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in LEVELS["avx512"] and k != "MKL_CBWR"}
    env.update(level)
    cmd = [sys.executable, "-m", "compute", "build", str(config), "--out", str(out),
           "--checkpoints", str(out.parent / "checkpoints"), "--numerics", numerics,
           "--threads", str(threads)]
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"build failed ({numerics}, {level}): {result.stderr[-1500:]}")
    return time.perf_counter() - start


def compare(a: Path, b: Path) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_stores.py"), str(a),
                             str(b)], capture_output=True, text=True)
    if result.returncode == 0:
        return "bit-identical"
    return "; ".join(ln for ln in result.stdout.splitlines() if "DIFFER" in ln or "rows against" in ln)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "demo.toml")
    parser.add_argument("--levels", nargs="+", default=["machine", "avx512", "avx2", "avx", "sse4.2"],
                        choices=list(LEVELS))
    parser.add_argument("--numerics", nargs="+", default=["native", "portable"],
                        choices=["native", "portable"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the stores in this folder")
    args = parser.parse_args()
    flags = cpu_flags()
    levels = [lv for lv in args.levels if lv == "machine" or CPU_FLAG[lv] in flags]
    for lv in sorted(set(args.levels) - set(levels)):
        print(f"skipped level {lv}: this CPU lacks {CPU_FLAG[lv]}")
    model_name = next((ln.split(":", 1)[1].strip() for ln in
                       Path("/proc/cpuinfo").read_text().splitlines()
                       if ln.startswith("model name")), "?")
    print(f"CPU: {model_name}; {os.cpu_count()} cores; {args.threads} threads per build; "
          f"config {args.config.name}")
    work = Path(args.keep or tempfile.mkdtemp(prefix="rle-portability-"))
    times: dict[tuple[str, str], float] = {}
    for numerics in args.numerics:
        first: Path | None = None
        first_acc: dict[str, tuple[float, float]] = {}
        for level in levels:
            out = work / f"{numerics}-{level}" / "store.duckdb"
            out.parent.mkdir(parents=True, exist_ok=True)
            times[numerics, level] = build(args.config, out, numerics, LEVELS[level], args.threads)
            acc = accuracies(out)
            base = times.get(("native", levels[0]))
            ratio = f" ({times[numerics, level] / base:.2f}x native at {levels[0]})" if base else ""
            print(f"\n{numerics:8s} {level:8s} built in {times[numerics, level]:.0f} s{ratio}")
            for model, (clean, mca) in acc.items():
                print(f"    {model:14s} clean {100 * clean:5.1f} %  corruptions {100 * mca:5.1f} %")
            if first is None:
                first, first_acc = out, acc
                continue
            gap = max(max(abs(acc[m][0] - first_acc[m][0]), abs(acc[m][1] - first_acc[m][1]))
                      for m in acc)
            print(f"    against {numerics} at {levels[0]}: {compare(first, out)}")
            print(f"    largest accuracy difference: {100 * gap:.1f} points")
    print(f"\nstores in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
