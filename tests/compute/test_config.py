"""Configs are read strictly: every table refuses an unknown key (naming the nearest valid one)
and a value of the wrong type or range (naming the table and the key), in one UserError."""

import pytest

from compute.config import load_config
from compute.errors import UserError

BASE = """
name = "t"
seed = 0
[data]
source = "digits"
test_fraction = 0.25
[conditions]
corruptions = ["contrast"]
severities = [1, 5]
thumbnails = 4
[evaluation]
batch_size = 128
[[models]]
name = "dense"
arch = "small_cnn"
train = { epochs = 2, lr = 0.05 }
[[models]]
name = "pruned"
base = "dense"
prune = { method = "magnitude", sparsity = 0.8 }
train = { epochs = 1, lr = 0.01 }
"""

IMAGEFOLDER = BASE.replace('source = "digits"\ntest_fraction = 0.25',
                           'source = "imagefolder"\nroot = "data"\ntest = "test"')


def load(tmp_path, text: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(path)


def refused(tmp_path, text: str) -> str:
    with pytest.raises(UserError) as info:
        load(tmp_path, text)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_base_config_and_the_shipped_ones_load(tmp_path):
    cfg = load(tmp_path, BASE)
    assert cfg.evaluation.batch_size == 128
    assert cfg.conditions.thumbnails == 4 and cfg.conditions.severities == (1, 5)
    assert cfg.models[1].prune.sparsity == 0.8 and cfg.models[0].train.epochs == 2
    assert load(tmp_path, IMAGEFOLDER).data.options["root"] == str((tmp_path / "data").resolve())


# (table, the config with a typo in it, the typo, the key it should have been)
TYPOS = [
    ("top level", BASE.replace("seed = 0", "sed = 0"), "sed", "seed"),
    ("[data] digits", BASE.replace("test_fraction", "test_fracton"), "test_fracton", "test_fraction"),
    ("[data] imagefolder", IMAGEFOLDER.replace('test = "test"', 'tset = "test"'), "tset", "test"),
    ("[data] mean", BASE.replace("test_fraction = 0.25", "maen = [0.5, 0.5, 0.5]"), "maen", "mean"),
    ("[conditions]", BASE.replace("thumbnails = 4", "thumbnail = 4"), "thumbnail", "thumbnails"),
    ("[evaluation]", BASE.replace("batch_size = 128", "batchsize = 128"), "batchsize", "batch_size"),
    ("[[models]]", BASE.replace('arch = "small_cnn"', 'arc = "small_cnn"'), "arc", "arch"),
    ("prune", BASE.replace("sparsity = 0.8", "sparsty = 0.8"), "sparsty", "sparsity"),
    ("train", BASE.replace("epochs = 2", "epoch = 2"), "epoch", "epochs"),
]


@pytest.mark.parametrize(("table", "text", "typo", "meant"), TYPOS, ids=[t[0] for t in TYPOS])
def test_an_unknown_key_names_the_nearest_valid_one(tmp_path, table, text, typo, meant):
    message = refused(tmp_path, text)
    assert f"unknown key '{typo}'" in message and f"did you mean '{meant}'?" in message


# (table, the config with a bad value, words the message must hold)
BAD_VALUES = [
    ("top level", BASE.replace("seed = 0", 'seed = "zero"'), ["'seed'", "an integer", "'zero'"]),
    ("top level", BASE.replace('name = "t"', "name = 3"), ["'name'", "a string"]),
    ("[data]", BASE.replace("test_fraction = 0.25", 'test_fraction = "quarter"'),
     ["'test_fraction'", "[data]", "a number"]),
    ("[data]", BASE.replace("test_fraction = 0.25", "mean = [0.5, 0.5]"), ["'mean'", "three numbers"]),
    ("[data]", IMAGEFOLDER.replace('root = "data"', "root = 7"), ["'root'", "a string"]),
    ("[data]", IMAGEFOLDER.replace('root = "data"\n', ""), ["[data]", "needs 'root'"]),
    ("[data]", BASE.replace('source = "digits"', 'source = "mnist"'), ["unknown data source 'mnist'"]),
    ("[conditions]", BASE.replace("thumbnails = 4", 'thumbnails = "many"'),
     ["'thumbnails'", "[conditions]", "an integer", "'many'"]),
    ("[conditions]", BASE.replace("severities = [1, 5]", "severities = [1, 6]"),
     ["'severities'", "in 1..5"]),
    ("[conditions]", BASE.replace('corruptions = ["contrast"]', "corruptions = 3"),
     ["'corruptions'", "a string or a list of strings"]),
    ("[evaluation]", BASE.replace("batch_size = 128", "batch_size = 0"),
     ["'batch_size'", "[evaluation]", "at least 1"]),
    ("[evaluation]", BASE.replace("batch_size = 128", "batch_size = 12.5"),
     ["'batch_size'", "an integer"]),
    ("[[models]]", BASE.replace('arch = "small_cnn"', "arch = true"), ["'arch'", "[[models]] #1"]),
    ("[[models]]", BASE.replace('name = "pruned"', 'name = ""'), ["'name'", "non-empty"]),
    ("prune", BASE.replace("sparsity = 0.8", "sparsity = 1.5"), ["'sparsity'", "in [0, 1)"]),
    ("prune", BASE.replace("sparsity = 0.8", 'sparsity = "80%"'), ["'sparsity'", "a number"]),
    ("train", BASE.replace("epochs = 2", "epochs = -1"), ["'epochs'", "0 or more"]),
    ("train", BASE.replace("lr = 0.05", "lr = 0"), ["'lr'", "positive"]),
    ("train", BASE.replace("epochs = 2,", 'epochs = 2, augment = ["rotate"],'),
     ["'augment'", "crop / flip"]),
    ("train", BASE.replace("epochs = 2", "epochs = true"), ["'epochs'", "an integer", "boolean"]),
]


@pytest.mark.parametrize(("table", "text", "words"), BAD_VALUES,
                         ids=[f"{t[0]}-{i}" for i, t in enumerate(BAD_VALUES)])
def test_a_bad_value_names_its_table_and_key(tmp_path, table, text, words):
    message = refused(tmp_path, text)
    for word in words:
        assert word in message, (word, message)


def test_tables_must_be_tables(tmp_path):
    text = "conditions = 3\n" + BASE.replace(
        '[conditions]\ncorruptions = ["contrast"]\nseverities = [1, 5]\nthumbnails = 4\n', "")
    assert "'conditions' in the top level of c.toml must be a table" in refused(tmp_path, text)


def test_each_method_takes_its_own_hyperparameters(tmp_path):
    ltr = BASE.replace('method = "magnitude", sparsity = 0.8', 'method = "ltr", sparsity = 0.8, rounds = 2')
    assert load(tmp_path, ltr).models[1].prune.params.rounds == 2
    gmp = BASE.replace('method = "magnitude", sparsity = 0.8', 'method = "gmp", sparsity = 0.8, prunes = 10')
    assert load(tmp_path, gmp).models[1].prune.params.prunes == 10
    # rounds is ltr's: magnitude has no such key
    message = refused(tmp_path, BASE.replace("sparsity = 0.8", "sparsity = 0.8, rounds = 2"))
    assert "unknown key 'rounds'" in message and "method 'magnitude'" in message
    message = refused(tmp_path, BASE.replace('method = "magnitude"', 'method = "magnitud"'))
    assert "unknown pruning method 'magnitud'" in message
    assert "needs 'method'" in refused(tmp_path, BASE.replace('method = "magnitude", ', ""))


def test_a_subnetwork_search_from_trained_weights_is_refused(tmp_path):
    text = BASE.replace('method = "magnitude"', 'method = "edgepopup"')
    assert "keeps weights at their random initialisation" in refused(tmp_path, text)


def test_gmp_without_training_is_refused_before_anything_runs(tmp_path):
    text = BASE.replace('method = "magnitude"', 'method = "gmp"').replace(
        "train = { epochs = 1, lr = 0.01 }", "train = { epochs = 0 }")
    assert "gmp prunes while training" in refused(tmp_path, text)


def test_a_config_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(BASE.replace('name = "t"', 'name = "café"').encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        load_config(path)
