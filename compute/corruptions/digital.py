"""Digital: contrast, elastic transform, pixelate and JPEG compression."""

from __future__ import annotations

import torch
import torchvision.transforms.v2.functional as TF

from compute.corruptions import imageops as ops
from compute.corruptions.randomness import SampleRandom
from compute.corruptions.registry import CIFAR_C, register


@register("contrast", "digital", [0.75, 0.5, 0.4, 0.3, 0.15], random=False, reference=CIFAR_C)
def contrast(x: torch.Tensor, c: float, rng: SampleRandom) -> torch.Tensor:
    # The generator's mean is over height and width, per channel.
    means = x.mean(dim=(2, 3), keepdim=True)
    return (x - means) * c + means


@register("elastic_transform", "digital", [
    (0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03),
], reference=CIFAR_C)
def elastic_transform(x: torch.Tensor, c: tuple, rng: SampleRandom) -> torch.Tensor:
    n, _, h, w = x.shape
    alpha, sigma, affine = (v * min(h, w) for v in c)  # parameters are fractions of the side
    # A random affine map moving three points around the centre (OpenCV getAffineTransform +
    # warpAffine, reflect-101 borders), sampled through its inverse.
    centre, side = torch.tensor([w // 2, h // 2], dtype=torch.float64), min(h, w) // 3
    src = torch.stack([centre + side, centre + torch.tensor([side, -side]), centre - side])
    dst = src + rng.uniform(3, 2, low=-affine, high=affine).double().cpu()
    ones = torch.ones(3, 1, dtype=torch.float64)
    forward = torch.linalg.solve(torch.cat([src, ones], 1)[None], dst)  # (N, 3, 2)
    matrix = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    matrix[:, :2, :] = forward.transpose(1, 2)
    inverse = torch.linalg.inv(matrix).to(x.device, x.dtype)
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device, dtype=x.dtype),
                            torch.arange(w, device=x.device, dtype=x.dtype), indexing="ij")
    a = inverse[:, :2, :, None, None]  # (N, 2, 3, 1, 1): rows of the inverse map
    src_x = a[:, 0, 0] * xs + a[:, 0, 1] * ys + a[:, 0, 2]
    src_y = a[:, 1, 0] * xs + a[:, 1, 1] * ys + a[:, 1, 2]
    x = ops.sample_bilinear(x, src_y, src_x, "mirror")
    # A smooth random displacement field (scipy map_coordinates, order 1, mode 'reflect').
    field = rng.uniform(2, h, w, low=-1.0, high=1.0)
    field = ops.gaussian_filter(field, sigma, mode="reflect", truncate=3.0) * alpha
    return ops.sample_bilinear(x, ys + field[:, 1], xs + field[:, 0], "reflect")


@register("pixelate", "digital", [0.95, 0.9, 0.85, 0.75, 0.65], random=False, reference=CIFAR_C)
def pixelate(x: torch.Tensor, c: float, rng: SampleRandom) -> torch.Tensor:
    h, w = x.shape[-2:]
    return ops.box_resize(ops.box_resize(x, int(h * c), int(w * c)), h, w)


@register("jpeg_compression", "digital", [80, 65, 58, 50, 40], random=False, reference=CIFAR_C)
def jpeg_compression(x: torch.Tensor, quality: int, rng: SampleRandom) -> torch.Tensor:
    # torchvision's libjpeg round trip on the CPU, the same codec family as the generator's PIL.
    images = (x * 255).round().to(torch.uint8).cpu()
    return TF.jpeg(images, quality=quality).to(x.device).float() / 255.0
