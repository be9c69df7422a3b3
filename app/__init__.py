"""What the pages share (the store they read, URL state, charts, exports). Kept out of `pages/`,
which Streamlit lists as pages. Imports neither torch nor compute."""
