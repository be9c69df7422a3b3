"""OpenCV's Canny edge detector and chamfer distance transform, batched in torch.

Spatter's water drops (severities 1-3) are shaped by the distance of every pixel to the edges
OpenCV's `Canny(layer, 50, 150)` finds in the uint8 liquid layer, as `distanceTransform(...,
DIST_L2, 5)` measures it. Both are reproduced here operation for operation, so the drops match
the published data pixel for pixel where the arithmetic allows (tests compare with OpenCV).
Inputs are (N, 1, H, W) tensors of integer levels 0..255 (any float or integer dtype).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# OpenCV's tan(22.5 deg) test in 15-bit fixed point (canny.cpp): |dy| 2^15 < |dx| 13573. As
# |dy| < |dx| * 13573 / 2^15 it is exact in float32 (a 14-bit constant times a 10-bit integer).
_TG22 = int(0.4142135623730950488016887242097 * (1 << 15) + 0.5) / (1 << 15)

# distanceTransform's 5x5 mask for DIST_L2: a step costs 1 (straight), 1.4 (diagonal) or
# 2.1969 (knight's move); a pixel's distance is the cheapest path of such steps to an edge.
# OpenCV's x86 builds run it through IPP in float32 (its portable code is 16-bit fixed point).
_COST = {1: 1.0, 2: 1.4, 5: 2.1969}  # by squared step length


def sobel(levels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Canny's 3x3 Sobel derivatives (border replicated): exact integers, as float32."""
    kernels = torch.tensor([[[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]],
                            [[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]], device=levels.device)
    padded = F.pad(levels.float(), (1, 1, 1, 1), mode="replicate")
    d = F.conv2d(padded, kernels[:, None])
    return d[:, :1], d[:, 1:]


def _dilate(x: torch.Tensor) -> torch.Tensor:
    """Boolean 3x3 dilation of (N, 1, H, W), as two separable ORs of shifted slices (on 32x32
    planes, over twenty times faster than max-pooling)."""
    p = F.pad(x[:, 0].to(torch.uint8), (1, 1, 1, 1)).bool()
    rows = p[:, :, :-2] | p[:, :, 1:-1] | p[:, :, 2:]
    return (rows[:, :-2] | rows[:, 1:-1] | rows[:, 2:])[:, None]


def canny(levels: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """cv2.Canny(levels, low, high) with its defaults (aperture 3, L1 gradient): a bool map.

    The L1 gradient magnitude, non-maximum suppression along the gradient direction quantised to
    four (OpenCV's fixed-point tangent tests and its asymmetric > / >= comparisons, magnitude 0
    outside the image), then hysteresis: pixels above `high` and every 8-connected chain of
    suppression survivors above `low` that touches one.
    """
    low_i, high_i = int(low // 1), int(high // 1)  # cvFloor of the thresholds
    dx, dy = sobel(levels)
    ax, ay = dx.abs(), dy.abs()
    mag = ax + ay
    m = F.pad(mag, (1, 1, 1, 1))
    h, w = mag.shape[-2:]

    def at(r: int, c: int) -> torch.Tensor:
        return m[..., 1 + r : 1 + r + h, 1 + c : 1 + c + w]

    tg22x = ax * _TG22
    horizontal = ay < tg22x
    vertical = (ay - 2 * ax) > tg22x  # |dy| 2^15 > |dx| (13573 + 2^16), exactly
    # The diagonal runs up-left/down-right when the derivatives share a sign, else up-right.
    same_sign = (dx < 0) == (dy < 0)
    before = torch.where(horizontal, at(0, -1), torch.where(
        vertical, at(-1, 0), torch.where(same_sign, at(-1, -1), at(-1, 1))))
    after = torch.where(horizontal, at(0, 1), torch.where(
        vertical, at(1, 0), torch.where(same_sign, at(1, 1), at(1, -1))))
    # m > before and m >= after along rows and columns; strictly greater on diagonals
    peak = (mag > before) & ((mag > after) | ((mag == after) & (horizontal | vertical)))
    candidate = peak & (mag > low_i)
    edges = candidate & (mag > high_i)
    # Hysteresis to its fixed point: a chain can wind through the whole image.
    while True:
        grown = candidate & _dilate(edges)
        if torch.equal(grown, edges):
            return edges
        edges = grown


def chamfer_distance(edges: torch.Tensor, cap: float) -> torch.Tensor:
    """cv2.distanceTransform(255 - 255 * edges, DIST_L2, 5) truncated at `cap`, float32.

    OpenCV's two raster passes, a row at a time for the whole batch: a row takes the mask's steps
    from the two rows before it, then its own left (right, going back) neighbour, whose chain
    t[j] = min(a[j], t[j - 1] + 1) is the scan j + cummin(a[k] - k). Distances beyond `cap` are
    never needed (an image without edges is `cap` everywhere, as OpenCV's FLT_MAX is after the
    generator's truncation). Float sums along equally short paths may round apart: about one
    pixel in 3,000 differs from OpenCV in its last bit.
    """
    n, c, h, w = edges.shape
    far = float(4 * (h + w) + cap)  # beyond any path inside the image
    # float64 sums of the float32 step costs, rounded to float32 once at the end: within the last
    # bit of OpenCV's float32 running sums, and the scan's shifts by j stay exact.
    dist = torch.where(edges, 0.0, far).double().reshape(n * c, h, w)
    dist = F.pad(dist, (2, 2, 2, 2), value=far)  # two rows and columns of "no edge" around
    j = torch.arange(w, device=edges.device, dtype=torch.float64)
    hv, diag, knight = (float(torch.tensor(_COST[k])) for k in (1, 2, 5))  # as float32 values

    def relax(row: int, near: int, far_row: int, scan_right: bool) -> None:
        # near / far_row: the rows one and two steps back in the pass's direction
        a, b = dist[:, near], dist[:, far_row]
        best = torch.stack([
            b[:, 1:-3] + knight, b[:, 3:-1] + knight,
            a[:, :-4] + knight, a[:, 1:-3] + diag, a[:, 2:-2] + hv, a[:, 3:-1] + diag,
            a[:, 4:] + knight, dist[:, row, 2:-2]]).amin(0)
        if scan_right:  # t[j] = min(best[j], t[j - 1] + 1)
            best = torch.cummin(best - j, dim=1).values + j
        else:
            best = (torch.cummin((best + j).flip(1), dim=1).values.flip(1)) - j
        dist[:, row, 2:-2] = best

    for row in range(2, h + 2):
        relax(row, row - 1, row - 2, scan_right=True)
    for row in range(h + 1, 1, -1):
        relax(row, row + 1, row + 2, scan_right=False)
    return dist[:, 2:-2, 2:-2].clamp(max=cap).float().reshape(n, c, h, w)
