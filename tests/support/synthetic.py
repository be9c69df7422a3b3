"""A store of made-up but self-consistent numbers, written by the real writer without torch: the
store and app tests' stand-in for a build (tests/compute builds real ones).

It has the shape of the tiny digits build the compute tests make: classes "0".."9", 450 test
samples, a dense model and `magnitude-80` pruned from it, clean and three corruptions at
severities 1 and 5. Features cluster around their class direction and scatter more under a
corruption, so accuracies fall with severity; every metric comes from the geometry's definitions
(tests/support/geometry.py), so the stored identities hold as in a real store.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from store.derived import shift_moment_views
from store.records import ConditionRecord, ModelRecord
from store.writer import StoreWriter
from tests.support.geometry import reference_geometry

CLASSES = [str(d) for d in range(10)]
SAMPLES = 450
FEATURES = 16


@dataclass(frozen=True)
class Spec:
    """A model of the store: a pruned one's weights are its reference's, most set to zero."""
    name: str
    method: str
    target: float | None = None
    reference: int | None = None  # index of its dense reference among the store's models
    recipe: str | None = None
    seed: int | None = None
    dead_class: int | None = None  # a class whose whole row pruning removed


MODELS = [Spec("dense", "dense"), Spec("magnitude-80", "magnitude", 0.8, 0)]
CORRUPTIONS = [("gaussian_noise", "noise"), ("contrast", "digital"), ("pixelate", "digital")]
SEVERITIES = (1, 5)
THUMBNAILS = 40  # samples whose corrupted images are kept, as a build keeps them


def conditions() -> list[ConditionRecord]:
    out = [ConditionRecord.clean()]
    for name, family in CORRUPTIONS:
        for s in SEVERITIES:
            out.append(ConditionRecord(len(out), f"{name}-{s}", name, s, family, True))
    return out


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(0), y - y.mean(0)
    cross = np.linalg.norm(x.T @ y) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


COLLAPSED = Spec("random-80", "random", 0.8, 0)  # features blind to the class: near chance


def sweep_models(methods: tuple[str, ...] = ("magnitude", "gmp", "random", "snip"),
                 levels: tuple[float, ...] = (0.5, 0.8, 0.9), seeds: tuple[int, ...] = (1, 2),
                 ) -> list[Spec]:
    """A sweep's models, named as a config's expansion names them: a dense model per seed, and
    each method at each sparsity and seed pruned from its seed's dense model (26 by default)."""
    out = [Spec(f"dense-s{s}", "dense", recipe="dense", seed=s) for s in seeds]
    for method in methods:
        for level in levels:
            out += [Spec(f"{method}-{level * 100:.0f}-s{s}", method, level, i, method, s)
                    for i, s in enumerate(seeds)]
    return out


def build_synthetic_store(path: Path, seed: int = 0, collapsed: bool = False,
                          models: list[Spec] | None = None) -> Path:
    """The store at `path` with MODELS, or `models`; `collapsed` adds COLLAPSED, a pruned model
    at chance accuracy."""
    rng = np.random.default_rng(seed)
    models = list(models or MODELS) + ([COLLAPSED] if collapsed else [])
    labels = np.arange(SAMPLES) % len(CLASSES)
    images = rng.integers(0, 256, (SAMPLES, 8, 8)).repeat(4, 1).repeat(4, 2)  # 32x32 grey
    conds = conditions()
    weights = [rng.normal(0, 1, (len(CLASSES), FEATURES)) for _ in models]
    for m, spec in enumerate(models):
        if spec.reference is not None and spec != COLLAPSED:  # its features are noise anyway
            kept = rng.random(weights[m].shape) >= spec.target
            weights[m] = np.where(kept, weights[spec.reference] * 1.3, 0.0)
    for m, spec in enumerate(models):
        if spec.dead_class is not None:
            weights[m][spec.dead_class] = 0.0
    biases = [rng.normal(0, 0.1, len(CLASSES)) for _ in models]
    base = rng.normal(0, 1, (SAMPLES, FEATURES))
    with StoreWriter(path, f"synthetic-{seed}", num_classes=len(CLASSES)) as writer:
        writer.put_meta({"config_name": "synthetic", "dataset": "digits", "device": "cpu",
                         "corruption_source": "generated", "created_at": "2026-01-01T00:00:00"})
        writer.put_classes(CLASSES)
        writer.put_conditions(conds)
        writer.put_samples(labels, [f"synthetic[{i}]" for i in range(SAMPLES)],
                           [png(im) for im in images])
        for m, spec in enumerate(models):
            writer.put_model(ModelRecord(m, spec.name, "synthetic", spec.method, spec.target,
                                         spec.target or 0.0, weights[m].size,
                                         int((weights[m] != 0).sum()), spec.reference,
                                         len(CLASSES), FEATURES, recipe=spec.recipe,
                                         seed=spec.seed),
                             weights[m], biases[m])
        kept = np.sort(np.arange(SAMPLES)[:THUMBNAILS])
        for c in conds:
            noise = 0.6 + 0.35 * c.severity
            features = []
            for m in range(len(models)):
                w = weights[m]
                f = 2.5 * w[labels] / np.linalg.norm(w[labels], axis=1, keepdims=True).clip(1e-9)
                f = f + noise * base + 0.3 * rng.normal(0, 1, base.shape)
                if models[m] == COLLAPSED:
                    f = rng.normal(0, 1, base.shape)
                features.append(f)
                writer.put_metrics(m, c.condition_id, np.arange(SAMPLES, dtype=np.int32),
                                   reference_geometry(f, w, biases[m], labels))
            cka = np.array([[linear_cka(a, b) for b in features] for a in features])
            writer.put_similarity(c.condition_id, list(range(len(models))), cka)
            if c.severity:
                shade = np.clip(images[kept] * (1 - 0.1 * c.severity), 0, 255)
                writer.put_condition_thumbnails(c.condition_id, kept, [png(im) for im in shade])
        for metric, severity in shift_moment_views(SEVERITIES):
            writer.put_shift_moments(metric, severity)
        return writer.commit()
