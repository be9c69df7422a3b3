"""The pruning strategies: each reaches its target sparsity in the weights the forward pass uses;
edge-popup keeps the random weights, biprop binarises them; masks survive a checkpoint."""

import dataclasses
import itertools

import pytest
import torch

from compute import checkpoints
from compute.config import TrainRecipe
from compute.datasets import ImageSet, load_data
from compute.errors import UserError
from compute.models import Probe, create_model, find_classifier, measure_sparsity, prunable_weights
from compute.pruning import Context, get_method, list_pruning_methods
from compute.pruning.magnitude import cubic_schedule
from compute.pruning.saliency import snip_scores
from compute.training import train

SPARSITY = 0.8


@pytest.fixture(scope="module")
def digits_small() -> ImageSet:
    train_set = load_data("digits").train
    return ImageSet(train_set.images[:256], train_set.labels[:256], train_set.sources[:256])


def run_strategy(method: str, data: ImageSet, from_trained: bool = False, seed: int = 0,
                 probe: Probe | None = None, spy=None, epochs: int = 2, rounds: int = 2):
    """Run one strategy on a small CNN; `spy(model, recipe, kwargs)` sees every training call
    before it runs. Returns the probe, the masks the strategy returned and its context."""
    if probe is None:
        torch.manual_seed(seed)
        probe = Probe(create_model("small_cnn", 10))
    device = torch.device("cpu")

    def run(model, recipe, **kwargs):
        if spy is not None:
            kwargs = spy(model, recipe, kwargs) or kwargs
        train(model, data, recipe, device, seed, **kwargs)

    ctx = Context(data, TrainRecipe(epochs=epochs, lr=0.05, batch_size=64), device, seed,
                  from_trained, run)
    kind = get_method(method)
    extra = {"rounds": rounds} if "rounds" in {f.name for f in dataclasses.fields(kind.params)} else {}
    masks = kind(kind.params(sparsity=SPARSITY, **extra), probe, ctx)
    return probe, masks, ctx


def snapshot(probe: Probe) -> dict[str, torch.Tensor]:
    return {k: w.detach().clone() for k, w in prunable_weights(probe.net).items()}


def trained_probe(data: ImageSet, seed: int = 0) -> Probe:
    torch.manual_seed(seed)
    probe = Probe(create_model("small_cnn", 10))
    train(probe, data, TrainRecipe(epochs=2, lr=0.05), torch.device("cpu"), seed)
    return probe


def test_the_papers_seven_methods_are_registered():
    assert {"magnitude", "gmp", "ltr", "random", "snip", "edgepopup",
            "biprop"} <= set(list_pruning_methods())
    with pytest.raises(UserError, match="unknown pruning method 'prune-it'"):
        get_method("prune-it")


@pytest.mark.parametrize("method", list_pruning_methods())
def test_each_method_reaches_its_target_sparsity(method, digits_small):
    probe, _, _ = run_strategy(method, digits_small, from_trained=method in {"magnitude", "gmp"})
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
    probe, _, _ = run_strategy("edgepopup", digits_small, seed=5)
    for name, weight in prunable_weights(probe.net).items():
        kept = weight != 0
        assert 0 < kept.float().mean() < 0.5, name
        assert torch.equal(weight[kept], initial[name][kept]), name


def test_biprop_weights_take_exactly_two_values_per_layer(digits_small):
    probe, _, _ = run_strategy("biprop", digits_small)
    for name, weight in prunable_weights(probe.net).items():
        values = torch.unique(weight[weight != 0])
        assert len(values) == 2, (name, values)
        assert torch.isclose(values[0], -values[1]), name  # +-scale


def test_learned_subnetworks_refuse_a_trained_start(digits_small):
    with pytest.raises(UserError, match="random initialisation"):
        run_strategy("edgepopup", digits_small, from_trained=True)


def test_masks_survive_save_and_load(tmp_path, digits_small):
    probe, _, _ = run_strategy("magnitude", digits_small, from_trained=True)
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


# --- each method does what its name says ----------------------------------------------------


def test_magnitude_keeps_the_global_top_weights_of_the_trained_model(digits_small):
    probe = trained_probe(digits_small)
    trained = snapshot(probe)
    _, masks, _ = run_strategy("magnitude", digits_small, from_trained=True, probe=probe)
    # Independently: the 20 % largest |w| over all layers together survive.
    flat = torch.cat([w.abs().flatten() for w in trained.values()])
    keep = len(flat) - round(SPARSITY * len(flat))
    threshold = flat.topk(keep).values.min()
    for name, w in trained.items():
        assert torch.equal(masks[name], w.abs() >= threshold), name
        assert torch.equal(prunable_weights(probe.net)[name] != 0, masks[name]), name


