# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3 · Potentiality in W: InterFaceGAN, conditional edits, GANSpace and SeFa
#
# A StyleGAN maps a random z to a code **w** (the mapping network), and draws the image from w (the
# synthesis network, which reads w at every layer: **W+** is one w per layer). Directions in W change
# one factor of the image, when the generator has learnt that factor as a direction.
#
# You will:
# 1. draw images from seeds;
# 2. fit **InterFaceGAN** boundaries: label generated images, fit a linear classifier in W, and take its
#    normal as the direction (held-out accuracy says whether W separates the factor);
# 3. **edit**, and measure success (target reached) and preservation (other factors kept), plain and
#    **conditional** (moves along the other factors' normals projected out);
# 4. edit only some **style layers**;
# 5. find directions **without labels**: GANSpace (PCA of sampled w) and SeFa (singular vectors of the
#    style-modulation weights).
#
# The generator is the embedded toy StyleGAN (64 px), learnt from pictures alone: no label reached its
# training, so whether W separates a factor is a finding here, not a construction. `load_gan(LABELLED_GAN)`
# (from `edits.wspace`) loads the label-built upper bound to compare with; a converted NVlabs StyleGAN2
# folder loads through the same `load_gan` (see the README). *About a minute and a half of CPU, most of it labelling 1 000 images.*

# %%
import time
from collections import Counter  # noqa: F401  (the solutions use it)

import numpy as np
import torch  # noqa: F401  (the solutions use it)
from show import describe, grid

from edits.compare import Scorer
from edits.labelers import ColourLabeler, ToyClassifierLabeler
from edits.wspace import apply_edits, edit_pair, fit_w, load_gan, make_edit, sample_and_label

t_start = time.time()
gan = load_gan()  # or load_gan("my-converted-stylegan/")
score = Scorer()
print(gan.name, f"w: {gan.w_dim} dims, W+: {gan.n_latent} layers")
seeds = list(range(8))
w = gan.w_from_seeds(seeds)  # (8, w_dim)
images = gan.render(w)  # (8, 64, 64, 3) uint8
grid(images, [describe(r) for r in score(images)], suptitle="seeds 0-7")

# %% [markdown]
# ## InterFaceGAN boundaries
# `sample_and_label` draws w for 1 000 seeds, renders them and labels each image (colour from pixels,
# shape and background by the toy-world classifier). `fit_w` fits one boundary per class (that class against the rest)
# and a readout telling which class a code is in. The held-out accuracy is the first result: a high one
# means the generator keeps this factor in a linear region of W. Compare the attributes: a boundary can
# separate a factor only partly and still serve as an edit direction (measure the edit, below).

# %%
codes, labels = sample_and_label(gan, 1000, {"colour": ColourLabeler(), "shape": ToyClassifierLabeler("shape"),
                                            "background": ToyClassifierLabeler("background")}, first_seed=10_000)
directions = {}
for attribute in ("colour", "shape"):
    fitted = fit_w(codes, labels[attribute], attribute, "colour" if attribute == "colour" else "classifier")
    directions.update({f"{attribute}: {c}": d for c, d in fitted.items()})
    print(attribute, {c: round(d.meta["accuracy"][0], 3) for c, d in fitted.items()})

# %% [markdown]
# ## Edit and measure
# `make_edit(directions, attribute, target, strength)` builds the edit the app makes: a class swap
# (strength 1 replaces the class the code is in by the target). `edit_pair` renders one seed before and after.

# %%
edit = make_edit(directions, "colour", "blue", 1.0)
before, after = edit_pair(gan, 3, [edit])
grid([before, after], ["seed 3", "colour -> blue"])


# %%
def measure(edit, seeds, attribute, target):
    """Success and preservation of an edit over seeds (those already showing the target are skipped)."""
    w = gan.w_from_seeds(seeds)
    orig, edited = score(gan.render(w)), score(gan.render(apply_edits(gan, w, [edit])))
    todo = [(o, e) for o, e in zip(orig, edited) if o[attribute] != target]
    success = np.mean([e[attribute] == target for _, e in todo])
    kept = np.mean([all(o[k] == e[k] for k in o if k != attribute) for o, e in todo])
    return round(float(success), 2), round(float(kept), 2), len(todo)


