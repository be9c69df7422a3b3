"""The 19 common corruptions of CIFAR-10-C, batched in torch, by family.

Parameters are the benchmark generator's (`make_cifar_c.py`) for 32x32 images, and so is what the
code does where it departs from its intent (docs/corruptions.md). Each family module registers its
corruptions, in the benchmark's order within the family (`suite()` orders the families). Adding a
corruption is one function in its family's module and one `@register` line.
"""

from compute.corruptions import blur, digital, extra, noise, weather  # noqa: F401  (they register)
from compute.corruptions.registry import (
    CORRUPTIONS,
    FAMILIES,
    Corruption,
    get_corruption,
    list_corruptions,
    quantize_like_benchmark,
    register,
    select,
    suite,
)

__all__ = ["CORRUPTIONS", "FAMILIES", "Corruption", "get_corruption", "list_corruptions",
           "quantize_like_benchmark", "register", "select", "suite"]
