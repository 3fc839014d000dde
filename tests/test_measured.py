"""Measured numbers live in assets/measured (written by the benchmarks); the model cards, the README's
status and the label-free card's measurements are rendered from those files (training.card,
benchmarks.report), and these tests fail when a quote drifts from its file or prose types one by hand."""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from benchmarks.__main__ import record_path
from benchmarks.common import emit
from benchmarks.report import BLOCKS, current
from toyworld.settings import MEASURED
from training.card import CARD_BENCHMARKS, _rows, measured_for

from .conftest import ROOT


def _load(name: str) -> dict:
    return json.loads((MEASURED / f"{name}.json").read_text())


def _quoted(value: float, text: str) -> bool:
    """Whether `value` appears in `text` at one, two or three decimals (as a number, not inside another)."""
    return any(re.search(rf"(?<![\d.]){re.escape(f'{value:.{d}f}')}(?!\d)", text) for d in (1, 2, 3))


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_documents_quote_the_measured_files(name):
    """README's status and the label-free card's measurements are rendered from assets/measured."""
    doc, render = BLOCKS[name]
    assert current(name) == render(MEASURED), f"{doc} differs from assets/measured: run `python -m benchmarks.report`"


def test_no_measured_file_was_copied_by_hand():
    copied = [p.name for p in MEASURED.glob("*.json") if "source" in json.loads(p.read_text())]
    assert not copied, f"written by hand, not by a benchmark run: {copied}"


def _defaults() -> dict[str, int]:
    """The visitor limits' defaults as toyworld/settings.py sets them (the environment may override them)."""
    text = (ROOT / "toyworld" / "settings.py").read_text()
    return {k: int(v) for k, v in re.findall(r'(MAX_\w+) = _env_int\("\1", (\d+)\)', text)}


def test_readme_and_settings_give_the_same_visitor_limits():
    d = _defaults()
    names = ("MAX_FIT_SAMPLES", "MAX_COMPARE_SEEDS", "MAX_DIFFUSION_FRAMES")
    row = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `MAX_FIT_SAMPLES`"))
    assert row.rstrip(" |").endswith(", ".join(str(d[n]) for n in names)), row
    doc = (ROOT / "toyworld" / "settings.py").read_text().split('"""')[1]
    for n in names:  # the settings' own docstring
        assert re.search(rf"{n}\b.*\bdefault {d[n]}\)", doc), n


def test_tabs_and_notebooks_type_no_measured_number():
    """Prose that a reader sees (the tabs' texts, the notebooks' markdown) quotes no measured number by hand:
    numbers come from assets/measured at run time."""
    import demo.compare
    import demo.hspace
    import demo.imagination
    import demo.wspace

    texts = {m.__name__: m.LEAD + m.EXPLAIN for m in (demo.compare, demo.imagination)}
    texts.update({m.__name__: m.EXPLAIN for m in (demo.hspace, demo.wspace)})
    for nb in sorted((ROOT / "workshop").glob("[0-9][0-9]_*.py")):
        texts[nb.name] = "\n".join(line for line in nb.read_text().splitlines() if line.startswith("# "))
    for name, text in texts.items():
        prose = re.sub(r"`[^`]*`", "", text)  # code spans name parameters, not measurements
        assert not re.findall(r"(?<![\w.])0\.\d\d+", prose), f"{name} types a measured-looking number"


def test_card_findings_quote_the_measured_files():
    from training.card import findings_text

    folder = ROOT / "assets" / "toy-diffusion"
    t = json.loads((folder / "training.json").read_text())
    card = (folder / "README.md").read_text()
    assert findings_text(t, measured_for(folder)) in card, "rerun `python -m training.card assets/toy-diffusion`"


@pytest.mark.parametrize("model", sorted(CARD_BENCHMARKS))
def test_model_cards_quote_the_measured_files(model):
    card = (ROOT / "assets" / model / "README.md").read_text()
    measured = measured_for(ROOT / "assets" / model)
    assert len(measured) == len(CARD_BENCHMARKS[model])
    assert _rows(measured) in card, f"rerun `python -m training.card assets/{model}`"


def _args(**kw) -> argparse.Namespace:
    base = dict(name="atlas", quick=False, model=None, guidance=None, strength=None, mode=None, sweep=False,
                directions=None, no_record=False)
    return argparse.Namespace(**{**base, **kw})


def test_only_full_default_runs_are_recorded(tmp_path, capsys):
    assert record_path(_args()) == MEASURED / "atlas.json"
    assert record_path(_args(name="imagination", model="assets/toy-diffusion-hourglass/")) == \
        MEASURED / "imagination.toy-diffusion-hourglass.json"
    for kw in (dict(quick=True), dict(no_record=True), dict(sweep=True), dict(strength=2.0), dict(directions="x")):
        assert record_path(_args(**kw)) is None, kw
    # one h-space move, its strength curve, and the same move with another folder of directions (a lead)
    hs = dict(name="hspace", move="recurrent")
    assert record_path(_args(**hs)) == MEASURED / "hspace.move-recurrent.json"
    assert record_path(_args(**hs, sweep=True)) == MEASURED / "hspace.curve-recurrent.json"
    assert record_path(_args(**hs, directions="/x/refit/")) == MEASURED / "hspace.move-recurrent.refit.json"
    for kw in (dict(quick=True), dict(no_record=True), dict(strength=2.0), dict(model="m")):
        assert record_path(_args(**hs, **kw)) is None, kw
    # the default W model's directions fitted another way (which boundary moves a code best)
    assert record_path(_args(name="wspace", method="logistic-raw")) == MEASURED / "wspace.method-logistic-raw.json"
    for kw in (dict(quick=True), dict(no_record=True), dict(strength=2.0), dict(model="m"), dict(directions="x")):
        assert record_path(_args(name="wspace", method="logistic", **kw)) is None, kw
    emit({"a": 1, "benchmark": "x"}, tmp_path / "m" / "x.json")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(line) == {"a": 1, "benchmark": "x"} and (tmp_path / "m" / "x.json").read_text().strip() == line


def test_findings_quote_benchmark_lines_verbatim():
    """Every JSON line pasted into a FINDINGS document is, key for key, the file it names in assets/measured."""
    for findings in ROOT.glob("assets/**/FINDINGS.md"):
        text = findings.read_text()
        for m in re.finditer(r"`\.\./measured/([\w.-]+\.json)`[^`]*?```\n(\{.*?\})\n```", text, re.S):
            name, line = m.group(1), m.group(2)
            assert json.loads(line) == json.loads((MEASURED / name).read_text()), f"{findings}: {name}"


def test_wspace_method_refits_the_directions_that_way_then_measures_them(monkeypatch, tiny_gan):
    """`benchmarks wspace --method M` fits the W directions afresh with M (the cards' attributes) into a folder of
    its own and measures those, never the shipped ones."""
    import benchmarks.wspace as bench

    calls = []
    monkeypatch.setattr(bench, "refit", lambda folder, method, out, samples: calls.append((folder, method, out, samples)))
    with pytest.raises(SystemExit, match="No W-space colour directions"):  # the fake fit wrote none there
        bench.run(quick=True, model_path=str(tiny_gan.folder), method="logistic-raw")
    (folder, method, out, samples), = calls
    assert (Path(folder), method, samples) == (tiny_gan.folder, "logistic-raw", 1000)
    assert Path(out) != tiny_gan.folder / "directions" and not Path(out).exists()  # a temporary folder, gone
