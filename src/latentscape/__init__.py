"""latentscape: latent-variable image models, their latent spaces and loss landscapes."""

__version__ = "0.1.0"
