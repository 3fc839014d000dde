"""Measured numbers live in assets/measured (written by the benchmarks); the model cards and the README's
status quote those files, and these tests fail when a quote drifts from its file."""
from __future__ import annotations

import argparse
import json
import re

import pytest

from benchmarks.__main__ import record_path
from benchmarks.common import emit
from toyworld.settings import MEASURED
from training.card import CARD_BENCHMARKS, _rows, measured_for

from .conftest import ROOT


def _load(name: str) -> dict:
    return json.loads((MEASURED / f"{name}.json").read_text())


def _quoted(value: float, text: str) -> bool:
    """Whether `value` appears in `text` at one, two or three decimals (as a number, not inside another)."""
    return any(re.search(rf"(?<![\d.]){re.escape(f'{value:.{d}f}')}(?!\d)", text) for d in (1, 2, 3))


def test_readme_status_quotes_the_measured_files():
    status = (ROOT / "README.md").read_text().split("**Status", 1)[1]
    im, cmp = _load("imagination"), _load("compare")
    by = cmp["by_attribute"]
    quoted = {
        "colour adherence": im["colour_adherence"], "shape adherence": im["shape_adherence"],
        "size adherence": im["size_adherence"], "held-out adherence": im["heldout_adherence"],
        "unsaid colour, least": im["unsaid_colour_min_ratio"], "unsaid colour, most": im["unsaid_colour_max_ratio"],
        "prompt reaches": cmp["conditioning"]["success"], "prompt keeps": cmp["conditioning"]["preservation"],
        "W reaches": cmp["wspace"]["success"], "W reaches colour": by["colour"]["wspace"]["success"],
        "W reaches shape": by["shape"]["wspace"]["success"], "W keeps": cmp["wspace"]["preservation"],
        "h reaches": cmp["hspace"]["success"], "h reaches colour": by["colour"]["hspace"]["success"],
        "h keeps": cmp["hspace"]["preservation"],
    }
    drifted = {k: v for k, v in quoted.items() if not _quoted(v, status)}
    assert not drifted, f"the README status does not quote assets/measured for {drifted}"


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
    emit({"a": 1, "benchmark": "x"}, tmp_path / "m" / "x.json")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(line) == {"a": 1, "benchmark": "x"} and (tmp_path / "m" / "x.json").read_text().strip() == line
