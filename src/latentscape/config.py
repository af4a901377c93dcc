"""Typed, frozen, validated run configuration: YAML files plus dotted overrides.

A config is a tree of frozen dataclasses. `load_config(path, overrides)` reads YAML, applies
`key.sub=value` overrides (values parsed as YAML scalars), then converts the tree to dataclasses,
rejecting an unknown key or a wrongly typed value with an error that names the key and what is
allowed. The model section's class is chosen by `model.name` through the model registry, so each
model declares its own options (pythae-style config + model pairs).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from latentscape.errors import ConfigError, did_you_mean
from latentscape.ranges import EPOCH_LIMIT, INF, STEP_LIMIT, check_ranges, check_values, ranged
from latentscape.registry import LR_SCHEDULES, OPTIMIZERS

# Name lists come from the registry declarations (a name is written once).
OptimizerName = OPTIMIZERS.literal()
LRScheduleName = LR_SCHEDULES.literal()


@dataclass(frozen=True)
class ModelConfig:
    """Base of every model config; `name` selects the registry entry (and so the config class)."""

    name: str


@dataclass(frozen=True)
class DataConfig:
    """Which dataset and which part of it.

    Attributes:
        name: registered dataset name (`latentscape data list`).
        data_dir: root folder laid out like ../shared/data; None: $LATENTSCAPE_DATA, else
            ~/.cache/latentscape/data.
        download: fetch missing files from the canonical source (checksums verified).
        val_fraction: part of the published training split held out as a seeded validation set.
        fraction: use only this part of each split (seeded), e.g. 0.1 for quick runs.
        split_seed: seed of the validation split and of `fraction` subsampling.
        image_size: side length for datasets that are resized or generated (shapes, CelebA, CUB).
        num_examples: number of generated examples (procedural datasets only).
        path: image folder of `name: folder` (class-per-subfolder or flat PNG/JPEG files).
        channels: 1 (grayscale) or 3 (RGB) for `name: folder` (None: 3).
        verify: check the MD5 checksums of known datasets' files; false skips them (a warning is
            printed), for a user's own copy of a dataset.
        augment: augment training batches on the device (data/augment.py): a random crop of the
            image padded with `augment_padding` zero pixels on each side and, with
            `augment_flip`, a horizontal flip with probability 1/2 (the CIFAR augmentation of He
            et al. 2016, Li et al. 2018, Garipov et al. 2018). Evaluation and landscapes never
            augment.
        augment_padding: zero pixels added on each side before cropping (4 for CIFAR).
        augment_flip: also flip horizontally (false for digits and other non-symmetric data).
    """

    name: str = "digits"
    data_dir: str | None = None
    download: bool = False
    val_fraction: float = ranged(0.0, 0.0, 0.9)
    fraction: float = ranged(1.0, 0.0, 1.0, low_open=True)
    split_seed: int = ranged(0, 0, 2**63 - 1)
    image_size: int | None = ranged(None, 1, 4096)
    num_examples: int | None = ranged(None, 1, INF)
    path: str | None = None
    channels: Literal[1, 3] | None = None
    verify: bool = True
    augment: bool = False
    augment_padding: int = ranged(4, 0, 64)
    augment_flip: bool = True

    def __post_init__(self) -> None:
        check_ranges(self, "data.")


@dataclass(frozen=True)
class OptimizerConfig:
    """Optimizer of one parameter group (Adam, AdamW or SGD with momentum)."""

    name: OptimizerName = "adam"
    lr: float = ranged(1e-3, 0.0, 1e3, low_open=True)
    momentum: float = ranged(0.9, 0.0, 1.0, high_open=True)
    nesterov: bool = False
    weight_decay: float = ranged(0.0, 0.0, 1e3)
    betas: tuple[float, float] = ranged(default_factory=lambda: (0.9, 0.999), low=0.0, high=1.0, high_open=True)


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule, stepped once per optimizer step (train/optim.py).

    constant; step (multiply by `gamma` every `step_epochs` epochs); multistep (multiply by
    `gamma` at each epoch in `milestones`: Li et al. 2018 use 150, 225, 275 of 300); cosine and
    linear (decay from the base LR to `final_fraction` of it over the run); garipov (constant
    until `decay_start` of the run, linear down to `final_fraction` by `decay_end`, then constant:
    Garipov et al. 2018). `final_fraction` unset means 0 for cosine and linear, 0.01 for garipov.
    `warmup_steps` ramps linearly from 0.
    """

    name: LRScheduleName = "constant"
    step_epochs: int = ranged(30, 1, INF)
    gamma: float = ranged(0.1, 0.0, 1.0, low_open=True)
    milestones: tuple[int, ...] = ranged((), 1, INF)
    final_fraction: float | None = ranged(None, 0.0, 1.0)
    decay_start: float = ranged(0.5, 0.0, 1.0)
    decay_end: float = ranged(0.9, 0.0, 1.0)
    warmup_steps: int = ranged(0, 0, INF)

    def __post_init__(self) -> None:
        if self.decay_end < self.decay_start:
            raise ValueError(f"decay_end={self.decay_end} comes before decay_start={self.decay_start}")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError(f"milestones must be increasing epochs, got {list(self.milestones)}")


