"""Fixtures every lane shares, torch-free: the repository's paths, ../shared/data, a synthetic
store written by the real writer, and a guard that the suite never writes into stores/.

Lanes: tests/compute (needs the compute install), tests/code, tests/store and tests/app (the app's
requirements alone). `pytest -m "not slow"` is the fast lane.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def _stores_listing() -> dict[str, float]:
    stores = ROOT / "stores"
    return {str(p): p.stat().st_mtime for p in stores.rglob("*")} if stores.is_dir() else {}


# Fixtures that build stores, read the shared data or serve the app: tests using them are slow.
SLOW_FIXTURES = {"tiny_store", "demo_store", "built_store", "sweep_store", "attack_config",
                 "shared_data", "served",
                 "served_sweep", "served_mixed"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.stores_before = _stores_listing()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The suite must never write into the repository's stores/ (a user's demo store and
    checkpoint cache live there): fail the run if it did."""
    before = getattr(session, "stores_before", None)
    if before is not None and _stores_listing() != before:
        changed = sorted(set(_stores_listing().items()) ^ set(before.items()))[:3]
        print(f"\nerror: the test suite wrote into {ROOT / 'stores'}: {changed}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or a skip (a failure when REQUIRE_SHARED_DATA=1, as in CI)."""
    if (SHARED_DATA / "cifar10" / "test").is_dir():
        return SHARED_DATA
    message = f"the shared CIFAR-10 data is not at {SHARED_DATA}"
    if os.environ.get("REQUIRE_SHARED_DATA") == "1":
        pytest.fail(message + " and REQUIRE_SHARED_DATA=1")
    pytest.skip(message)


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store shaped like the tiny digits build, without torch (do not modify it)."""
    from tests.support.synthetic import build_synthetic_store

    return build_synthetic_store(tmp_path_factory.mktemp("synthetic") / "synthetic.duckdb")


@pytest.fixture(scope="session")
def synthetic_sweep_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic store's data as a sweep of 26 models: four methods at three sparsities, two
    seeds each, and a dense model per seed (do not modify it)."""
    from tests.support.synthetic import build_synthetic_store, sweep_models

    return build_synthetic_store(tmp_path_factory.mktemp("sweep") / "synthetic-sweep.duckdb",
                                 models=sweep_models())


@pytest.fixture(scope="session")
def population_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hand-built sweep (dense and gmp seeds) with known exemplars and ECE (do not modify it)."""
    from tests.support.population import build_population_store

    return build_population_store(tmp_path_factory.mktemp("population") / "population.duckdb")


@pytest.fixture(scope="session")
def collapsed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic store plus a pruned model at chance accuracy (do not modify it)."""
    from tests.support.synthetic import build_synthetic_store

    return build_synthetic_store(tmp_path_factory.mktemp("collapsed") / "collapsed.duckdb",
                                 collapsed=True)
