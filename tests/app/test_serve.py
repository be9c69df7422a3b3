"""The app as users run it: `streamlit run` serves, and its health endpoint answers."""

import urllib.request

from app.headless import serve


def test_streamlit_serves_the_store(synthetic_store):
    with serve(synthetic_store) as base, urllib.request.urlopen(f"{base}/_stcore/health", timeout=10) as r:
        assert (r.status, r.read().decode()) == (200, "ok")
