"""The acceptance check of the corruption suite on real data: on the fixed 1,000-image subset of
the shared CIFAR-10 test set, the pretrained ResNet-20 scores within 3 points of the generator's
code path under every corruption at every severity, averaged over two draws per side (one draw
for the deterministic corruptions, whose draws are all the same). `python -m benchmarks.fidelity`
prints the same comparison as a table."""

import pytest
import torch

from benchmarks.fidelity import accuracy, fidelity_subset, pretrained_resnet20, reference_draw, torch_draw
from benchmarks.reference_corruptions import reproduced


@pytest.fixture(scope="module")
def subset(shared_data):
    images, labels = fidelity_subset(shared_data, per_class=100)
    return images, labels, pretrained_resnet20(shared_data)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", [c.name for c in reproduced()])
def test_accuracy_matches_the_generator_within_3_points(subset, name):
    images, labels, model = subset
    corruption = next(c for c in reproduced() if c.name == name)
    draws = 2 if corruption.random else 1
    gaps = {}
    with torch.inference_mode():
        for severity in range(1, 6):
            ours = sum(accuracy(model, torch_draw(images, name, severity, d), labels)
                       for d in range(draws)) / draws
            theirs = sum(accuracy(model, reference_draw(images, name, severity, d), labels)
                         for d in range(draws)) / draws
            gaps[severity] = round(100 * (ours - theirs), 1)
    assert all(abs(gap) <= 3.0 for gap in gaps.values()), gaps
