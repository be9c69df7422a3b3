"""Thumbnails sent as Streamlit media files: the page's HTML names each image by a URL the server
serves, named by the image's hash, so a browser fetches an image once and keeps it across reruns,
instead of the same base64 text riding inside every rerun's HTML (370 kB on the demo's Samples
page). Where no server runs (Streamlit's AppTest), the image stays a data URL."""

from __future__ import annotations

import base64

import polars as pl
import streamlit as st
from streamlit import runtime

PNG_PREFIX = "data:image/png;base64,"


def media_url(image: str | None, slot: str) -> str | None:
    """A data URL's PNG (as the store's queries give thumbnails) as a media file URL; `slot` names
    the image's place on the page (a new image in a slot releases the old one)."""
    if not image or not image.startswith(PNG_PREFIX) or not runtime.exists():
        return image
    png = base64.b64decode(image[len(PNG_PREFIX):])
    url = runtime.get_instance().media_file_mgr.add(png, "image/png", f"rle.{slot}")
    base = st.get_option("server.baseUrlPath").strip("/")
    return f"/{base}{url}" if base else url


def amplified(clean: str, adversarial: str, gain: float = 10.0) -> str:
    """The perturbation between two PNG data URLs of one sample, `gain` times larger around mid
    grey (128: no change; lighter, the adversarial pixel is brighter), as a PNG data URL: an
    attack's change is a few levels in 255, invisible at its own size."""
    import io

    import numpy as np
    from PIL import Image

    def pixels(url: str) -> np.ndarray:
        raw = base64.b64decode(url[len(PNG_PREFIX):])
        return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=np.float64)

    delta = (pixels(adversarial) - pixels(clean)) * gain + 128
    out = io.BytesIO()
    Image.fromarray(np.clip(np.round(delta), 0, 255).astype(np.uint8)).save(out, format="PNG")
    return PNG_PREFIX + base64.b64encode(out.getvalue()).decode()


def perturbations(images: pl.DataFrame, attacks: pl.Series) -> None:
    """Beside a sample's images (clean first, as `queries.sample_images` gives them), each stored
    attack's perturbation, amplified: the attacked image alone looks like the clean one."""
    attacked = images.filter(pl.col("condition").is_in(attacks.implode()))
    if attacked.is_empty():
        return
    clean = images["image"][0]
    st.image([amplified(clean, a) for a in attacked["image"]], width=72,
             caption=[f"{c} − clean, ×10".replace("_", "_\u200b") for c in attacked["condition"]])
    st.caption("An attack's perturbation, ten times larger around mid grey (no change): lighter "
               "where the attacked pixel is brighter.")