@dataclass(frozen=True)
class TrainConfig:
    """Options of the generic trainer (it knows nothing about the model family).

    Attributes:
        epochs: passes over the training split.
        max_steps: stop after this many optimizer steps (GAN iterations), if set.
        batch_size: global batch size (split evenly across distributed processes).
        optimizer: default optimizer of every group.
        group_optimizers: per-group overrides, e.g. {"critic": {...}} for GANs.
        schedule: learning-rate schedule.
        grad_clip: clip the global gradient norm of each group to this value.
        precision: "bf16" runs forward passes under bfloat16 autocast.
        eval_every: evaluate every N epochs (0: only at the end).
        eval_split: split used for periodic evaluation.
        eval_batch_size: batch size of evaluation passes.
        final_eval_splits: splits evaluated when training ends (results in eval/final.json).
        checkpoint_every_steps: also checkpoint every N steps (0: at epoch ends only).
        keep_every: keep the weights every N steps as checkpoints/keep/step_XXXXXX.pt for
            `latentscape trajectory` (0: off).
        log_every: log training scalars every N steps.
        device: "auto" (CUDA if available), "cpu", "cuda", "cuda:1", ...
        deterministic: ask PyTorch for deterministic kernels; false also turns on cuDNN's
            autotuner (`cudnn.benchmark`) for CUDA runs.
        num_threads: CPU threads (0: PyTorch's default).
        compile: run the training objective through `torch.compile`: "none", "default",
            "reduce-overhead" (CUDA graphs: small batches on a GPU stop being launch-bound) or
            "max-autotune". Needs a C++ compiler on the CPU; the first steps pay the compilation.
        channels_last: keep conv weights and batches in NHWC memory format (faster convolutions
            on GPU tensor cores; no effect on the numbers beyond float rounding).
    """

    epochs: int = ranged(10, 1, INF, limit=EPOCH_LIMIT)
    max_steps: int | None = ranged(None, 1, INF, limit=STEP_LIMIT)
    batch_size: int = ranged(128, 1, INF)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    group_optimizers: dict[str, OptimizerConfig] = field(default_factory=dict)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    grad_clip: float | None = ranged(None, 0.0, INF, low_open=True)
    precision: Literal["fp32", "bf16"] = "fp32"
    eval_every: int = ranged(1, 0, INF)
    eval_split: Literal["val", "test", "train"] = "test"
    eval_batch_size: int = ranged(1000, 1, INF)
    final_eval_splits: tuple[Literal["train", "val", "test"], ...] = ("train", "test")
    checkpoint_every_steps: int = ranged(0, 0, INF)
    keep_every: int = ranged(0, 0, INF)
    log_every: int = ranged(50, 1, INF)
    device: str = "auto"
    deterministic: bool = True
    num_threads: int = ranged(0, 0, 4096)
    compile: Literal["none", "default", "reduce-overhead", "max-autotune"] = "none"
    channels_last: bool = False


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run; saved resolved as run_dir/config.yaml."""

    model: ModelConfig
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = ranged(0, 0, 2**63 - 1)
    name: str = ""
    output_dir: str = "runs"


# ----------------------------------------------------------------------------- loading


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read a YAML config (or start empty) and apply `key=value` overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        raw = read_yaml(path) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys")
    raw = apply_overrides(raw, overrides)
    return config_from_dict(raw)


#: Most nodes a config may expand to. Real configs have a few hundred; YAML aliases can make a
#: few lines stand for billions ("billion laughs"), which copying and validating would expand.
MAX_YAML_NODES = 100_000


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; broken YAML is one ConfigError line with the file, line and column."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = exc.problem or exc.context or "syntax error"
        raise ConfigError(f"{path}{where}: not valid YAML ({what})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML (nested too deeply)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    check_yaml_size(raw, str(path))
    return raw


def check_yaml_size(raw: Any, where: str) -> None:
    """ConfigError when parsed YAML refers to itself or expands (aliases resolved) to more than
    MAX_YAML_NODES nodes; counted without expanding, shared nodes once per reference."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in open_nodes:
            raise ConfigError(f"{where}: not a usable config (a YAML alias refers to the node that contains it)")
        if key not in sizes:
            open_nodes.add(key)
            children = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
            total = 1
            for child in children:
                total += size(child)
                if total > MAX_YAML_NODES:
                    break
            open_nodes.discard(key)
            sizes[key] = total
        return sizes[key]

    try:
        total = size(raw)
    except RecursionError:
        raise ConfigError(f"{where}: not a usable config (nested too deeply)") from None
    if total > MAX_YAML_NODES:
        raise ConfigError(
            f"{where}: not a usable config (its YAML aliases expand to more than {MAX_YAML_NODES} values)"
        )


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Return a copy of `raw` with each `a.b.c=value` set (value parsed as a YAML scalar)."""
    out = _deep_copy(raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. train.optimizer.lr=3e-4)")
        key, text = item.split("=", 1)
        try:
            value = yaml.safe_load(text) if text != "" else ""
        except (yaml.YAMLError, RecursionError):
            value = text
        check_yaml_size(value, f"override {key!r}")
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {key!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return out


def config_from_dict(raw: dict[str, Any]) -> RunConfig:
    """Build a validated `RunConfig` from plain data (as read from YAML)."""
    if not isinstance(raw, dict):
        raise ConfigError("a config must be a mapping of keys")
    if "model" not in raw or not isinstance(raw["model"], dict) or "name" not in raw["model"]:
        from latentscape.registry import MODELS

        raise ConfigError(f"model.name is required; allowed: {', '.join(MODELS.names())}")
    return _build(RunConfig, raw, "")


def model_config_class(name: str) -> type[ModelConfig]:
    """The config class registered for model `name`."""
    from latentscape.registry import MODELS, UnknownNameError

    try:
        return MODELS.get(name).config
    except UnknownNameError as exc:
        raise ConfigError(f"model.name: {exc}") from None


def config_to_dict(cfg: Any) -> Any:
    """Plain data (for YAML) of a config tree; tuples become lists."""
    if dataclasses.is_dataclass(cfg):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: config_to_dict(v) for k, v in cfg.items()}
    return cfg


def dump_config(cfg: Any) -> str:
    """YAML text of a config tree."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


