"""Offline compute: data, corruptions, models, pruning and the feature geometry written to a store."""

import os

# Reproducible CPU numbers: MKL (torch's BLAS here) must not shrink its thread team when the
# machine is busy, which changes how its sums are split. Read when MKL starts, so set it here,
# before anything of compute imports torch.
os.environ.setdefault("MKL_DYNAMIC", "FALSE")
