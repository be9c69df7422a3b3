"""Robustness Lottery Explorer: why do some pruned networks stay robust to corruptions?

    streamlit run streamlit_app.py [-- --store PATH]

Reads one store built by `python -m compute build CONFIG`, read-only, with SQL.
"""

import streamlit as st

import app.charts  # noqa: F401  (enables the charts' theme, whichever page draws first)
from app.shared import store_path, store_picker

st.set_page_config(
    page_title="Robustness Lottery Explorer", page_icon=":material/grain:", layout="wide"
)

page = st.navigation([
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/pruning.py", title="Pruning vs dense", icon=":material/content_cut:",
            url_path="pruning"),
    st.Page("views/sweep.py", title="Sweep", icon=":material/stacked_line_chart:"),
    st.Page("views/compare.py", title="Compare two", icon=":material/compare_arrows:",
            url_path="compare"),
    st.Page("views/attacks.py", title="Attacks", icon=":material/bolt:"),
    st.Page("views/geometry.py", title="Geometry", icon=":material/explore:"),
    st.Page("views/similarity.py", title="Similarity", icon=":material/join_inner:"),
    st.Page("views/samples.py", title="Samples", icon=":material/photo_library:"),
    st.Page("views/sql.py", title="SQL", icon=":material/terminal:"),
])
store_picker()
st.sidebar.caption(f"Store: `{store_path().name}`")
page.run()
