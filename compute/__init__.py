"""Offline compute: data, corruptions, models, pruning and the feature geometry written to a store."""
