"""Representation probes: classifiers on codes of trained runs vs PCA, UMAP and raw pixels."""