test_seeds = list(range(500, 524))
for conditional in (False, True):
    e = make_edit(directions, "shape", "star", 1.0, conditional=conditional)
    s, k, n = measure(e, test_seeds, "shape", "star")
    print(f"shape -> star, conditional={conditional}: success {s}, other factors kept {k} (n={n})")

# %% [markdown]
# A conditional edit removes from the move its components along the *other* attributes' normals (here the
# colour directions), so that those boundaries are not crossed. Whether it helps depends on how entangled
# the factors are in W: measure, don't assume.
#
# ## Style layers
# W+ gives each synthesis layer its own w. Early layers set coarse structure (shape, position), later ones
# finer appearance (colour, texture). Moving w only on some layers restricts what an edit can reach.

# %%
n = gan.n_latent
w3 = gan.w_from_seed(3)
variants = {"all layers": None, f"layers 0-{n // 2 - 1}": (0, n // 2 - 1), f"layers {n // 2}-{n - 1}": (n // 2, n - 1)}
frames = [gan.render(gan.generator.broadcast(w3))[0]]
for name, layers in variants.items():
    frames.append(gan.render(apply_edits(gan, w3, [make_edit(directions, "colour", "blue", 1.0, layers=layers)]))[0])
grid(frames, ["seed 3"] + [f"blue on {k}" for k in variants])

# %% [markdown]
# ## Without labels: GANSpace and SeFa
# `load_gan` computes both: `gan.pca` (principal components of 10 000 sampled w; one slider unit is one
# standard deviation) and `gan.sefa` (top right-singular vectors of the stacked style-modulation weights,
# closed form, no sampling). Nobody told them what a colour is: we look at what each one changes.

# %%
print("GANSpace explained variance:", gan.pca.explained[:4])
print("SeFa energy:", gan.sefa.explained[:4])
rows, titles = [], []
for method in ("pca", "sefa"):
    for i in range(3):
        for v in (-2.0, 0.0, 2.0):
            rows.append(gan.render(apply_edits(gan, w3, components={(method, i): v}))[0])
            titles.append(f"{method} #{i}: {v:+.0f}")
grid(rows, titles, cols=9)


# %%
def what_changes(method, i, seeds=range(200, 212), value=2.0):
    """How often each factor changes when component i is added (value standard deviations)."""
    w = gan.w_from_seeds(list(seeds))
    a, b = score(gan.render(w)), score(gan.render(apply_edits(gan, w, components={(method, i): value})))
    return {k: round(float(np.mean([x[k] != y[k] for x, y in zip(a, b)])), 2) for k in a[0]}


for method in ("pca", "sefa"):
    for i in range(2):
        print(method, i, what_changes(method, i))

# %% [markdown]
# ## Exercises
# 1. **Backgrounds.** Fit background directions (the labels are already in `labels["background"]`) and turn
#    seed 3's background black, plainly and conditionally. Which keeps the object's colour?
# 2. **Name a component.** Which of the first eight GANSpace components changes the *size* most often?
#    (Use `what_changes`; `gan.pca.vectors` has 8 rows.)
#
# <details><summary>Solution 1</summary>
#
# ```python
# directions.update({f"background: {c}": d
#                    for c, d in fit_w(codes, labels["background"], "background", "classifier").items()})
# frames, titles = [gan.render(gan.generator.broadcast(w3))[0]], ["seed 3"]
# for conditional in (False, True):
#     frames.append(gan.render(apply_edits(gan, w3, [make_edit(directions, "background", "black", 1.0, conditional=conditional)]))[0])
#     titles.append(f"black, conditional={conditional}")
# grid(frames, [f"{t}: {describe(r)}" for t, r in zip(titles, score(np.stack(frames)))])
# ```
# </details>
#
# <details><summary>Solution 2</summary>
#
# ```python
# changes = {i: what_changes("pca", i, seeds=range(200, 208))["size"] for i in range(len(gan.pca.vectors))}
# best = max(changes, key=changes.get)
# print("size changes per component:", changes, "-> component", best)
# ```
# </details>

# %%
print(f"notebook 3 ran in {time.time() - t_start:.0f} s")
