"""Imports every module that registers built-in models, datasets, feature nets and metrics.

Add one import line here when a new module registers something.
"""

# ruff: noqa: F401
import latentscape.data.sources
import latentscape.models.classifier
import latentscape.models.autoencoder
import latentscape.metrics.reconstruction
import latentscape.metrics.likelihood
import latentscape.models.curve
import latentscape.models.gan
import latentscape.metrics.features
import latentscape.metrics.fid
import latentscape.metrics.kid
import latentscape.metrics.lpips
import latentscape.landscape.sharpness
