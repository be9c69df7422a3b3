"""The Ray engine against the in-process one, side by side, and what a study costs on N workers.

    .venv/bin/python -m benchmarks.engines [--config configs/demo-sweep.toml] [--threads 1]

1. Builds the config twice from scratch (fresh checkpoint folders, so both train): in process,
   and on a local Ray cluster (one task per `--threads` CPUs: with 1 on a 2-core machine, two
   workers). Prints both wall times, their ratio, Ray's own start-up (a local cluster and one
   empty task), and the largest difference between the two stores per metric (`pred` and
   `correct`: the number of rows that differ). Equal stores are the point: the ratio is what the
   engine costs on one machine, where it can only win by running units side by side.
2. Projects the demo config and configs/paper-sweep-cifar10-resnet18.toml over 1, 4 and 16
   workers from `plan`'s per-unit costs (timed batches on this machine's CPU), scheduling the
   units' dependencies (compute/plan.py: makespan). The paper config's data is read from
   ../shared/data (10,000 CIFAR-10 training images stand in for the 50,000, so its training
   units are scaled by 5). The figures are in this CPU's time: a GPU runs every unit faster, and
   the 1 -> 4 -> 16 ratios are what carries over.
Record the output in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FLOATS = ["length", "angle_true", "angle_pred", "angle_gap", "logit_margin", "margin_distance",
          "prob_true", "confidence", "loss", "entropy"]


def run(*args: str) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "compute", *args], cwd=ROOT,
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"error: python -m compute {' '.join(args)} failed:\n"
                         + result.stderr[-2000:])
    return time.perf_counter() - start


def differences(a: Path, b: Path) -> dict[str, float]:
    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    checks = [f"max(abs(x.{c} - y.{c})) AS {c}" for c in FLOATS]
    checks += ["sum((x.pred <> y.pred)::INT) AS pred", "sum((x.correct <> y.correct)::INT) AS correct",
               "count(*) AS rows"]
    row = con.execute(f"SELECT {', '.join(checks)} FROM a.metrics x "
                      "JOIN b.metrics y USING (model_id, condition_id, sample_id)")
    names = [d[0] for d in row.description]
    return dict(zip(names, row.fetchall()[0], strict=True))


def ray_startup() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import ray; ray.init(include_dashboard=False, "
                    "log_to_driver=False); ray.get(ray.remote(lambda: 1).remote()); "
                    "ray.shutdown()"], check=True, capture_output=True)
    return time.perf_counter() - start


def projection(config: Path, tmp: Path, train_scale: float = 1.0) -> dict:
    out = subprocess.run([sys.executable, "-m", "compute", "plan", str(config), "--json",
                          "--checkpoints", str(tmp / "no-checkpoints")], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"error: plan of {config} failed: {out.stderr[-1000:]}")
    plan = json.loads(out.stdout)
    from compute.plan import Unit, makespan

    units = [Unit(u["kind"], u["name"], tuple(u["after"]),
                  u["seconds"] * (train_scale if u["kind"] == "train" else 1.0), False)
             for u in plan["units"]]
    return {"models": len(plan["models"]), "conditions": len(plan["conditions"]),
            "rows": plan["metric_rows"],
            "train_h": sum(u.seconds for u in units if u.kind == "train") / 3600,
            "evaluate_h": sum(u.seconds for u in units if u.kind == "evaluate") / 3600,
            **{w: makespan(units, w) / 3600 for w in (1, 4, 16)}}


def paper_on_shared_data(tmp: Path) -> Path:
    """configs/paper-sweep-cifar10-resnet18.toml reading ../shared/data instead of downloading."""
    text = (ROOT / "configs" / "paper-sweep-cifar10-resnet18.toml").read_text()
    data = (f'[data]\nsource = "imagefolder"\nroot = "{SHARED / "cifar10"}"\ntest = "test"\n'
            'train = "train-10k"\nmean = [0.4914, 0.4822, 0.4465]\nstd = [0.2470, 0.2435, 0.2616]\n')
    text = re.sub(r"\[data\].*?(?=\n\[conditions\])", data, text, flags=re.S)
    path = tmp / "paper-sweep-shared.toml"
    path.write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "demo-sweep.toml"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-builds", action="store_true", help="the projections only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_builds:
            threads = ["--threads", str(args.threads)]
            local = run("build", args.config, "--out", str(tmp / "inprocess.duckdb"),
                        "--checkpoints", str(tmp / "ck-inprocess"), *threads)
            ray = run("build", args.config, "--engine", "ray", "--out", str(tmp / "ray.duckdb"),
                      "--checkpoints", str(tmp / "ck-ray"), *threads)
            startup = ray_startup()
            print(f"{Path(args.config).name}, --threads {args.threads}: in process {local:.1f} s, "
                  f"Ray (local cluster) {ray:.1f} s, ratio {ray / local:.2f}; "
                  f"Ray's start-up alone (a cluster and one empty task) {startup:.1f} s")
            diff = differences(tmp / "inprocess.duckdb", tmp / "ray.duckdb")
            each = ", ".join(f"{k} {v:.3g}" for k, v in diff.items() if k not in ("rows", "pred",
                                                                                  "correct"))
            print(f"stores compared over {diff.pop('rows'):,} metric rows: pred differs in "
                  f"{diff.pop('pred')}, correct in {diff.pop('correct')}; largest float "
                  f"difference {max(diff.values()):.3g} ({each})")
        print("\nprojection from plan's per-unit costs on this CPU (hours; workers as fast as it):")
        print(f"{'config':40s} {'models':>6s} {'conds':>5s} {'rows':>12s} {'train h':>9s} "
              f"{'eval h':>8s} {'1 worker':>9s} {'4':>8s} {'16':>8s} {'16 vs 1':>8s}")
        configs = [(Path(args.config), 1.0)]
        if (SHARED / "cifar10" / "train-10k").is_dir():
            configs.append((paper_on_shared_data(tmp), 50_000 / 10_000))
        else:
            print(f"(no {SHARED}: the paper config's projection needs its CIFAR-10 images)")
        for config, scale in configs:
            p = projection(config, tmp, scale)
            print(f"{config.name:40s} {p['models']:6d} {p['conditions']:5d} {p['rows']:12,d} "
                  f"{p['train_h']:9.2f} {p['evaluate_h']:8.2f} {p[1]:9.2f} {p[4]:8.2f} "
                  f"{p[16]:8.2f} {p[1] / p[16]:7.1f}x")


if __name__ == "__main__":
    main()
