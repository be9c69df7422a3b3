"""Sweeps: a [[models]] entry with `seeds = [...]` and/or a list of sparsities expands into one
named model per combination, each referring to its own seed's base and reference."""

import pytest

from compute.config import load_config, percent
from compute.errors import UserError

HEAD = """
name = "s"
[data]
source = "digits"
[[models]]
name = "dense"
arch = "small_cnn"
seeds = [1, 2]
train = { epochs = 1 }
"""


def load(tmp_path, text: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(path)


def refused(tmp_path, text: str) -> str:
    with pytest.raises(UserError) as info:
        load(tmp_path, text)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_an_entry_expands_over_sparsities_then_seeds_with_its_own_seeds_base(tmp_path):
    cfg = load(tmp_path, HEAD + """
[[models]]
name = "gmp"
base = "dense"
seeds = [1, 2]
prune = { method = "gmp", sparsity = [0.5, 0.9] }
train = { epochs = 2 }
[[models]]
name = "snip"
arch = "small_cnn"
reference = "dense"
seeds = [2]
prune = { method = "snip", sparsity = 0.9 }
train = { epochs = 1 }
""")
    got = [(m.name, m.recipe, m.seed, m.prune and m.prune.sparsity, m.base, m.reference)
           for m in cfg.models]
    assert got == [
        ("dense-s1", "dense", 1, None, None, None),
        ("dense-s2", "dense", 2, None, None, None),
        ("gmp-50-s1", "gmp", 1, 0.5, "dense-s1", None),
        ("gmp-50-s2", "gmp", 2, 0.5, "dense-s2", None),
        ("gmp-90-s1", "gmp", 1, 0.9, "dense-s1", None),
        ("gmp-90-s2", "gmp", 2, 0.9, "dense-s2", None),
        ("snip-s2", "snip", 2, 0.9, None, "dense-s2"),
    ]
    # Everything else of the entry is shared by its models.
    assert {m.train.epochs for m in cfg.models if m.recipe == "gmp"} == {2}


def test_an_entry_without_lists_is_one_model_under_its_own_name(tmp_path):
    cfg = load(tmp_path, HEAD.replace("seeds = [1, 2]\n", "") + """
[[models]]
name = "magnitude-80"
base = "dense"
prune = { method = "magnitude", sparsity = [0.8] }
""")
    assert [(m.name, m.recipe, m.seed) for m in cfg.models] == [
        ("dense", None, None), ("magnitude-80", None, None)]


@pytest.mark.parametrize("sparsity, name", [(0.5, "50"), (0.9, "90"), (0.95, "95"),
                                            (0.975, "97.5"), (0.999, "99.9")])
def test_sparsities_are_named_in_percent(sparsity, name):
    assert percent(sparsity) == name


@pytest.mark.parametrize("entry, says", [
    ('name = "p"\nbase = "dense"\nprune = { method = "magnitude", sparsity = 0.8 }',
     "'base' of [[models]] #2 ('p') is 'dense', a sweep over seeds 1, 2: give this entry seeds"),
    ('name = "p"\nbase = "dense"\nseeds = [3]\nprune = { method = "magnitude", sparsity = 0.8 }',
     "a sweep over seeds 1, 2"),
    ('name = "p"\nbase = "dense"\nseeds = [1, 1]\nprune = { method = "magnitude", sparsity = 0.8 }',
     "'seeds' in [[models]] #2 ('p') must be a non-empty list of distinct integers"),
    ('name = "p"\nbase = "dense"\nseeds = []\nprune = { method = "magnitude", sparsity = 0.8 }',
     "must be a non-empty list"),
    ('name = "p"\nbase = "dense-s1"\nprune = { method = "magnitude", sparsity = [0.8, 0.8] }',
     "must be a number or a non-empty list of distinct numbers"),
    ('name = "p"\nbase = "dense-s1"\nprune = { method = "magnitude", sparsity = [0.8, 1.5] }',
     "'sparsity' in the prune table"),
    ('name = "p"\nbase = "dense-s1"\nseeds = ["a"]\nprune = { method = "magnitude", sparsity = 0.8 }',
     "'seeds' in [[models]] #2 ('p') must be"),
    ('name = "dense-s1"\narch = "small_cnn"\ntrain = { epochs = 1 }', "two models are named 'dense-s1'"),
])
def test_a_bad_sweep_is_refused_in_one_line(tmp_path, entry, says):
    assert says in refused(tmp_path, HEAD + "[[models]]\n" + entry + "\n")


def test_a_reference_to_a_sweep_over_sparsities_must_name_one_model(tmp_path):
    says = refused(tmp_path, HEAD + """
[[models]]
name = "m"
base = "dense"
seeds = [1]
prune = { method = "magnitude", sparsity = [0.5, 0.8] }
[[models]]
name = "again"
base = "m"
seeds = [1]
prune = { method = "magnitude", sparsity = 0.9 }
""")
    assert "'base' of [[models]] #3 ('again') is 'm', a sweep over sparsities: name one" in says
