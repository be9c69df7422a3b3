"""Going from page to page in AppTest as a browser does."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def open_page(at: AppTest, page: str, **params: str | list[str]) -> AppTest:
    """Go to `page` (a file in views/) as a browser does: a link (or the sidebar, with no
    parameters) replaces the query string, where AppTest would keep the last page's."""
    at.query_params.clear()
    at.query_params.update(params)
    at.switch_page(f"views/{page}").run()
    assert not at.exception, (page, at.exception)
    return at
