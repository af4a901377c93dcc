"""Pure loss functions: tensors in, tensors out (no modules, no state).

`image` holds reconstruction losses (L1/MAE, MSE, BCE, SSIM, Laplacian pyramid) and their weighted
combination; `divergence` holds log-likelihoods and KL divergences in nats; `gan` holds the
adversarial losses and the gradient penalty.
"""
