"""`connect --model FILE.py:factory A.pt B.pt`: a curve of your own model (a small ResNet with
BatchNorm), what its run records, and the explicit opt-in every later load of it needs."""

import json
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from latentscape.cli import main
from latentscape.config import DataConfig
from latentscape.data.registry import load_split
from latentscape.landscape.studies.user_model import file_sha256

RESNET = Path(__file__).resolve().parents[1] / "user_models" / "resnet.py"
ARGS = '{"width": 4}'
DATA = ["--data", "digits", "--data-opt", "fraction=0.2"]
QUIET = ["--plots", "none", "--threads", "1"]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The user's model file (a copy of tests/user_models/resnet.py that leaves a mark in
    `imported.txt` whenever it is imported), two trained weights files, and a 1-bend Bezier
    curve between them made by `connect --model`."""
    root = tmp_path_factory.mktemp("user_curve")
    marker = root / "imported.txt"
    net_file = root / "my_resnet.py"
    net_file.write_text(RESNET.read_text() + f"\nopen({str(marker)!r}, 'a').write('imported\\n')\n")
    factory = f"{net_file}:build"
    import importlib.util

    spec = importlib.util.spec_from_file_location("my_resnet_for_tests", net_file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    train = load_split(DataConfig(name="digits", fraction=0.2), "train")
    x, y = train.images.float() / 255, train.labels
    files = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        net = mod.build(width=4)
        opt = torch.optim.SGD(net.parameters(), lr=0.2)
        for i in range(0, 256, 32):
            opt.zero_grad()
            F.cross_entropy(net(x[i : i + 32]), y[i : i + 32]).backward()
            opt.step()
        files.append(root / f"w{seed}.pt")
        torch.save(net.state_dict(), files[-1])
    curve = root / "curve"
    assert main(["connect", str(files[0]), str(files[1]), "train.num_threads=1", "--model", factory, "--model-args", ARGS, *DATA,
                 "--bends", "1", "--epochs", "2", "--lr", "0.05", "--out", str(curve)]) == 0
    marker.unlink()  # from here on, every import of the user's file leaves a mark
    return {"root": root, "factory": factory, "file": net_file, "marker": marker, "weights": files, "curve": curve}


def _imported(made) -> bool:
    return made["marker"].exists()


def _forget_imports(made) -> None:
    made["marker"].unlink(missing_ok=True)


def test_the_curve_run_records_your_model(made):
    import yaml

    cfg = yaml.safe_load((made["curve"] / "config.yaml").read_text())
    assert cfg["model"]["user"] == {"factory": made["factory"], "args": ARGS, "loss": "cross_entropy",
                                    "sha256": file_sha256(made["file"]), "data": "digits"}
    assert cfg["model"]["start"] == str(made["weights"][0]) and cfg["data"]["fraction"] == 0.2
    assert cfg["train"]["optimizer"]["weight_decay"] == 0.0


def test_path_along_the_curve_starts_and_ends_at_your_weights(made, tmp_path):
    """t=0 and t=1 of the curve are the two weights files, BatchNorm recomputed on both paths."""
    w = [str(p) for p in made["weights"]]
    assert main(["path", "--model", made["factory"], "--model-args", ARGS, *DATA, *w, "--points", "2", "--out", str(tmp_path / "line"), *QUIET]) == 0
    assert main(["path", "--curve", str(made["curve"]), "--model", made["factory"], "--points", "5", "--out", str(tmp_path / "c"), *QUIET]) == 0
    line = json.loads((tmp_path / "line" / "path.json").read_text())
    curve = json.loads((tmp_path / "c" / "path.json").read_text())
    for split in ("train", "test"):
        for m in ("loss", "accuracy"):
            ends = curve["metrics"][split][m]
            assert ends[0] == pytest.approx(line["metrics"][split][m][0], rel=1e-5, abs=1e-7)
            assert ends[-1] == pytest.approx(line["metrics"][split][m][-1], rel=1e-5, abs=1e-7)
    assert curve["kind"] == "curve" and curve["user_model"]["factory"] == made["factory"]
    # connect's own final evaluation is the curve at t=0.5 with BatchNorm recomputed there
    final = json.loads((made["curve"] / "eval" / "final.json").read_text())
    assert curve["ts"][2] == final["protocol"]["curve_t"] == 0.5 and "recomputed at theta(0.5)" in final["protocol"]["batchnorm"]
    for split in ("train", "test"):
        for m in ("loss", "accuracy"):
            assert final[split][m] == pytest.approx(curve["metrics"][split][m][2], rel=1e-5, abs=1e-7)
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["model"] == "build"
    assert main(["plane", "--curve", str(made["curve"]), "--model", made["factory"], "--grid", "3", "--splits", "test",
                 "--out", str(tmp_path / "pl"), *QUIET]) == 0


def test_loading_it_without_model_is_refused_and_imports_nothing(made, tmp_path, capsys):
    _forget_imports(made)
    for argv in (["path", "--curve", str(made["curve"]), "--out", str(tmp_path / "p"), *QUIET],
                 ["plane", "--curve", str(made["curve"]), "--out", str(tmp_path / "q"), *QUIET],
                 ["eval", str(made["curve"])],
                 ["train", "--resume", str(made["curve"])]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"give --model {made['factory']}" in err and "sha256" in err, err
    assert not _imported(made)
    assert main(["report", str(made["curve"])]) == 0  # a report reads files only
    assert not _imported(made)


def test_another_or_a_changed_file_is_one_line(made, tmp_path, capsys):
    _forget_imports(made)
    other = tmp_path / "other.py"
    shutil.copy(made["file"], other)
    assert main(["path", "--curve", str(made["curve"]), "--model", f"{other}:build", "--out", str(tmp_path / "p"), *QUIET]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "another model" in err and made["factory"] in err
    assert main(["path", "--curve", str(made["curve"]), "--model", made["factory"], "--loss", "mse", "--out", str(tmp_path / "p")]) == 2
    assert "records its model's --model-args, --data and --loss" in capsys.readouterr().err
    original = made["file"].read_text()
    try:
        made["file"].write_text(original + "\n# edited\n")
        assert main(["path", "--curve", str(made["curve"]), "--model", made["factory"], "--out", str(tmp_path / "p"), *QUIET]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "changed since the curve was made" in err, err
    finally:
        made["file"].write_text(original)
    assert not _imported(made)  # the changed file was refused before it ran


def test_eval_and_resume_take_model(made, tmp_path, capsys):
    _forget_imports(made)
    assert main(["eval", str(made["curve"]), "--model", made["factory"], "--metrics", "loss"]) == 0
    doc = json.loads((made["curve"] / "eval" / "test.json").read_text())
    final = json.loads((made["curve"] / "eval" / "final.json").read_text())
    assert doc["metrics"]["loss"] == pytest.approx(final["test"]["loss"], rel=1e-5)  # BatchNorm at t=0.5 here too
    assert doc["protocol"]["curve_t"] == 0.5 and "recomputed" in doc["protocol"]["batchnorm"]
    assert _imported(made)
    assert main(["train", "--resume", str(made["curve"]), "--model", made["factory"]]) == 2  # finished: nothing to resume
    assert "already finished" in capsys.readouterr().err


def test_weights_that_do_not_fit_are_one_line_before_any_run_folder(made, tmp_path, capsys):
    w = [str(p) for p in made["weights"]]
    out = tmp_path / "bad"
    assert main(["connect", *w, "--model", made["factory"], "--model-args", '{"width": 6}', *DATA, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'stem.0.weight' has shape (4, 1, 3, 3), the model needs (6, 1, 3, 3)" in err, err
    assert not out.exists()
    assert main(["connect", *w, "--loss", "mse", "--out", str(out)]) == 2  # --loss without --model
    assert "--loss applies with --model" in capsys.readouterr().err


def test_an_interrupted_connect_names_its_default_run_folder_and_resumes(made, tmp_path, monkeypatch, capsys):
    """Without --out the run folder is named before training starts: the interruption line names
    that exact folder (with the --model its resume needs), and that command finishes the curve."""
    from latentscape.train.trainer import Trainer

    monkeypatch.chdir(tmp_path)
    fit = Trainer.fit

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "fit", interrupted)
    w = [str(p) for p in made["weights"]]
    assert main(["connect", *w, "train.num_threads=1", "--model", made["factory"], "--model-args", ARGS, *DATA, "--epochs", "1"]) == 130
    out, err = capsys.readouterr()
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("curve-") and f"run dir: runs/{run.name}" in out
    resume = f"latentscape train --resume runs/{run.name} --model {made['factory']}"
    assert err.strip().splitlines()[-1] == f"interrupted; what was written so far is kept (continue with `{resume}`)"
    monkeypatch.setattr(Trainer, "fit", fit)
    assert main(resume.split()[1:]) == 0
    assert json.loads((run / "eval" / "final.json").read_text())["protocol"]["curve_t"] == 0.5
