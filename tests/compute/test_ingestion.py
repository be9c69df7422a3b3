"""Bring-your-own checkpoints: the public ResNet-20 scores exactly 9,173 / 10,000, and re-saved in
every form people have it in loads to exactly its weights; a malformed one gets its message."""

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
def test_every_form_loads_the_published_weights_exactly(form, tmp_path, reference):
    path = tmp_path / "model.pt"
    save_as(form, reference, path)
    net = create_model("resnet20", 10)
    checkpoints.load_into(net, path, "linear", 10)
    for key, value in reference.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    # The same weights in the same architecture: the 9,173 of the test above, without another
    # pass over 10,000 images per form.


def test_a_mask_without_its_weights_is_named(tmp_path):
    state = create_model("small_cnn", 10).state_dict()
    state["0.weight_orig"] = state.pop("0.weight")
    torch.save(state, tmp_path / "half.pt")
    with pytest.raises(UserError, match=re.escape("has '0.weight_orig' but no '0.weight_mask'")):
        checkpoints.read_state_dict(tmp_path / "half.pt")


FOREIGN_RESNET = '''
"""A CIFAR ResNet-20 written outside the project, as a user's own model file would be."""
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = cout // 4 if (stride != 1 or cin != cout) else None

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        short = x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + short)


class Net(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin, stages = 16, []
        for i, cout in enumerate((16, 32, 64)):
            stages.append(nn.Sequential(*[Block(cin if j == 0 else cout, cout,
                                                2 if (i and not j) else 1) for j in range(3)]))
            cin = cout
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x):
        out = self.layer3(self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x))))))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


def make(num_classes=10):
    return Net(num_classes)
'''


@pytest.mark.shared_data
def test_a_foreign_model_by_factory_loads_to_9173(tmp_path, monkeypatch, shared_data, cifar_test):
    (tmp_path / "users_resnet.py").write_text(FOREIGN_RESNET)
    monkeypatch.syspath_prepend(str(tmp_path))
    net = create_model("users_resnet:make", 10)
    probe = Probe(net, None, MEAN, STD)  # the final linear layer found automatically
    assert probe.classifier_name == "linear"
    checkpoints.load_into(net, shared_data / CHECKPOINT, probe.classifier_name, 10)
    assert correct(net, cifar_test) == 9173
