import numpy as np
import pytest

from edits.directions import Direction, DirectionError
from edits.fit import collect_h, fill_template, fit_h, main
from edits.hspace import h_shape
from edits.pipeline import InputError


def test_fill_template_is_deterministic_and_checks_placeholders():
    a = fill_template("a {size} {shape} on a {background} background", 3)
    assert a == fill_template("a {size} {shape} on a {background} background", 3)
    assert "{" not in a
    with pytest.raises(InputError):
        fill_template("a {mood} circle", 1)


def test_collect_and_fit_on_the_tiny_pipeline(tiny_model, tmp_path):
    seeds = list(range(24))
    s = collect_h(tiny_model, "a {colour} circle", seeds, num_inference_steps=3)
    assert s.h.shape[:2] == (24, 3) and s.images.shape == (24, 16, 16, 3) and s.images.dtype == np.uint8
    # labels that the h of the last step really separates: the sign of its first principal component
    last = s.h[:, -1] - s.h[:, -1].mean(0)
    pc = np.linalg.svd(last, full_matrices=False)[2][0]
    labels = ["up" if v > 0 else "down" for v in last @ pc]
    dirs = fit_h(s, labels, "test", "tiny", "csv", h_shape(tiny_model))
    assert set(dirs) == {"up", "down"}
    d = dirs["up"]
    assert d.vectors.shape == (3, *h_shape(tiny_model)) and len(d.meta["accuracy"]) == 3
    assert d.meta["timesteps"] == s.timesteps
    e = Direction.load(d.save(tmp_path / "h_test_up"))
    assert e.meta["class"] == "up" and e.meta["samples"] == 24
    with pytest.raises(DirectionError, match="single class"):
        fit_h(s, ["same"] * 24, "test", "tiny", "csv", h_shape(tiny_model))


def test_cli_with_user_labels(tiny_pipeline_dir, tmp_path, capsys):
    csv = tmp_path / "labels.csv"
    csv.write_text("seed,label\n" + "\n".join(f"{i},{'a' if i % 2 else 'b'}" for i in range(16)))
    main(["hspace", "--model", str(tiny_pipeline_dir), "--prompt", "a circle", "--attribute", "parity",
          "--labeler", "csv", "--labels", str(csv), "--samples", "16", "--steps", "2", "--out", str(tmp_path / "d")])
    assert sorted(p.name for p in (tmp_path / "d").glob("*.safetensors")) == ["h_parity_a.safetensors",
                                                                              "h_parity_b.safetensors"]
    with pytest.raises(SystemExit):
        main(["hspace", "--model", str(tiny_pipeline_dir), "--prompt", "a circle", "--attribute", "x",
              "--labeler", "csv", "--samples", "3"])
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("layers", ["4to9", "7-3", "0-99"])
def test_wspace_cli_rejects_bad_layer_ranges(tiny_gan, tmp_path, capsys, layers):
    folder = tmp_path / "gan"
    from nets.stylegan import save_generator
    save_generator(tiny_gan.generator, folder)
    with pytest.raises(SystemExit) as e:
        main(["wspace", "--gan", str(folder), "--attribute", "colour", "--layers", layers, "--out", str(tmp_path / "d")])
    assert e.value.code == 2 and "layer" in capsys.readouterr().err.lower()
    assert not (tmp_path / "d").exists()
