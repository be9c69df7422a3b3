"""The pruning strategies: each reaches its target sparsity in the weights the forward pass uses;
edge-popup keeps the random weights, biprop binarises them; masks survive a checkpoint."""

import pytest
import torch

from compute import checkpoints
from compute.config import PruneRecipe, TrainRecipe
from compute.datasets import ImageSet, load_data
from compute.errors import UserError
from compute.models import Probe, create_model, find_classifier, measure_sparsity, prunable_weights
from compute.pruning import STRATEGIES, Context, get_strategy
from compute.training import train

SPARSITY = 0.8


@pytest.fixture(scope="module")
def digits_small() -> ImageSet:
    train_set = load_data("digits").train
    return ImageSet(train_set.images[:256], train_set.labels[:256], train_set.sources[:256])


def run_strategy(method: str, data: ImageSet, from_trained: bool = False, seed: int = 0) -> Probe:
    torch.manual_seed(seed)
    probe = Probe(create_model("small_cnn", 10))
    device = torch.device("cpu")

    def run(model, recipe, **kwargs):
        train(model, data, recipe, device, seed, **kwargs)

    ctx = Context(data, TrainRecipe(epochs=2, lr=0.05, batch_size=64), device, seed, from_trained, run)
    get_strategy(method)(probe, PruneRecipe(method, SPARSITY, rounds=2), ctx)
    return probe


def test_the_seven_methods_are_registered():
    assert list(STRATEGIES) == ["magnitude", "gmp", "ltr", "random", "snip", "edgepopup", "biprop"]
    with pytest.raises(UserError, match="unknown pruning method 'prune-it'"):
        get_strategy("prune-it")


@pytest.mark.parametrize("method", list(STRATEGIES))
def test_each_method_reaches_its_target_sparsity(method, digits_small):
    probe = run_strategy(method, digits_small, from_trained=method in {"magnitude", "gmp"})
    sparsity, total, nonzero = measure_sparsity(probe.net)
    assert abs(sparsity - SPARSITY) < 0.005, (method, sparsity)
    assert nonzero < total
    # The same figure counted independently, from the module weights a forward pass multiplies.
    weights = [m.weight for m in probe.net.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert zeros == pytest.approx(sparsity)


def test_edgepopup_keeps_the_initial_weights_bit_for_bit(digits_small):
    torch.manual_seed(5)
    initial = {k: w.detach().clone() for k, w in prunable_weights(
        Probe(create_model("small_cnn", 10)).net).items()}
    probe = run_strategy("edgepopup", digits_small, seed=5)
    for name, weight in prunable_weights(probe.net).items():
        kept = weight != 0
        assert 0 < kept.float().mean() < 0.5, name
        assert torch.equal(weight[kept], initial[name][kept]), name


def test_biprop_weights_take_exactly_two_values_per_layer(digits_small):
    probe = run_strategy("biprop", digits_small)
    for name, weight in prunable_weights(probe.net).items():
        values = torch.unique(weight[weight != 0])
        assert len(values) == 2, (name, values)
        assert torch.isclose(values[0], -values[1]), name  # +-scale


def test_learned_subnetworks_refuse_a_trained_start(digits_small):
    with pytest.raises(UserError, match="random initialisation"):
        run_strategy("edgepopup", digits_small, from_trained=True)


def test_masks_survive_save_and_load(tmp_path, digits_small):
    probe = run_strategy("magnitude", digits_small, from_trained=True)
    masks = {k: w != 0 for k, w in prunable_weights(probe.net).items()}
    path = tmp_path / "pruned.pt"
    sha = checkpoints.save(probe.net, path, {"method": "magnitude"}, masks)
    assert sha == checkpoints.sha256(path)
    saved = torch.load(path, weights_only=False)
    assert saved["masks"].keys() == masks.keys()
    assert all(torch.equal(saved["masks"][k], masks[k]) for k in masks)
    fresh = create_model("small_cnn", 10)
    checkpoints.load_into(fresh, path, find_classifier(fresh)[0], 10)
    for name, weight in prunable_weights(fresh).items():
        assert torch.equal(weight != 0, masks[name]), name
    assert measure_sparsity(fresh)[0] == measure_sparsity(probe.net)[0]
