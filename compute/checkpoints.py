"""Loading weights people already have into a registered architecture, with one clear error per
mismatch, and saving the models a build trains."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from compute.errors import UserError

WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files holding compiled code next to the tensors."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("constants.pkl") for name in archive.namelist())
    except zipfile.BadZipFile:
        return False


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A flat tensor state dict from a checkpoint file in any of the forms people have:
    a plain state dict, one wrapped as {'state_dict': ...} / {'model': ...}, a pickled module,
    a TorchScript file; `module.` prefixes stripped and torch.nn.utils.prune leftovers folded."""
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        if _is_torchscript(path):
            obj = torch.jit.load(str(path), map_location="cpu").state_dict()
        else:
            obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise UserError(f"checkpoint {path} cannot be read by torch.load ({exc})") from None
    while True:
        if isinstance(obj, torch.nn.Module):
            obj = obj.state_dict()
        if not isinstance(obj, Mapping):
            break
        inner = next((obj[k] for k in WRAPPER_KEYS
                      if isinstance(obj.get(k), Mapping | torch.nn.Module)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"checkpoint {path} holds no state dict of tensors")
    state = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    # nn.DataParallel / DistributedDataParallel save every key under `module.`.
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return _fold_prune_masks(state)


def _fold_prune_masks(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torch.nn.utils.prune saves `name_orig` and `name_mask`; the weights used are their product."""
    for key in [k for k in state if k.endswith("_orig")]:
        name = key.removesuffix("_orig")
        mask = state.pop(f"{name}_mask", None)
        if mask is None:
            raise UserError(f"checkpoint has '{key}' but no '{name}_mask' to go with it")
        state[name] = state.pop(key) * mask
    return state


def load_into(
    net: nn.Module, path: Path, classifier: str, num_classes: int
) -> dict[str, torch.Tensor]:
    """Load a checkpoint into `net` strictly; every missing, unexpected or misshapen key is an error."""
    state = read_state_dict(path)
    head = f"{classifier}.weight"
    if head in state and state[head].shape[0] != num_classes:
        raise UserError(
            f"checkpoint {path.name} has {state[head].shape[0]} classes ({head}), "
            f"the data set has {num_classes}"
        )
    expected = net.state_dict()
    # BatchNorm's step counter only matters for momentum=None; checkpoints from before
    # PyTorch 0.4.1 lack it, and the module's own value is the right default.
    for key in expected:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = expected[key]
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:3]}{'...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
        raise UserError(
            f"checkpoint {path.name} does not fit the architecture: {'; '.join(parts)}"
        )
    for key, value in expected.items():
        if state[key].shape != value.shape:
            raise UserError(
                f"checkpoint {path.name} does not fit the architecture: {key} has shape "
                f"{tuple(state[key].shape)}, the architecture expects {tuple(value.shape)}"
            )
    net.load_state_dict(state)
    return state


def dumps(net: nn.Module, recipe: Mapping,
          masks: Mapping[str, torch.Tensor] | None = None,
          history: list[dict[str, float]] | None = None) -> bytes:
    """A checkpoint file's bytes: the weights, the pruning masks, the recipe that made them and
    what the pruning method recorded on the way (gmp's sparsity trace). Bytes, so that a model
    trained in a Ray task travels to the driver through the object store."""
    payload = {"state_dict": net.state_dict(), "recipe": dict(recipe), "history": history or []}
    if masks is not None:
        payload["masks"] = {k: m.detach().cpu().bool() for k, m in masks.items()}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> str:
    """Write a checkpoint's bytes where the cache keeps it, whole or not at all; the sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def save(net: nn.Module, path: Path, recipe: Mapping,
         masks: Mapping[str, torch.Tensor] | None = None,
         history: list[dict[str, float]] | None = None) -> str:
    """Save a checkpoint (see `dumps`) atomically; return the sha256."""
    return write_atomically(path, dumps(net, recipe, masks, history))


def read_history(path: Path) -> list[dict[str, float]]:
    """The history a build saved with a model (empty for other checkpoints)."""
    obj = torch.load(path, map_location="cpu", weights_only=False)
    return list(obj.get("history", [])) if isinstance(obj, Mapping) else []
