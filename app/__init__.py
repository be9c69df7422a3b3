"""What the pages share (the store they read, URL state, charts, exports). Kept out of `views/`,
whose files are the pages. Imports neither torch nor compute."""
