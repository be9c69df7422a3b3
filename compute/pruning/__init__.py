"""Pruning methods by family: magnitude-based (magnitude, gmp, ltr), scored once (random, snip)
and subnetwork search (edgepopup, biprop). Each method is one function with its hyperparameters
as a dataclass and one `@register` line (`registry.py`); mask arithmetic is in `masks.py`, and
training, gradual pruning's steps included, in `compute/training.py`.
"""

from compute.pruning import magnitude, saliency, subnetwork  # noqa: F401  (they register)
from compute.pruning.registry import (
    METHODS,
    Context,
    PruningMethod,
    Sparsity,
    get_method,
    list_pruning_methods,
    register,
)

__all__ = ["METHODS", "Context", "PruningMethod", "Sparsity", "get_method", "list_pruning_methods",
           "register"]
