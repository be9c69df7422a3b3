"""What a build will run, before it runs: `python -m compute plan CONFIG`.

A build is a graph of work units. Each model that trains or prunes is a *train* unit, after its
base's. Each condition is an *evaluate* unit: every test sample, corrupted once, through every
model (linear CKA needs all their features at once), so it comes after every train unit. Both
engines run these units; the plan lists them with what is already done (cached weights, pairs
in a partial build) and an estimate of their cost from timing a few batches of each
architecture on the device, and projects the wall time over several workers by scheduling the
graph. Nothing is trained, evaluated or written.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache

import torch
import torch.nn.functional as F

from compute import numerics
from compute.conditions import resolve_conditions
from compute.config import BuildConfig, ModelSpec, TrainRecipe
from compute.datasets import load_data
from compute.devices import resolve_device
from compute.models import create_model
from compute.preparation import cached_checkpoint, preflight, weight_keys
from store.writer import pairs_written


@dataclass(frozen=True)
class Unit:
    kind: str  # "train", "evaluate" or "radius"
    name: str  # the model trained (or whose radii are sought), or the condition evaluated
    after: tuple[str, ...]  # names of the train units it waits for
    seconds: float  # estimated cost on the timed device
    done: bool  # cached weights, or every pair of the condition already in a partial build

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class ModelPlan:
    name: str
    recipe: str
    method: str
    target_sparsity: float | None
    seed: int | None
    base: str | None
    reference: str | None
    epochs: int
    cached: bool | None  # None: given weights, nothing to train


@dataclass(frozen=True)
class Plan:
    config: str
    output: str
    device: str
    train_samples: int
    test_samples: int
    classes: int
    models: tuple[ModelPlan, ...]
    conditions: tuple[str, ...]
    units: tuple[Unit, ...]
    pairs_done: int

    @property
    def metric_rows(self) -> int:
        return len(self.models) * len(self.conditions) * self.test_samples

    def seconds(self, kind: str | None = None, todo: bool = True) -> float:
        return sum(u.seconds for u in self.units
                   if (kind is None or u.kind == kind) and not (todo and u.done))

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "metric_rows": self.metric_rows,
                           "projection": {str(w): makespan(self.units, w) for w in (1, 4, 16)}},
                          indent=2)


def training_passes(spec: ModelSpec) -> float:
    """How many times a recipe's epochs run: iterative methods retrain once per round."""
    if spec.train is None:
        return 0.0
    rounds = getattr(spec.prune.params, "rounds", 1) if spec.prune else 1
    return float(spec.train.epochs * rounds)


@cache
def _timings(arch: str, num_classes: int, shape: tuple[int, ...], device: torch.device,
             train_batch: int, eval_batch: int) -> tuple[float, float]:
    """Seconds per sample of one training step and of one evaluation forward pass of `arch` on
    `device`, from two timed batches after a warm-up (random inputs: only the shapes matter)."""
    torch.manual_seed(0)
    net = create_model(arch, num_classes).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        x = torch.rand(train_batch, *shape, device=device)
        y = torch.randint(0, num_classes, (train_batch,), device=device)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def forward() -> None:
        with torch.inference_mode():
            net(torch.rand(eval_batch, *shape, device=device))

    out = []
    for fn, batch in ((step, train_batch), (forward, eval_batch)):
        net.train(fn is step)
        fn()
        _sync(device)
        start = time.perf_counter()
        for _ in range(2):
            fn()
        _sync(device)
        out.append((time.perf_counter() - start) / (2 * batch))
    return out[0], out[1]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _corruption_seconds(conditions: Sequence, test, device) -> dict[str, float]:
    """Seconds per image of generating each condition, timed on a few test images."""
    ids = torch.arange(min(8, len(test)))
    out = {}
    for c in conditions:
        c.images(test, ids, device)  # warm-up: the first call may build kernels and caches
        start = time.perf_counter()
        c.images(test, ids, device)
        _sync(device)
        out[c.name] = (time.perf_counter() - start) / len(ids)
    return out


# Forward-pass equivalents of one gradient step (a forward and a backward): measured 1.85 on the
# CIFAR-10 ResNet-20 on a 2-core CPU (PGD-10 took 19.4x a clean forward; docs/attacks.md).
STEP_PASSES = 2
# torchattacks' AutoAttack runs APGD-CE for 10 steps first (its APGD default; the original runs
# 100); on a standard model that flips almost every sample, so the rest of the ensemble runs on
# few: measured, about the cost of PGD-10. On a robust model the ensemble costs far more.
AUTOATTACK_STEPS = 10


def attack_seconds(condition, forwards: dict[str, float]) -> float:
    """Seconds per image of crafting an attack condition's inputs, from the models' timed forward
    passes: its steps of a forward and a backward, on every model (white-box) or on the source."""
    spec = condition.attack
    steps = AUTOATTACK_STEPS if spec.attack == "autoattack" else spec.steps
    attacked = sum(forwards.values()) if condition.per_model else forwards[spec.source]
    return steps * STEP_PASSES * attacked


def _pairs_done(cfg: BuildConfig) -> dict[int, int]:
    """Condition id -> number of models whose metrics a resumable partial build already holds."""
    return pairs_written(cfg.output, cfg.fingerprint())


