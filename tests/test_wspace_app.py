"""The W-space tab through gradio_client, on an app built around the tiny random generators."""
import numpy as np
import pytest
from PIL import Image
from edits.metrics import same_picture



@pytest.fixture(scope="module")
def tiny_app(tiny_full_app):
    return tiny_full_app


def _img(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_edit_w_original_and_edited(tiny_app):
    orig, edited = tiny_app.predict(5, 0.7, "colour", "blue", 3.0, api_name="/edit_w")
    a, b = _img(orig), _img(edited)
    assert a.shape == b.shape == (16, 16, 3)
    assert not same_picture(a, b)
    orig0, edited0 = tiny_app.predict(5, 0.7, "colour", "blue", 0.0, api_name="/edit_w")
    assert same_picture(_img(orig0), _img(edited0)) and same_picture(_img(orig0), a)


@pytest.mark.parametrize("args, message", [
    ((5, 0.7, "mood", "happy", 1.0), "no w-space direction"),
    ((5, 0.7, "colour", "blue", 1e9), "between"),  # the app's own range check, not the slider's
    ((5, 7.0, "colour", "blue", 1.0), "between"),
    ((-5, 0.7, "colour", "blue", 1.0), "seed"),
])
def test_edit_w_bad_input(tiny_app, args, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        tiny_app.predict(*args, api_name="/edit_w")
    assert message in str(e.value).lower()
    assert len(tiny_app.predict(5, 0.7, "colour", "red", 1.0, api_name="/edit_w")) == 2  # still serving


def test_edit_w_other_attribute_through_the_api(tiny_app):
    orig, edited = tiny_app.predict(5, 0.7, "shape", "star", 2.0, api_name="/edit_w")
    assert not same_picture(_img(orig), _img(edited))


def test_embedded_gan_in_the_real_app(app_client):
    names = {e for e in app_client.view_api(print_info=False, return_format="dict")["named_endpoints"]}
    if "/edit_w" not in names:
        pytest.skip("the embedded StyleGAN is not in assets/ yet")
    orig, edited = app_client.predict(11, 0.7, "colour", "blue", 2.0, api_name="/edit_w")
    assert _img(orig).shape == (64, 64, 3) and not same_picture(_img(orig), _img(edited))


def _space_param(client) -> str:
    """The /edit_w parameter of the "Edit in" choice (W or StyleSpace), by its label."""
    params = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/edit_w"]["parameters"]
    return next(p["parameter_name"] for p in params if p.get("label") == "Edit in")


def test_edit_in_stylespace(tiny_app):
    """Edit in S: strength 0 gives back the original, the same picture the W edit starts from; a real strength
    changes it, and not as the W direction does; a class without style channels is a sentence, not a crash."""
    from demo.wspace import S_SPACE, W_SPACE
    from gradio_client.exceptions import AppError

    space = _space_param(tiny_app)
    o_w, e_w = (_img(p) for p in tiny_app.predict(5, 0.7, "colour", "blue", 2.0, api_name="/edit_w",
                                                  **{space: W_SPACE}))
    o_s, e_s = (_img(p) for p in tiny_app.predict(5, 0.7, "colour", "blue", 2.0, api_name="/edit_w",
                                                  **{space: S_SPACE}))
    assert same_picture(o_s, o_w)
    assert not same_picture(o_s, e_s) and not same_picture(e_s, e_w)
    o0, e0 = (_img(p) for p in tiny_app.predict(5, 0.7, "colour", "blue", 0.0, api_name="/edit_w",
                                                **{space: S_SPACE}))
    assert same_picture(o0, e0)
    with pytest.raises(AppError) as e:
        tiny_app.predict(5, 0.7, "shape", "star", 1.0, api_name="/edit_w", **{space: S_SPACE})
    assert "no style channels" in str(e.value).lower()


def test_the_tab_says_what_the_default_gan_learnt_and_how_disentangled_it_is():
    """The W tab's sentences for the embedded models quote their measured files: the default is the GAN learnt
    from pictures alone, compared with the autoencoder; the DCI table is the default's disentanglement.json."""
    from types import SimpleNamespace

    from demo.common import measured
    from demo.wspace import _pct, structure_note, training_note
    from toyworld.settings import EMBEDDED_GAN, LABEL_FREE_GAN

    ws, ae = measured("wspace"), measured("wspace.toy-stylegan-label-free")
    if not ws or not ae:
        pytest.skip("the W models are not measured yet")
    note = training_note(SimpleNamespace(folder=EMBEDDED_GAN, label_free=True, adversarial=True))
    assert "as a GAN" in note and f"in {_pct(ws['clean_edit_rate'])} of edits" in note
    assert f"autoencoder learnt from the same pictures: {_pct(ae['clean_edit_rate'])}" in note
    ae_note = training_note(SimpleNamespace(folder=LABEL_FREE_GAN, label_free=True, adversarial=False))
    assert "autoencoder" in ae_note and f"in {_pct(ae['clean_edit_rate'])} of edits" in ae_note
    d = measured("disentanglement")
    table = structure_note(SimpleNamespace(folder=EMBEDDED_GAN))
    ae_d = measured("disentanglement.toy-stylegan-label-free")
    for k, row in (("w", "W"), ("s", "S")):
        assert (f"| {row} | {d[k]['dci_disentanglement']:.2f} | {ae_d[k]['dci_disentanglement']:.2f} |" in table
                and f"{row} {d[k]['mig']:.2f}" in table), row
    assert "| GAN (shown) | auto\u00adencoder | label-built | faces |" in table  # (a soft hyphen)
