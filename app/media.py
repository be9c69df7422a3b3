"""Thumbnails sent as Streamlit media files: the page's HTML names each image by a URL the server
serves, named by the image's hash, so a browser fetches an image once and keeps it across reruns,
instead of the same base64 text riding inside every rerun's HTML (370 kB on the demo's Samples
page). Where no server runs (Streamlit's AppTest), the image stays a data URL."""

from __future__ import annotations

import base64

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
