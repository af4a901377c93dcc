"""HTML report: content, embedding, escaping, partial runs, and the `report` command."""

import base64
import json
import re

import pytest
import torch

from latentscape.cli import main
from latentscape.errors import LatentscapeError
from latentscape.viz.gif import save_gif
from latentscape.viz.grid import save_image_grid
from latentscape.viz.report import write_report

CONFIG = """name: <script>alert('x')</script>
model:
  name: vae
  latent_dim: 2
data:
  name: mnist
train:
  epochs: 2
"""


def _full_run(tmp_path):
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    (run / "config.yaml").write_text(CONFIG)
    lines = [
        {"step": 0, "epoch": 0, "split": "train", "loss": 3.0},
        {"step": 5, "epoch": 0, "split": "train", "loss": 1.23456},
        {"step": 5, "epoch": 0, "split": "test", "loss": 2.5, "elbo": -98.7654},
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    save_image_grid(torch.rand(4, 1, 8, 8), run / "images" / "samples_step5.png", nrow=2)
    save_gif(torch.rand(3, 3, 8, 8), run / "images" / "interp_z.gif")
    result = {"fid": 12.345, "kid": {"mean": 0.0125, "std": 0.001}, "accuracy": [0.1, 0.2, 0.3]}
    (run / "eval" / "fid.json").write_text(json.dumps(result))
    return run


def _data_uris(html: str) -> list[tuple[str, bytes]]:
    return [(m, base64.b64decode(d)) for m, d in re.findall(r"src='data:(image/\w+);base64,([A-Za-z0-9+/=]+)'", html)]


def test_report_contents(tmp_path):
    run = _full_run(tmp_path)
    path = write_report(run)
    assert path == run / "report.html"
    html = path.read_text()
    # title and config
    assert "vae" in html and "mnist" in html and "<details>" in html
    # final metrics: last value per split, and eval JSON flattened
    assert "1.235" in html and "2.5" in html and "-98.77" in html
    assert "kid.mean" in html and "0.0125" in html and "12.35" in html and "[0.1, 0.2, 0.3]" in html
    # images embedded: a curve PNG, the grid PNG and the GIF; nothing fetched from outside
    uris = _data_uris(html)
    mimes = [m for m, _ in uris]
    assert mimes.count("image/gif") == 1 and mimes.count("image/png") >= 3  # curves_loss, curves_elbo, samples
    assert all(data[:4] in (b"\x89PNG", b"GIF8") for _, data in uris)
    assert (run / "images" / "curves_loss.png").is_file()
    assert "samples step5" in html and "interp z" in html  # captions from file names
    assert not re.search(r"(src|href)\s*=\s*['\"]?https?:", html, re.I)
    assert "http" not in html.replace(str(run.resolve()), "").replace("http-equiv=", "")  # no address anywhere


def test_report_escapes_text(tmp_path):
    html = write_report(_full_run(tmp_path)).read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_report_on_run_with_only_config(tmp_path):
    (tmp_path / "config.yaml").write_text("model: {name: classifier}\n")
    html = write_report(tmp_path).read_text()
    # sections with nothing to show are left out, not filled with "nothing yet" notes
    assert "No metrics" not in html and "No images" not in html and "No curves" not in html
    assert "id='metrics'" not in html and "id='images'" not in html and "id='config'" in html
    assert "classifier" in html and tmp_path.name in html  # title falls back to the folder name
    assert "base64" not in html


def test_report_survives_broken_files(tmp_path):
    (tmp_path / "config.yaml").write_text("model: [unclosed\n")
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "bad.json").write_text("{nope")
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 1.0}\n{"step": 2, "lo')
    html = write_report(tmp_path).read_text()
    assert "could not be parsed" in html and "unreadable JSON" in html and "bad.json" in html


def test_report_rejects_non_run_dirs(tmp_path):
    with pytest.raises(LatentscapeError, match="not found"):
        write_report(tmp_path / "missing")
    with pytest.raises(LatentscapeError, match="no config.yaml"):
        write_report(tmp_path)


def test_report_command(tmp_path, capsys):
    run = _full_run(tmp_path)
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(run / "report.html")
    assert main(["report", str(run), "--open-path"]) == 0
    assert capsys.readouterr().out.strip() == (run / "report.html").resolve().as_uri()
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_images_grouped_by_prefix_and_sorted(tmp_path):
    from pathlib import Path

    from latentscape.viz.report import caption_for, group_for

    assert group_for(Path("samples_step100.png")) == "samples"
    assert group_for(Path("interpolations30000.png")) == "interpolations"
    assert group_for(Path("sub/recon-test.gif")) == "sub/recon"
    assert caption_for(Path("interp_step_1000.gif")) == "interp step 1000 (gif)"
    (tmp_path / "config.yaml").write_text("model: {name: ae}\n")
    for name in ["samples_2.png", "recon_a.png", "samples_1.png"]:
        save_image_grid(torch.rand(1, 1, 4, 4), tmp_path / "images" / name)
    html = write_report(tmp_path).read_text()
    order = [html.index(s) for s in ("<h3>recon</h3>", "recon a (png)", "<h3>samples</h3>", "samples 1", "samples 2")]
    assert order == sorted(order)
    assert "class='pixel'" in html  # tiny grids are enlarged with crisp pixels


def test_analysis_page_shows_its_summary_fields_and_pictures(tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    # a kind the pages do not know (a user's own analysis): its summary fields are shown as they are
    (study / "summary.json").write_text(json.dumps({"kind": "sweep", "title": "LR search", "finding": "Best lr 3e-4.",
                                                    "model": "vae", "dataset": "mnist", "trials": [{"lr": 3e-4}]}))
    save_image_grid(torch.rand(4, 1, 8, 8), study / "history.png", nrow=2)  # plots kept next to the summary
    html = write_report(study).read_text()
    assert "model <b>vae</b>" in html and "dataset <b>mnist</b>" in html  # from the summary, not "unknown"
    assert "Best lr 3e-4." in html and "trials[0].lr" in html
    assert [m for m, _ in _data_uris(html)] == ["image/png"]


def test_templates_escape_by_default_and_mark_nothing_safe():
    from pathlib import Path

    import latentscape.viz
    from latentscape.viz.templating import environment

    env = environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<b onclick='y'>&") == "&lt;b onclick=&#39;y&#39;&gt;&amp;"
    templates = Path(latentscape.viz.__file__).parent / "templates"
    names = sorted(p.name for p in templates.iterdir())
    assert {"base.html", "blocks.html", "index.html", "report.html", "compare.html", "page.css", "index.js"} <= set(names)
    for path in templates.glob("*.html"):
        text = path.read_text()
        assert "|safe" not in text.replace(" ", "") and "Markup" not in text and "autoescape false" not in text, path.name
