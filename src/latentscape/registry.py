"""Name -> object tables: everything selectable by name in a config or on the command line.

One mechanism, two ways to fill it:

- Package-wide registries (models, datasets, metrics, ...) are *declared* here as plain strings,
  `name -> "module.path:ATTRIBUTE"`. `names()` and `in` read the table and import nothing;
  `get(name)` imports only the module that holds that one entry. So this module sits at the bottom
  of the layers (it imports no other latentscape module), and config validation and argparse
  `choices` read their name lists from here: a name is written once.
- Layer-local registries (autoencoder nets, curve kinds, path metrics, DCGAN blocks) are
  `Registry` objects in their own module that hold the objects directly (`register(name, obj)`).

Add a model/dataset/metric by defining a module-level constant in its module and one declaration
line below (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists the allowed names."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly.
        return str(self.args[0])


class Registry(Generic[T]):
    """A table of named entries of one kind ("model", "dataset", ...).

    Args:
        kind: what the entries are, for error messages ("unknown model 'x'; allowed: ...").
        declared: name -> "module.path:ATTRIBUTE" of entries imported on first `get`.
    """

    def __init__(self, kind: str, declared: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self._declared: dict[str, str] = dict(declared or {})
        for name, target in self._declared.items():
            if ":" not in target:
                raise ValueError(f"{kind} {name!r}: declare it as 'module.path:ATTRIBUTE', got {target!r}")
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T | None = None) -> Any:
        """Register `entry` under `name`; without `entry`, works as a decorator.

        A declared name may also be registered by its own module (with the declared object).
        """

        def add(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return add if entry is None else add(entry)

    def get(self, name: str) -> T:
        """The entry called `name`, importing its module when it is declared."""
        if name in self._entries:
            return self._entries[name]
        target = self._declared.get(name)
        if target is None:
            from latentscape.errors import did_you_mean  # here: reading the tables imports nothing

            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}; allowed: {', '.join(self.names())}"
            )
        module_name, _, attribute = target.partition(":")
        obj = getattr(importlib.import_module(module_name), attribute)
        self._entries.setdefault(name, obj)
        return self._entries[name]

    def names(self) -> list[str]:
        """Every registered or declared name, sorted (imports nothing)."""
        return sorted({*self._declared, *self._entries})

    def literal(self) -> Any:
        """`Literal[name, ...]` of the names (for a config field typed by this registry)."""
        return Literal[tuple(self.names())]  # type: ignore[valid-type]

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._declared or name in self._entries

    def __iter__(self):
        return iter(self.names())


# Models: name -> ModelEntry (config class + builder), see latentscape.rundir.model.
MODELS: Registry[Any] = Registry(
    "model",
    {
        "mlp_classifier": "latentscape.models.classifier:MLP_CLASSIFIER_ENTRY",
        "cnn_classifier": "latentscape.models.classifier:CNN_CLASSIFIER_ENTRY",
        "resnet": "latentscape.models.reference_nets:RESNET_ENTRY",
        "preresnet": "latentscape.models.reference_nets:PRERESNET_ENTRY",
        "wide_resnet": "latentscape.models.reference_nets:WIDE_RESNET_ENTRY",
        "vgg": "latentscape.models.reference_nets:VGG_ENTRY",
        "vgg9": "latentscape.models.reference_nets:VGG9_ENTRY",
        "ae": "latentscape.models.autoencoder:AE_ENTRY",
        "vae": "latentscape.models.autoencoder:VAE_ENTRY",
        "gan": "latentscape.models.gan:GAN_ENTRY",
        "autodecoder": "latentscape.models.autodecoder:AUTODECODER_ENTRY",
        "curve": "latentscape.landscape.methods.curve_model:CURVE_ENTRY",
    },
)
# Datasets: name (and aliases) -> DatasetEntry, see latentscape.data.registry.
DATASETS: Registry[Any] = Registry(
    "dataset",
    {
        "digits": "latentscape.data.sources.embedded:DIGITS",
        "mnist": "latentscape.data.sources.idx:MNIST",
        "fashion-mnist": "latentscape.data.sources.idx:FASHION_MNIST",
        "fmnist": "latentscape.data.sources.idx:FASHION_MNIST",
        "kmnist": "latentscape.data.sources.idx:KMNIST",
        "cifar10": "latentscape.data.sources.cifar:CIFAR10",
        "cifar100": "latentscape.data.sources.cifar:CIFAR100",
        "cifar10-subset": "latentscape.data.sources.cifar_subset:CIFAR10_SUBSET",
        "celeba": "latentscape.data.sources.folder:CELEBA",
        "cub": "latentscape.data.sources.folder:CUB",
        "cub-bbox": "latentscape.data.sources.folder:CUB_BBOX",
        "shapes": "latentscape.data.sources.shapes:SHAPES_ENTRY",
        "folder": "latentscape.data.sources.user_folder:FOLDER_ENTRY",
    },
)
# Feature extractors for FID/KID: name -> builder.
FEATURE_NETS: Registry[Callable[..., Any]] = Registry(
    "feature net",
    {
        "domain": "latentscape.metrics.features:build_domain",
        "inception": "latentscape.metrics.features:build_inception",
    },
)
# Metrics of `latentscape eval`: name -> (EvalContext) -> dict[str, float].
METRICS: Registry[Callable[..., Any]] = Registry(
    "metric",
    {
        "loss": "latentscape.metrics.reconstruction:loss_metric",
        "reconstruction": "latentscape.metrics.reconstruction:reconstruction_metric",
        "ssim": "latentscape.metrics.reconstruction:ssim_metric",
        "psnr": "latentscape.metrics.reconstruction:psnr_metric",
        "elbo": "latentscape.metrics.likelihood:elbo_metric",
        "iwae": "latentscape.metrics.likelihood:iwae_metric",
        "fid": "latentscape.metrics.fid:fid_metric",
        "kid": "latentscape.metrics.kid:kid_metric",
        "lpips": "latentscape.metrics.lpips:lpips_metric",
        "mig": "latentscape.metrics.disentanglement_eval:mig_metric",
        "factorvae": "latentscape.metrics.disentanglement_eval:factorvae_metric",
        "dci": "latentscape.metrics.disentanglement_eval:dci_metric",
    },
)
# Optimizers (train.optimizer.name): name -> torch optimizer class.
OPTIMIZERS: Registry[Any] = Registry(
    "optimizer", {"adam": "torch.optim:Adam", "adamw": "torch.optim:AdamW", "sgd": "torch.optim:SGD"}
)
# Learning-rate schedules (train.schedule.name): name -> factor function, see train/optim.py.
LR_SCHEDULES: Registry[Callable[..., float]] = Registry(
    "learning-rate schedule",
    {
        "constant": "latentscape.train.optim:constant_factor",
        "step": "latentscape.train.optim:step_factor",
        "multistep": "latentscape.train.optim:multistep_factor",
        "cosine": "latentscape.train.optim:cosine_factor",
        "linear": "latentscape.train.optim:linear_factor",
        "garipov": "latentscape.train.optim:garipov_factor",
    },
)
# Weight-space curve families (model.kind of the curve model, `connect --curve`).
CURVE_KINDS: Registry[Callable[..., Any]] = Registry(
    "curve kind",
    {
        "bezier": "latentscape.landscape.core.curves:bezier_coefficients",
        "polychain": "latentscape.landscape.core.curves:polychain_coefficients",
    },
)
# KL-weight schedules of the VAE (model.beta_schedule), see models/schedules.py.
BETA_SCHEDULES: Registry[Callable[..., float]] = Registry(
    "beta schedule",
    {
        "constant": "latentscape.models.schedules:constant_beta",
        "linear": "latentscape.models.schedules:linear_beta",
        "cyclical": "latentscape.models.schedules:cyclical_beta",
    },
)
