"""Architectures by name, and the probe that exposes a model's penultimate feature.

`create_model(name, num_classes)` builds any registered architecture (timm style). Every model is
wrapped in a `Probe` that normalises [0, 1] inputs and captures the input of the final
`nn.Linear` (found automatically, or named), which is the feature the geometry is measured on.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from compute.errors import UserError

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable:
    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture '{name}' is registered twice")
        ARCHITECTURES[name] = fn
        return fn

    return wrap


def list_models() -> list[str]:
    """The registered architectures' names (any torchvision classifier, `torchvision:NAME`, and
    `package.module:factory` work too)."""
    return sorted(ARCHITECTURES)


def create_model(name: str, num_classes: int) -> nn.Module:
    """A registered architecture, `torchvision:<name>` (any torchvision classifier, untrained),
    or `package.module:factory` (a foreign model; the factory gets num_classes=...)."""
    if name in ARCHITECTURES:
        return ARCHITECTURES[name](num_classes=num_classes)
    if name.startswith("torchvision:"):
        return _torchvision_model(name.removeprefix("torchvision:"), num_classes)
    if ":" in name:
        return _foreign_model(name, num_classes)
    known = ", ".join(sorted(ARCHITECTURES))
    raise UserError(
        f"unknown architecture '{name}' (known: {known}; or torchvision:NAME, or package.module:factory)"
    )


def _torchvision_model(name: str, num_classes: int) -> nn.Module:
    import torchvision

    if name not in torchvision.models.list_models(module=torchvision.models):
        raise UserError(f"torchvision has no classification model '{name}'")
    return torchvision.models.get_model(name, weights=None, num_classes=num_classes)


def _foreign_factory(spec: str) -> Callable[..., nn.Module]:
    """The callable `factory` of `package.module:factory`, imported (UserError if it is not)."""
    import importlib

    module_name, _, factory_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error of the user's module, not only ImportError
        raise UserError(f"cannot import '{module_name}' for architecture '{spec}' "
                        f"({type(exc).__name__}: {exc})") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise UserError(f"'{module_name}' has no callable '{factory_name}' (architecture '{spec}')")
    return factory


def _foreign_model(spec: str, num_classes: int) -> nn.Module:
    """A model from `package.module:factory`: called with `num_classes=` where it takes it (or
    any keyword), without arguments where it takes none; either way its last nn.Linear must
    have one output per class."""
    factory = _foreign_factory(spec)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    takes = "num_classes" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    try:
        net = factory(num_classes=num_classes) if takes else factory()
    except Exception as exc:
        raise UserError(f"'{spec}' failed to build a model ({type(exc).__name__}: {exc})") from None
    if not isinstance(net, nn.Module):
        raise UserError(f"'{spec}' returned a {type(net).__name__}, not a torch.nn.Module")
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if linears and linears[-1].out_features != num_classes:
        raise UserError(f"'{spec}' builds a model with {linears[-1].out_features} outputs, the data "
                        f"set has {num_classes} classes" + ("" if takes else
                        ": give the factory a num_classes parameter"))
    return net


def check_architecture(name: str) -> None:
    """Fail early, before any data is read, if `name` names no architecture this can build."""
    if name in ARCHITECTURES:
        return
    if name.startswith("torchvision:"):
        import torchvision

        if name.removeprefix("torchvision:") not in torchvision.models.list_models(
                module=torchvision.models):
            raise UserError(f"torchvision has no classification model "
                            f"'{name.removeprefix('torchvision:')}'")
        return
    if ":" in name:
        _foreign_factory(name)
        return
    create_model(name, 2)  # raises the unknown-architecture message


# --- the embedded default's small CNN -----------------------------------------------------------


@register("small_cnn")
def small_cnn(num_classes: int = 10, width: int = 16) -> nn.Module:
    """Three conv-BN-ReLU stages and global average pooling: trains on digits in seconds on a CPU."""

    def stage(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *stage(3, width), nn.MaxPool2d(2),
        *stage(width, 2 * width), nn.MaxPool2d(2),
        *stage(2 * width, 4 * width),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4 * width, num_classes),
    )


# --- CIFAR ResNets with option-A shortcuts (He et al. 2016; parameter names as public checkpoints)


class OptionAShortcut(nn.Module):
    """Identity shortcut for a downsampling block: every second pixel, channels zero-padded."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        self.pad = planes // 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and a shortcut. Where the shape changes, option A pads channels of
    a subsampled identity (CIFAR ResNet-20..56), option B projects with a 1x1 conv (ResNet-18)."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1, option: str = "A") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride == 1 and in_planes == planes:
            self.shortcut: nn.Module = nn.Identity()
        elif option == "A":
            self.shortcut = OptionAShortcut(planes)
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth: int, num_classes: int = 10) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet's depth is 6n + 2 (20, 32, 44, 56, ...), got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        planes, layers = 16, []
        for i, width in enumerate((16, 32, 64)):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(planes, width, stride=2 if (i > 0 and j == 0) else 1))
                planes = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


