"""The workshop notebooks execute: each jupytext percent script runs as plain Python in a fresh interpreter
(cwd workshop/, matplotlib headless), followed by the Python blocks of its hidden solutions, so that a broken
public API breaks the build. Each prints its wall and CPU time; README's workshop section lists them."""
from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time

import pytest

from tests.conftest import EMBEDDED, ROOT

WORKSHOP = ROOT / "workshop"
NOTEBOOKS = sorted(p.name for p in WORKSHOP.glob("[0-9][0-9]_*.py"))
TIMEOUT = int(os.environ.get("WORKSHOP_TIMEOUT", 1800))  # wall seconds per notebook (generous: shared CPUs)
SOLUTION = re.compile(r"<details>.*?```python\n(.*?)```.*?</details>", re.S)


def script_of(path) -> str:
    """The notebook's code cells in order, then every ```python block inside a <details> solution."""
    import jupytext

    nb = jupytext.read(path)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    solutions = []
    for c in nb.cells:
        if c.cell_type == "markdown":
            solutions += SOLUTION.findall(c.source)
    return "\n\n".join(code + [f"# --- solution {i + 1}\n{s}" for i, s in enumerate(solutions)]), len(solutions)


def test_every_notebook_has_exercises_with_hidden_solutions():
    assert len(NOTEBOOKS) >= 3
    for name in NOTEBOOKS:
        _, n = script_of(WORKSHOP / name)
        assert n >= 1, f"{name} has no hidden solution"


@pytest.mark.skipif(not (EMBEDDED / "model_index.json").exists(), reason="the embedded model is not in assets/")
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, tmp_path):
    code, _ = script_of(WORKSHOP / name)
    script = tmp_path / name
    script.write_text(code)
    env = {**os.environ, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "PYTHONPATH": os.pathsep.join([str(WORKSHOP), str(ROOT)])}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    out = subprocess.run([sys.executable, str(script)], cwd=WORKSHOP, env=env, capture_output=True, text=True,
                         timeout=TIMEOUT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{name}: wall {time.time() - t0:.0f} s, cpu {cpu:.0f} s")
    assert out.returncode == 0, f"{name} failed:\n{out.stderr[-4000:]}"


def test_client_script_drives_the_app(tiny_full_app, tmp_path):
    """workshop/client.py against the app built around tiny random models (in-process, gradio_client)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("workshop_client", WORKSHOP / "client.py")
    client_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client_mod)
    status = client_mod.run(tiny_full_app, tmp_path / "out", seed=3, target="blue", steps=2)
    assert set(status) == {"generate", "edit_h", "edit_w", "compare"}
    assert all(s.startswith("ok") for s in status.values()), status
    saved = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert any(n.startswith("imagination_") for n in saved) and sum(n.startswith("compare_") for n in saved) == 7  # 3 x (before, after), W's redrawing
