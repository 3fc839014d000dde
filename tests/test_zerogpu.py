"""`edits.zerogpu.gpu`: the identity without the `spaces` package, `spaces.GPU(duration=...)` with it."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import types

from tests.conftest import ROOT


def _fake_spaces(calls: list):
    mod = types.ModuleType("spaces")

    def GPU(duration=60):  # noqa: N802  (the real name)
        def wrap(fn):
            def wrapper(*a, **k):
                calls.append(duration)
                return fn(*a, **k)

            wrapper.zerogpu_duration = duration
            return wrapper

        return wrap

    mod.GPU = GPU
    return mod


def test_without_spaces_the_function_is_returned_unchanged(monkeypatch):
    from edits.zerogpu import gpu

    monkeypatch.setitem(sys.modules, "spaces", None)  # `import spaces` raises ImportError

    def f(x):
        return x + 1

    assert gpu(30)(f) is f and f(1) == 2


def test_with_spaces_the_function_is_wrapped_with_its_duration(monkeypatch):
    from edits.zerogpu import gpu

    calls = []
    monkeypatch.setitem(sys.modules, "spaces", _fake_spaces(calls))

    def f(x):
        return x * 2

    g = gpu(45)(f)
    assert g is not f and g.zerogpu_duration == 45
    assert g(3) == 6 and calls == [45]


def test_the_model_entry_points_are_marked_when_spaces_is_present():
    """In a fresh interpreter with a fake `spaces`: the entry points carry @spaces.GPU and still work."""
    code = textwrap.dedent("""
        import sys, types
        sys.path.insert(0, %r)
        calls = []
        spaces = types.ModuleType("spaces")
        def GPU(duration=60):
            def wrap(fn):
                def wrapper(*a, **k):
                    calls.append((fn.__name__, duration))
                    return fn(*a, **k)
                wrapper.zerogpu_duration = duration
                return wrapper
            return wrap
        spaces.GPU = GPU
        sys.modules["spaces"] = spaces
        from edits import fit, pipeline, walks, wspace
        marked = [getattr(f, "zerogpu_duration", None)
                  for f in (pipeline.DiffusionModel.generate, pipeline.DiffusionModel.generate_batch,
                            wspace.edit_pair, wspace.traversal, wspace.sample_and_label, fit.collect_h,
                            walks.diffusion_walk, walks.gan_walk, walks.direction_walk)]
        assert all(marked), marked
        print(sorted(set(marked)))
    """ % str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[30, 60, 120, 240]"


def test_the_embedded_entry_points_are_plain_functions_without_spaces():
    """CI has no `spaces`: nothing is wrapped (the app works unchanged)."""
    import importlib.util

    if importlib.util.find_spec("spaces") is not None:
        import pytest

        pytest.skip("spaces is installed here")
    from edits import wspace

    assert not hasattr(wspace.edit_pair, "zerogpu_duration") and wspace.edit_pair.__module__ == "edits.wspace"
