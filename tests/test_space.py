"""What the Hugging Face Hub checks when the repository is pushed as a Space, mirrored offline."""
import re
import subprocess

import pytest
import yaml

from .conftest import ROOT

HUB_LIMIT = 10 * 2**20  # the Hub refuses a file over 10 MiB outside LFS/Xet
SPACE_COLOURS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


def _front_matter() -> dict:
    text = (ROOT / "README.md").read_text()
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md must start with the Space's YAML front matter between two --- lines"
    return yaml.safe_load(match.group(1))


def _files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                         capture_output=True, check=True).stdout.decode()
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


def _is_binary(path) -> bool:
    with open(path, "rb") as f:
        return b"\0" in f.read(8000)  # git's own test


def test_the_space_front_matter_is_valid():
    meta = _front_matter()
    assert meta["sdk"] == "gradio" and (ROOT / meta["app_file"]).is_file()
    pinned = re.search(r"^gradio==(\S+)", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert str(meta["sdk_version"]) == pinned  # the Space runs the Gradio the tests ran
    assert re.fullmatch(r"3\.\d+", str(meta["python_version"]))
    assert meta["colorFrom"] in SPACE_COLOURS and meta["colorTo"] in SPACE_COLOURS
    assert meta["title"] and len(meta["short_description"]) <= 60


def test_every_binary_or_large_file_is_covered_by_an_lfs_rule():
    files = _files()
    needs = [f for f in files if _is_binary(ROOT / f) or (ROOT / f).stat().st_size > HUB_LIMIT]
    assert any(f.endswith(".safetensors") for f in needs)  # the weights are among them
    out = subprocess.run(["git", "check-attr", "filter", "--stdin", "-z"], cwd=ROOT, input="\0".join(needs).encode(),
                         capture_output=True, check=True).stdout.decode().split("\0")
    filters = dict(zip(out[0::3], out[2::3]))
    uncovered = [f for f in needs if filters.get(f) != "lfs"]
    assert not uncovered, f"binary or > 10 MiB files without an LFS rule in .gitattributes: {uncovered[:10]}"


def test_a_text_file_is_not_sent_to_lfs():
    out = subprocess.run(["git", "check-attr", "filter", "--", "app.py", "README.md"], cwd=ROOT,
                         capture_output=True, check=True, text=True).stdout
    assert "lfs" not in out


@pytest.mark.parametrize("env, host, port", [({}, "127.0.0.1", 7860),
                                             ({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861"},
                                              "0.0.0.0", 7861)])
def test_app_listens_where_the_space_says(monkeypatch, env, host, port):
    import app

    for k in ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    args = app.parse_args([])
    assert (args.server_name, args.port) == (host, port)