def make_plan(cfg: BuildConfig, device: str = "auto") -> Plan:
    """The plan of `cfg`'s build on `device`: reads the data (for its sizes) and times a few
    batches, but trains, evaluates and writes nothing."""
    dev = resolve_device(numerics.device_for(cfg.numerics, device))
    numerics.apply(cfg.numerics)
    resolve_conditions(cfg)  # unknown names fail before the data is read
    preflight(cfg)
    data = load_data(cfg.data.source, **cfg.data.options)
    conditions = resolve_conditions(cfg, data.test)
    num_classes = len(data.classes)
    shape = tuple(data.test.images.shape[1:])
    n_train = len(data.train) if data.train is not None else 0
    n_test = len(data.test)
    keys = weight_keys(cfg)
    archs: dict[str, str] = {}
    models, units = [], []
    for spec in cfg.models:
        archs[spec.name] = spec.arch or archs[spec.base]
        recipe = spec.train or TrainRecipe(epochs=0)
        trains = spec.train is not None or spec.prune is not None
        cached = cached_checkpoint(cfg, spec, keys[spec.name]).is_file() if trains else None
        models.append(ModelPlan(spec.name, spec.recipe or spec.name, spec.method,
                                spec.prune.sparsity if spec.prune else None, spec.seed, spec.base,
                                spec.reference or spec.base, recipe.epochs, cached))
        if trains:
            per_sample, _ = _timings(archs[spec.name], num_classes, shape, dev,
                                     recipe.batch_size, cfg.evaluation.batch_size)
            after = (f"train:{spec.base}",) if spec.base and any(
                u.key == f"train:{spec.base}" for u in units) else ()
            units.append(Unit("train", spec.name, after,
                              training_passes(spec) * n_train * per_sample, bool(cached)))
    forwards = {s.name: _timings(archs[s.name], num_classes, shape, dev,
                                 (s.train or TrainRecipe()).batch_size, cfg.evaluation.batch_size)[1]
                for s in cfg.models}
    forward = sum(forwards.values())
    corrupt = _corruption_seconds([c for c in conditions if c.attack is None], data.test, dev)
    done = _pairs_done(cfg)
    trained = tuple(u.key for u in units)
    for c in conditions:
        per_image = (corrupt[c.name] if c.attack is None else attack_seconds(c, forwards)) + forward
        units.append(Unit("evaluate", c.name, trained, len(c.sample_ids(data.test)) * per_image,
                          done.get(c.condition_id, 0) == len(cfg.models)))
    if cfg.radius is not None:  # after the evaluation, a model at a time
        samples = min(cfg.radius.samples or n_test, n_test)
        evaluated = tuple(u.key for u in units if u.kind == "evaluate")
        units += [Unit("radius", name, evaluated,
                       samples * cfg.radius.steps * (1 + num_classes) * seconds, False)
                  for name, seconds in forwards.items()]
    return Plan(str(cfg.path), str(cfg.output), dev.type, n_train, n_test, num_classes,
                tuple(models), tuple(c.name for c in conditions), tuple(units),
                sum(done.values()))


def makespan(units: Sequence[Unit], workers: int) -> float:
    """Wall seconds to run the units not yet done on `workers` equal workers, each unit on one
    worker once the units it waits for are finished (greedy list scheduling, longest first:
    within 2x of the optimum, and what a task scheduler like Ray's does in practice)."""
    todo = {u.key: u for u in units if not u.done}
    finish: dict[str, float] = {}
    free = [0.0] * workers
    waiting = dict(todo)
    while waiting:
        ready = [u for u in waiting.values()
                 if all(a in finish or a not in todo for a in u.after)]
        unit = max(ready, key=lambda u: u.seconds)
        start = max([heapq.heappop(free)] + [finish[a] for a in unit.after if a in finish])
        finish[unit.key] = start + unit.seconds
        heapq.heappush(free, finish[unit.key])
        del waiting[unit.key]
    return max(finish.values(), default=0.0)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:,.1f} min" if seconds >= 60 else f"{seconds:,.0f} s"


def describe(plan: Plan) -> str:
    """The plan as the command prints it."""
    pct = lambda s: "-" if s is None else f"{s * 100:.4g} %"  # noqa: E731
    lines = [f"plan of {plan.config} -> {plan.output}",
             f"data: {plan.train_samples:,} training / {plan.test_samples:,} test samples, "
             f"{plan.classes} classes", "",
             f"{len(plan.models)} models:"]
    rows = [("model", "recipe", "method", "sparsity", "seed", "reference", "epochs", "weights")]
    for m in plan.models:
        weights = "given" if m.cached is None else "cached" if m.cached else "to train"
        rows.append((m.name, m.recipe, m.method, pct(m.target_sparsity),
                     "-" if m.seed is None else str(m.seed), m.reference or "-",
                     str(m.epochs), weights))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    train = [u for u in plan.units if u.kind == "train"]
    evaluate = [u for u in plan.units if u.kind == "evaluate"]
    pairs = len(plan.models) * len(plan.conditions)
    lines += ["", f"{len(plan.conditions)} conditions: {', '.join(plan.conditions[:6])}"
              + (f", ... {plan.conditions[-1]}" if len(plan.conditions) > 6 else ""),
              f"work units: {len(train)} train ({sum(u.done for u in train)} cached), "
              f"{len(evaluate)} evaluate ({pairs:,} (model, condition) pairs, "
              f"{plan.pairs_done:,} already in a partial build)",
              f"metric rows: {plan.metric_rows:,}", "",
              f"estimated on {plan.device} (a few timed batches per architecture): training "
              f"{_minutes(plan.seconds('train'))}, evaluation {_minutes(plan.seconds('evaluate'))}"
              + (f", radius {_minutes(plan.seconds('radius'))}"
                 if any(u.kind == "radius" for u in plan.units) else ""),
              "projected wall time, workers as fast as this device: " + ", ".join(
                  f"{w}: {_minutes(makespan(plan.units, w))}" for w in (1, 4, 16)),
              "nothing was run: `python -m compute build` runs it"]
    return "\n".join(lines)
