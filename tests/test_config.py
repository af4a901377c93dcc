import pytest

from latentscape.config import apply_overrides, config_from_dict, dump_config, load_config
from latentscape.errors import ConfigError
from latentscape.models.classifier import MLPClassifierConfig

BASE = {"model": {"name": "mlp_classifier"}, "data": {"name": "digits"}}


def test_yaml_plus_dotted_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {name: mlp_classifier, hidden_dims: [32, 16]}\ntrain: {epochs: 2}\n")
    cfg = load_config(path, ["train.optimizer.lr=3e-4", "train.epochs=7", "seed=5", "model.activation=tanh"])
    assert isinstance(cfg.model, MLPClassifierConfig)
    assert cfg.model.hidden_dims == (32, 16) and cfg.model.activation == "tanh"
    assert cfg.train.optimizer.lr == 3e-4 and cfg.train.epochs == 7 and cfg.seed == 5


def test_config_is_frozen():
    cfg = config_from_dict(BASE)
    with pytest.raises(Exception):
        cfg.seed = 3  # type: ignore[misc]


def test_unknown_key_names_key_and_allowed_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'train.lrr'.*allowed keys here: .*batch_size"):
        config_from_dict({**BASE, "train": {"lrr": 1}})


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match="train.epochs: expected an integer"):
        config_from_dict({**BASE, "train": {"epochs": "many"}})


def test_bad_choice_lists_allowed_values():
    with pytest.raises(ConfigError, match="train.optimizer.name: 'adagrad' is not allowed; allowed: adam, adamw, sgd"):
        config_from_dict({**BASE, "train": {"optimizer": {"name": "adagrad"}}})


def test_unknown_model_lists_models():
    with pytest.raises(ConfigError, match="unknown model 'transformer'.*mlp_classifier"):
        config_from_dict({"model": {"name": "transformer"}})


def test_model_specific_key_is_checked_against_the_model_config():
    with pytest.raises(ConfigError, match="unknown key 'model.latent_dim'"):
        config_from_dict({"model": {"name": "mlp_classifier", "latent_dim": 3}})


def test_out_of_range_value():
    with pytest.raises(ConfigError, match="data.fraction"):
        config_from_dict({**BASE, "data": {"name": "digits", "fraction": 2.0}})


def test_dump_and_reload_round_trip():
    cfg = config_from_dict({**BASE, "train": {"group_optimizers": {"critic": {"lr": 1e-4, "betas": [0.0, 0.9]}}}})
    import yaml

    again = config_from_dict(yaml.safe_load(dump_config(cfg)))
    assert again == cfg
    assert again.train.group_optimizers["critic"].betas == (0.0, 0.9)


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["train.epochs"])


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