@register("resnet20")
def resnet20(num_classes: int = 10) -> nn.Module:
    return CifarResNet(20, num_classes)


@register("resnet32")
def resnet32(num_classes: int = 10) -> nn.Module:
    return CifarResNet(32, num_classes)


@register("resnet44")
def resnet44(num_classes: int = 10) -> nn.Module:
    return CifarResNet(44, num_classes)


@register("resnet56")
def resnet56(num_classes: int = 10) -> nn.Module:
    return CifarResNet(56, num_classes)


# --- CIFAR ResNet-18 (3x3 stem, no max-pool; the common CIFAR adaptation of He et al.) ------------


@register("resnet18")
def resnet18(num_classes: int = 10) -> nn.Module:
    layers, planes = [], 64
    for i, width in enumerate((64, 128, 256, 512)):
        stride = 1 if i == 0 else 2
        layers += [BasicBlock(planes, width, stride, option="B"), BasicBlock(width, width)]
        planes = width
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes),
    )


# --- Conv-2/4/6/8: the lottery-ticket family (Frankle & Carbin 2019) ----------------------------


def _conv_net(blocks: int, num_classes: int) -> nn.Module:
    """blocks x (two 3x3 convs + max-pool) with widths 64, 128, 256, 256, then FC 256-256-classes."""
    layers, cin = [], 3
    for width in (64, 128, 256, 256)[:blocks]:
        layers += [nn.Conv2d(cin, width, 3, padding=1), nn.ReLU(),
                   nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        cin = width
    side = 32 >> blocks
    return nn.Sequential(
        *layers, nn.Flatten(),
        nn.Linear(cin * side * side, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, num_classes),
    )


@register("conv2")
def conv2(num_classes: int = 10) -> nn.Module:
    return _conv_net(1, num_classes)


@register("conv4")
def conv4(num_classes: int = 10) -> nn.Module:
    return _conv_net(2, num_classes)


@register("conv6")
def conv6(num_classes: int = 10) -> nn.Module:
    return _conv_net(3, num_classes)


@register("conv8")
def conv8(num_classes: int = 10) -> nn.Module:
    return _conv_net(4, num_classes)


# --- CIFAR VGG with batch norm (Simonyan & Zisserman 2015; one linear head, 512 -> classes) -------

VGG_LAYOUTS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"),
}


def _vgg(layout: tuple, num_classes: int) -> nn.Module:
    layers, cin = [], 3
    for item in layout:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, item, 3, padding=1, bias=False), nn.BatchNorm2d(item), nn.ReLU()]
            cin = item
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, num_classes))


@register("vgg11")
def vgg11(num_classes: int = 10) -> nn.Module:
    return _vgg(VGG_LAYOUTS["vgg11"], num_classes)


@register("vgg16")
def vgg16(num_classes: int = 10) -> nn.Module:
    return _vgg(VGG_LAYOUTS["vgg16"], num_classes)


# --- the probe ----------------------------------------------------------------------------------


def find_classifier(net: nn.Module, name: str | None = None) -> tuple[str, nn.Linear]:
    """The final linear layer: the one named, or the last `nn.Linear` registered in the model."""
    if name is not None:
        try:
            layer = net.get_submodule(name)
        except AttributeError:
            raise UserError(f"the model has no layer named '{name}'") from None
        if not isinstance(layer, nn.Linear):
            raise UserError(f"layer '{name}' is a {type(layer).__name__}, not an nn.Linear")
        return name, layer
    linears = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise UserError("the model has no nn.Linear layer to measure the feature geometry on")
    return linears[-1]


class Probe(nn.Module):
    """A classifier on [0, 1] inputs that also returns its penultimate feature."""

    def __init__(
        self,
        net: nn.Module,
        classifier: str | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.classifier_name, self.classifier = find_classifier(net, classifier)
        self.register_buffer("mean", torch.tensor(mean or [0.0, 0.0, 0.0]).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std or [1.0, 1.0, 1.0]).view(1, -1, 1, 1))
        self._feature: torch.Tensor | None = None
        self.classifier.register_forward_hook(self._capture)

    def _capture(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        self._feature = inputs[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(x)
        feature, self._feature = self._feature, None
        return feature.flatten(1), logits


def prunable_weights(net: nn.Module) -> dict[str, torch.Tensor]:
    """The weights sparsity is measured over: every conv and linear weight."""
    return {
        f"{name}.weight" if name else "weight": m.weight
        for name, m in net.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    }


def measure_sparsity(net: nn.Module) -> tuple[float, int, int]:
    """(zero weights / prunable weights, total parameters, non-zero parameters), from the weights
    the forward pass actually uses."""
    weights = prunable_weights(net).values()
    prunable = sum(w.numel() for w in weights)
    zeros = sum(int((w == 0).sum()) for w in weights)
    params = list(net.parameters())
    total = sum(p.numel() for p in params)
    nonzero = sum(int((p != 0).sum()) for p in params)
    return zeros / max(prunable, 1), total, nonzero
