"""Bring-your-own checkpoints: the public ResNet-20, re-saved in every form people have it in,
loads to exactly 9,173 / 10,000 correct; a malformed one gets its message."""

import re

import pytest
import torch
from torch.nn.utils import prune

from compute import checkpoints
from compute.datasets import load_data
from compute.errors import UserError
from compute.models import Probe, create_model

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CHECKPOINT = "resnet20-cifar10-akamaster.th"


@pytest.fixture(scope="module")
def cifar_test(shared_data):
    return load_data("imagefolder", root=str(shared_data), test="cifar10/test").test


@pytest.fixture(scope="module")
def reference(shared_data):
    """The published checkpoint loaded the usual way, as the net every form must reproduce."""
    net = create_model("resnet20", 10)
    checkpoints.load_into(net, shared_data / CHECKPOINT, "linear", 10)
    return net.eval()


def correct(net, test) -> int:
    probe = Probe(net, "linear", MEAN, STD).eval()
    with torch.inference_mode():
        return sum(int((probe(test.images[i : i + 1000].float() / 255).argmax(1)
                        == test.labels[i : i + 1000]).sum()) for i in range(0, len(test), 1000))


def save_as(form, net, path):
    state = net.state_dict()
    if form == "plain state dict":
        torch.save(state, path)
    elif form == "{'model': state dict}":
        torch.save({"model": state, "epoch": 200}, path)
    elif form == "DataParallel prefixes":
        torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    elif form == "pickled module":
        torch.save(net, path)
    elif form == "torch.nn.utils.prune leftovers":
        pruned = create_model("resnet20", 10)
        pruned.load_state_dict(state)
        for m in pruned.modules():
            if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
                prune.identity(m, "weight")  # weight_orig + weight_mask, as prune leaves them
        assert any(k.endswith("weight_orig") for k in pruned.state_dict())
        torch.save(pruned.state_dict(), path)
    elif form == "TorchScript":
        torch.jit.trace(net, torch.rand(1, 3, 32, 32)).save(str(path))
    else:
        raise AssertionError(form)


FORMS = ["plain state dict", "{'model': state dict}", "DataParallel prefixes", "pickled module",
         "torch.nn.utils.prune leftovers", "TorchScript"]


@pytest.mark.shared_data
def test_the_published_checkpoint_scores_9173(shared_data, cifar_test, reference):
    assert correct(reference, cifar_test) == 9173


@pytest.mark.shared_data
@pytest.mark.parametrize("form", FORMS)
def test_every_form_loads_to_the_same_9173(form, tmp_path, reference, cifar_test):
    path = tmp_path / "model.pt"
    save_as(form, reference, path)
    net = create_model("resnet20", 10)
    checkpoints.load_into(net, path, "linear", 10)
    for key, value in reference.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    assert correct(net, cifar_test) == 9173


def test_a_mask_without_its_weights_is_named(tmp_path):
    state = create_model("small_cnn", 10).state_dict()
    state["0.weight_orig"] = state.pop("0.weight")
    torch.save(state, tmp_path / "half.pt")
    with pytest.raises(UserError, match=re.escape("has '0.weight_orig' but no '0.weight_mask'")):
        checkpoints.read_state_dict(tmp_path / "half.pt")
