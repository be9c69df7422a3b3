"""Robustness Lottery Explorer: why do some pruned networks stay robust to corruptions?

    streamlit run streamlit_app.py [-- --store PATH]

Reads one store built by `python -m compute build CONFIG`, read-only, with SQL.
"""

import streamlit as st

from app.shared import store_path

st.set_page_config(
    page_title="Robustness Lottery Explorer", page_icon=":material/grain:", layout="wide"
)

page = st.navigation([
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/geometry.py", title="Geometry", icon=":material/explore:"),
    st.Page("pages/similarity.py", title="Similarity", icon=":material/join_inner:"),
    st.Page("pages/samples.py", title="Samples", icon=":material/photo_library:"),
    st.Page("pages/sql.py", title="SQL", icon=":material/terminal:"),
])
st.sidebar.caption(f"Store: `{store_path().name}`")
page.run()