# ----------------------------------------------------------------------------- conversion


def _build(cls: type, raw: Any, prefix: str) -> Any:
    """Convert a mapping to dataclass `cls`, checking keys and value types."""
    if cls is ModelConfig or (isinstance(cls, type) and issubclass(cls, ModelConfig)):
        if not isinstance(raw, dict) or "name" not in raw:
            raise ConfigError(f"{prefix or 'model'}: a mapping with 'name' is required")
        cls = model_config_class(str(raw["name"]))
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields), key=str)  # YAML keys may be numbers or null
    if unknown:
        raise ConfigError(
            f"unknown key '{prefix}{unknown[0]}'{did_you_mean(f'{prefix}{unknown[0]}', [prefix + f for f in fields])}; allowed keys here: "
            f"{', '.join(sorted(fields))}"
        )
    kwargs = {name: _convert(hints[name], value, f"{prefix}{name}") for name, value in raw.items()}
    check_values(cls, kwargs, prefix)  # declared field ranges (latentscape.ranges)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except TypeError as exc:
        missing = [n for n, f in fields.items() if n not in raw and _is_required(f)]
        if missing:
            raise ConfigError(f"missing key '{prefix}{missing[0]}'") from None
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: {exc}") from None


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]


def _convert(tp: Any, value: Any, key: str) -> Any:
    """`value` (parsed YAML) as type `tp`, or a ConfigError naming `key` and what is allowed."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return _convert_union(tp, value, key)
    if origin is Literal:
        if value not in typing.get_args(tp):
            allowed = typing.get_args(tp)
            raise ConfigError(f"{key}: {value!r} is not allowed{did_you_mean(value, allowed)}; allowed: {', '.join(map(str, allowed))}")
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, f"{key}.")
    if origin in (tuple, list, dict):
        return _CONTAINERS[origin](typing.get_args(tp), value, key)
    if tp in _SCALARS:
        return _SCALARS[tp](value, key)
    raise ConfigError(f"{key}: unsupported config type {tp}")  # pragma: no cover


def _convert_union(tp: Any, value: Any, key: str) -> Any:
    """The first member type of `tp` (X | Y | None) that accepts `value`."""
    args = typing.get_args(tp)
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in (a for a in args if a is not type(None)):
        try:
            return _convert(arg, value, key)
        except ConfigError as exc:
            errors.append(str(exc))
    raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} fits none of {tp}")


def _as_list(value: Any, key: str) -> list | tuple:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{key}: expected a list, got {value!r}")
    return value


def _convert_tuple(args: tuple, value: Any, key: str) -> tuple:
    """tuple[X, ...] (any length) or tuple[X, Y] (fixed length)."""
    value = _as_list(value, key)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if len(value) != len(args):
        raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)}")
    return tuple(_convert(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))


def _convert_list(args: tuple, value: Any, key: str) -> list:
    return [_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(_as_list(value, key))]


def _convert_dict(args: tuple, value: Any, key: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping, got {value!r}")
    return {str(k): _convert(args[1], v, f"{key}.{k}") for k, v in value.items()}


def _to_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _to_int(value: Any, key: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ConfigError(f"{key}: expected an integer, got {value!r}")


def _to_float(value: Any, key: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):  # YAML 1.1 reads "3e-4" as a string
        try:
            return float(value)
        except ValueError:
            pass
    raise ConfigError(f"{key}: expected a number, got {value!r}")


def _to_str(value: Any, key: str) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{key}: expected a string, got {value!r}")


_CONTAINERS = {tuple: _convert_tuple, list: _convert_list, dict: _convert_dict}
_SCALARS = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw


def data_config(raw: dict[str, Any]) -> DataConfig:
    """A validated `DataConfig` from plain data (the `data` section of a config; keys checked)."""
    return _build(DataConfig, raw, "data.")
