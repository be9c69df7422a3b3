"""How a build's floats are computed on a CPU: `native` (the fastest kernels this CPU has) or
`portable` (one code path that every x86-64 CPU runs, so any machine gives the same store).

A CPU's instruction set decides more than speed. ATen picks vectorised kernels by it (AVX2 or
AVX-512 lanes sum in another order), oneDNN generates its convolutions for it at run time (and
blocks them by the cache sizes), MKL picks its GEMM code path by it, NNPACK its own; training then
amplifies the last bits into points of accuracy (docs/configs.md#reproducibility has the
measurements). The portable mode pins each of those choices to what every x86-64 CPU has:

- ATen's kernels at their baseline (`ATEN_CPU_CAPABILITY=default`);
- no oneDNN and no NNPACK (their kernels are generated or chosen per CPU and cache): convolutions
  take ATen's own im2col + GEMM path;
- MKL's conditional numerical reproducibility on its compatible branch (`MKL_CBWR=COMPATIBLE`),
  its one code path for every x86 CPU;
- a fixed number of threads (`PORTABLE_THREADS` unless --threads says otherwise), since the
  parallel reductions split their sums by thread.

ATen and MKL read their settings once, when torch is first used, so `prepare` must run before
torch is imported: the command line does that (compute/__main__.py); a process that imported torch
first gets a UserError from `apply` rather than a store that is not what it says.
"""

from __future__ import annotations

import os
import sys
from typing import Literal

from compute.errors import UserError

Numerics = Literal["native", "portable"]
MODES: tuple[str, ...] = ("native", "portable")

# What the portable mode sets before torch loads. MKL_ENABLE_INSTRUCTIONS is left alone: CBWR
# already fixes the branch, and the two together are refused by MKL on some versions.
PORTABLE_ENV = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE",
}
# The threads a portable build uses unless --threads says otherwise: the CI and developer
# machines' core count, so the common case runs at full speed and every machine sums alike.
PORTABLE_THREADS = 2


def check_mode(mode: str) -> Numerics:
    if mode not in MODES:
        raise UserError(f"unknown numerics '{mode}' (use native or portable)")
    return mode  # type: ignore[return-value]


def prepare(mode: str) -> None:
    """Set the environment a mode needs; call before torch is imported (ATen and MKL read it
    once). `native` leaves the environment as the user set it, and so does a process that has
    loaded torch already (too late to take effect: `apply` then says so)."""
    if check_mode(mode) == "portable" and "torch" not in sys.modules:
        os.environ.update(PORTABLE_ENV)


def device_for(mode: str, device: str) -> str:
    """The device a build in `mode` runs on: portable numerics are the CPU's (a GPU's kernels
    differ from model to model, and no setting pins them), so `auto` means the CPU there."""
    if check_mode(mode) == "portable":
        if device == "cuda":
            raise UserError("portable numerics run on the CPU, the one device whose kernels can "
                            "be pinned: use --device cpu (or auto), or --numerics native for CUDA")
        return "cpu" if device == "auto" else device
    return device


def apply(mode: str) -> str:
    """Put torch into `mode` (its run-time switches) and check that what had to be set before
    torch loaded was; returns a description of the numerics for the store's meta."""
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    if check_mode(mode) == "native":
        torch.backends.mkldnn.enabled = True  # torch's defaults
        torch.backends.nnpack.set_flags(True)
        return f"native ({capability}, MKL_CBWR={os.environ.get('MKL_CBWR', 'AUTO')})"
    if capability != "DEFAULT" or os.environ.get("MKL_CBWR") != PORTABLE_ENV["MKL_CBWR"]:
        raise UserError(
            "portable numerics must be chosen before torch is loaded (ATen runs "
            f"{capability} kernels in this process): build with `python -m compute build`, "
            "or set ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE in the environment")
    torch.backends.mkldnn.enabled = False
    torch.backends.nnpack.set_flags(False)
    return "portable (ATen DEFAULT, no oneDNN or NNPACK, MKL_CBWR=COMPATIBLE)"


def describe() -> str:
    """The numerics this process runs, whatever chose them: for the checkpoint keys."""
    import torch

    return "|".join([torch.backends.cpu.get_cpu_capability(),
                     f"mkldnn={torch.backends.mkldnn.enabled}",
                     f"nnpack={torch._C._get_nnpack_enabled()}",
                     f"cbwr={os.environ.get('MKL_CBWR', 'AUTO')}"])
