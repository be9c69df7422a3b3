"""The architecture registry: every model builds, classifies 32x32 images and exposes its
penultimate feature; torchvision and foreign models come in by name; bad names get messages."""

import sys

import pytest
import torch

from compute.errors import UserError
from compute.models import Probe, create_model, list_models

# The architectures the design names (a registry may hold more: a new one is its factory and its
# registration line, nothing here).
DESIGNED = {"small_cnn", "resnet20", "resnet32", "resnet44", "resnet56", "resnet18", "conv2",
            "conv4", "conv6", "conv8", "vgg11", "vgg16"}


def test_the_registry_holds_the_zoo():
    assert set(list_models()) >= DESIGNED


@pytest.mark.parametrize("name", list_models())
def test_every_architecture_classifies_and_exposes_its_feature(name):
    probe = Probe(create_model(name, 7)).eval()
    with torch.no_grad():
        features, logits = probe.features_and_logits(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 7)
    # The penultimate feature is exactly what the last nn.Linear takes in.
    assert features.shape == (2, probe.classifier.in_features)
    w, b = probe.classifier.weight, probe.classifier.bias
    assert torch.allclose(features @ w.T + b, logits, atol=1e-5)


def test_cifar_resnet20_has_the_public_checkpoints_parameter_names():
    names = set(create_model("resnet20", 10).state_dict())
    for expected in ("conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight",
                     "layer2.0.bn2.weight", "layer3.2.bn2.bias", "linear.weight", "linear.bias"):
        assert expected in names
    params = sum(p.numel() for p in create_model("resnet20", 10).parameters())
    assert 269_000 < params < 273_000  # 0.27M, as published


def test_torchvision_models_by_name():
    probe = Probe(create_model("torchvision:resnet18", 10)).eval()
    with torch.no_grad():
        features, logits = probe.features_and_logits(torch.rand(1, 3, 32, 32))
    assert probe.classifier_name == "fc" and features.shape == (1, 512) and logits.shape == (1, 10)
    with pytest.raises(UserError, match="torchvision has no classification model 'resnet7'"):
        create_model("torchvision:resnet7", 10)


def test_foreign_model_by_factory(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        "import torch.nn as nn\n"
        "def tiny(num_classes):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3072, 16), nn.ReLU(),\n"
        "                         nn.Linear(16, num_classes))\n"
        "def no_head(num_classes):\n"
        "    return nn.Sequential(nn.Flatten())\n"
        "NOT_CALLABLE = 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = Probe(create_model("my_models:tiny", 4))
    assert probe.classifier_name == "3" and probe.classifier.in_features == 16
    with pytest.raises(UserError, match=r"no nn\.Linear layer"):
        Probe(create_model("my_models:no_head", 4))
    with pytest.raises(UserError, match="has no callable 'NOT_CALLABLE'"):
        create_model("my_models:NOT_CALLABLE", 4)
    with pytest.raises(UserError, match="cannot import 'nowhere_to_be_found'"):
        create_model("nowhere_to_be_found:f", 4)
    sys.modules.pop("my_models", None)


def test_the_final_linear_can_be_named():
    net = create_model("conv2", 10)
    assert Probe(net, classifier="8").classifier.out_features == 256  # the second FC layer
    with pytest.raises(UserError, match=r"layer '0' is a Conv2d, not an nn\.Linear"):
        Probe(net, classifier="0")
    with pytest.raises(UserError, match="no layer named 'head'"):
        Probe(net, classifier="head")