def test_gmp_prunes_gradually_along_the_cubic_schedule_then_fine_tunes(digits_small):
    trace = []  # at every pruning step: (step, total steps, sparsity of its masks, weights before)

    def spy(model, recipe, kwargs):
        gradual = kwargs["gradual"]

        def watched(step, total, target):
            before = snapshot(model)
            masks = gradual.prune(step, total, target)
            zeros = sum(int((~m).sum()) for m in masks.values())
            trace.append((step, total, zeros / sum(m.numel() for m in masks.values()), before))
            return masks

        return {**kwargs, "gradual": dataclasses.replace(gradual, prune=watched)}

    probe = trained_probe(digits_small)
    # 8 epochs of 4 steps: 32 steps, enough for 20 distinct pruning steps in the first 24
    _, masks, ctx = run_strategy("gmp", digits_small, from_trained=True, probe=probe, spy=spy,
                                 epochs=8)
    total = trace[0][1]
    assert total == 32
    prune_steps = [step for step, *_ in trace]
    assert len(prune_steps) == 20  # gradual: twenty pruning steps, not one
    sparsities = [sparsity for _, _, sparsity, _ in trace]
    assert all(b >= a for a, b in itertools.pairwise(sparsities))  # monotone
    for k, (step, sparsity) in enumerate(zip(prune_steps, sparsities, strict=True), start=1):
        cubic = SPARSITY * (1 - (1 - k / 20) ** 3)
        assert abs(sparsity - cubic) < 1e-3, (k, sparsity, cubic)  # on the cubic curve
        assert step + 1 == max(round(k * int(0.75 * total) / 20), 1)  # evenly spaced
    last = prune_steps[-1]
    assert last + 1 <= 0.75 * total  # the target is reached before the last quarter ...
    assert abs(sparsities[-1] - SPARSITY) < 1e-3
    # ... and the rest of training fine-tunes with that mask: the weights moved on from where the
    # last prune left them (as they were, masked), and its zeros stayed zero.
    final, at_last_prune = snapshot(probe), trace[-1][3]
    assert any(not torch.equal(final[k], at_last_prune[k] * masks[k]) for k in masks)
    for name, mask in masks.items():
        assert torch.equal(final[name] != 0, mask), name
    assert [h["sparsity"] for h in ctx.history] == pytest.approx(sparsities, abs=1e-9)


def test_the_cubic_schedule_is_monotone_and_ends_at_three_quarters():
    for total in (7, 20, 100, 10_000):
        schedule = cubic_schedule(total, 0.9)
        steps, targets = list(schedule), list(schedule.values())
        assert steps == sorted(steps) and targets == sorted(targets)
        assert targets[-1] == pytest.approx(0.9) and max(steps) < int(0.75 * total)
        assert len(schedule) == min(20, int(0.75 * total))


def test_ltr_rewinds_the_surviving_weights_to_their_early_values_every_round(digits_small):
    calls = []  # the weights every training call starts from, and its masks

    def spy(model, recipe, kwargs):
        calls.append((recipe.epochs, snapshot(model), kwargs.get("masks")))

    after_first = {}

    def remember(model, recipe, kwargs):
        spy(model, recipe, kwargs)
        if len(calls) == 2:  # the second call starts right after epoch 1: the rewind point
            after_first.update(calls[-1][1])

    run_strategy("ltr", digits_small, spy=remember, epochs=3, rounds=3)
    assert [c[0] for c in calls] == [1, 2, 3, 3, 3]  # epoch 1, the rest, then one run per round
    kept = []
    for _, start, masks in calls[2:]:
        assert masks is not None
        for name, mask in masks.items():
            assert torch.equal(start[name], after_first[name] * mask), name
        kept.append(sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values()))
    # each round removes the same fraction of what is left: 1 - 0.2^(r/3)
    assert kept == pytest.approx([0.2 ** (r / 3) for r in (1, 2, 3)], abs=2e-3)


def test_snip_scores_connection_sensitivity_at_initialisation_on_one_batch(digits_small):
    one_batch = ImageSet(digits_small.images[:64], digits_small.labels[:64], digits_small.sources[:64])
    torch.manual_seed(3)
    probe = Probe(create_model("small_cnn", 10))
    initial = Probe(create_model("small_cnn", 10))
    initial.load_state_dict(probe.state_dict())
    _, masks, _ = run_strategy("snip", one_batch, probe=probe)
    # |dL/dw * w| of the initial weights on that batch, computed here from scratch
    initial.train()
    x, y = one_batch.images.float() / 255, one_batch.labels
    torch.nn.functional.cross_entropy(initial(x), y).backward()
    scores = {k: (w.grad * w).abs() for k, w in prunable_weights(initial.net).items()}
    flat = torch.cat([s.flatten() for s in scores.values()])
    threshold = flat.topk(len(flat) - round(SPARSITY * len(flat))).values.min()
    for name, score in scores.items():
        assert torch.equal(masks[name], score >= threshold), name
    # the scoring itself leaves the model as it was (batch-norm statistics included)
    fresh = Probe(create_model("small_cnn", 10))
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    snip_scores(fresh, x, y, torch.device("cpu"))
    assert all(torch.equal(before[k], v) for k, v in fresh.state_dict().items())


def test_random_masks_prune_every_layer_alike_whatever_the_weights(digits_small):
    _, masks, _ = run_strategy("random", digits_small)
    for name, mask in masks.items():
        if mask.numel() >= 1000:  # large layers: close to the global rate
            assert abs(1 - mask.float().mean() - SPARSITY) < 0.05, name
