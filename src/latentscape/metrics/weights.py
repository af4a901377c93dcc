"""Pretrained-weight files: the module moved to `latentscape.nets.weights` (nets load weights
too, and nets sit below metrics). This old path is the same module object, so monkeypatching
either name patches both."""

import sys

from latentscape.nets import weights as _weights

sys.modules[__name__] = _weights
