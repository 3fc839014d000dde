"""Disentanglement metrics of a code space against known categorical factors: DCI and MIG.

    from edits.disentanglement import dci, mig, scores
    codes = ...                                   # (N, D) float, one row per picture
    factors = {"colour": [...], "shape": [...]}   # each a list of N class names (or ints)
    scores(codes, factors)   # {"dci_disentanglement", "dci_completeness", "dci_informativeness", "mig", ...}

**DCI** (Eastwood & Williams, ICLR 2018). For every factor k a classifier predicts the factor from the whole code;
the importance R[d, k] of code dimension d for factor k is read from it, and normalised so that each factor's
importances sum to 1. Then, with entropies in base K (the number of factors) and base D (the code's dimensions):

    P[d, :] = R[d, :] / sum_k R[d, k]       D_d = 1 - H_K(P[d, :])      disentanglement = sum_d rho_d D_d,
                                                                      rho_d = sum_k R[d, k] / sum R
    Q[:, k] = R[:, k] / sum_d R[d, k]       C_k = 1 - H_D(Q[:, k])      completeness = mean_k C_k
    informativeness = mean_k held-out accuracy of factor k's classifier

The importance matrix comes from (`importance=`):
- "logistic" (the default): an L1-penalised logistic regression, one-vs-rest (scikit-learn's
  `LogisticRegression(solver="liblinear", l1_ratio=1)`), on the standardised codes and their standardised squares;
  R[d, k] = sum over classes of |coef[class, d]| + |coef[class, D + d]| (the Lasso reading of the DCI paper, made
  a classifier because the factors are categories). The square lets one dimension alone carry a factor of more
  than two classes laid out along it (a middle class is an interval of that dimension, which no one-vs-rest line
  cuts out; on such a perfectly disentangled synthetic code the plain linear model gave disentanglement 0.91, this
  one 0.99). Its C is picked from `C_GRID` by accuracy on a validation split of the training codes, then refitted
  on all of them. Near-linear, like the edits the project fits; seconds on a thousand 1088-dimensional codes.
- "gbt": scikit-learn's `GradientBoostingClassifier(...).feature_importances_` (impurity based), as the DCI
  implementations in disentanglement_lib do. Its informativeness is non-linear. Measured here: 50 trees on 700
  codes of 1088 dimensions with 8 classes took 6 minutes of one thread, so it is for small codes (z, w).

Informativeness is the plain accuracy on a held-out quarter (stratified where every class has two codes), so it
depends on the number of classes; `accuracy` gives it per factor.

**MIG** (Chen et al., NeurIPS 2018), the discrete estimate of Locatello et al. (ICML 2019): every code dimension is
cut into `bins` equal-width bins over its range; I(v_d; f_k) = `sklearn.metrics.mutual_info_score`; per factor
the gap between the two dimensions of highest mutual information, divided by the factor's entropy H(f_k); MIG is
the mean over factors. A factor that takes one value only has no entropy and is left out of both metrics
(`skipped`).
"""
from __future__ import annotations

import warnings

import numpy as np

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)  # inverse L1 strengths tried for "logistic"
IMPORTANCES = ("logistic", "gbt")
BINS = 20  # MIG's equal-width bins per code dimension (Locatello et al.'s default)


def _encode(labels) -> np.ndarray:
    """Class names (or anything hashable) -> integer codes 0..n_classes-1 (N,)."""
    _, y = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
    return y.astype(np.int64)


def usable(factors: dict) -> tuple[dict[str, np.ndarray], list[str]]:
    """The factors encoded as ints, without those that take a single value (returned by name as skipped)."""
    out, skipped = {}, []
    for name, labels in factors.items():
        y = _encode(labels)
        if len(np.unique(y)) < 2:
            skipped.append(name)
        else:
            out[name] = y
    return out, skipped


def _split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices; stratified when every class has at least two samples."""
    from sklearn.model_selection import train_test_split

    idx, counts = np.arange(len(y)), np.bincount(y)
    if counts[counts > 0].min() >= 2:
        try:
            return train_test_split(idx, test_size=fraction, random_state=seed, stratify=y)
        except ValueError:  # fewer test samples than classes
            pass
    return train_test_split(idx, test_size=fraction, random_state=seed)


def _logistic(C: float, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(LogisticRegression(solver="liblinear", l1_ratio=1.0, C=C, random_state=seed,
                                                  max_iter=500))


def _logistic_importance(X_train, y_train, seed: int) -> tuple[np.ndarray, object]:
    """|coef| summed over classes (D,) of the L1 logistic model whose C did best on a validation split."""
    best, best_acc = C_GRID[0], -1.0
    if len(np.unique(y_train)) > 1 and len(y_train) >= 8:
        tr, va = _split(y_train, 0.25, seed)
        for C in C_GRID:
            if len(np.unique(y_train[tr])) < 2:
                break
            acc = float((_logistic(C, seed).fit(X_train[tr], y_train[tr]).predict(X_train[va]) == y_train[va]).mean())
            if acc > best_acc + 1e-9:
                best, best_acc = C, acc
    model = _logistic(best, seed).fit(X_train, y_train)
    coef = np.stack([e.coef_[0] for e in model.estimators_ if hasattr(e, "coef_")])  # (classes or 1, 2D)
    D = X_train.shape[1] // 2
    return np.abs(coef[:, :D]).sum(0) + np.abs(coef[:, D:]).sum(0), model  # a dimension's and its square's


def _gbt_importance(X_train, y_train, seed: int, n_estimators: int = 50) -> tuple[np.ndarray, object]:
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(n_estimators=n_estimators, max_depth=3, random_state=seed).fit(X_train, y_train)
    return model.feature_importances_, model


def importance_matrix(codes: np.ndarray, factors: dict, importance: str = "logistic", seed: int = 0,
                      test_fraction: float = 0.25) -> tuple[np.ndarray, dict[str, float], list[str]]:
    """R (D, K) with each column summing to 1 (a column of zeros when no dimension helps), the held-out accuracy
    of each factor's classifier, and the names of the K factors used (single-valued ones are skipped)."""
    if importance not in IMPORTANCES:
        raise ValueError(f"importance must be one of {', '.join(IMPORTANCES)}, not {importance!r}")
    X = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)  # (N, D)
    ys, _ = usable(factors)
    if not ys:
        raise ValueError("DCI needs at least one factor that takes two values or more")
    X = (X - X.mean(0)) / np.where(X.std(0) > 1e-12, X.std(0), 1.0)
    if importance == "logistic":  # each dimension and its (centred) square: an interval of one dimension is linear
        sq = X ** 2
        X = np.concatenate([X, (sq - sq.mean(0)) / np.where(sq.std(0) > 1e-12, sq.std(0), 1.0)], 1)  # (N, 2D)
    R, acc = np.zeros((np.asarray(codes).reshape(len(codes), -1).shape[1], len(ys))), {}
    for k, (name, y) in enumerate(ys.items()):
        tr, te = _split(y, test_fraction, seed)
        if len(np.unique(y[tr])) < 2:  # too few samples: the training split saw one class, nothing to read
            acc[name] = float((y[te] == y[tr][0]).mean())
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # liblinear's convergence and the l1_ratio/penalty deprecation notes
            imp, model = (_logistic_importance if importance == "logistic" else _gbt_importance)(X[tr], y[tr], seed)
        total = np.abs(imp).sum()
        R[:, k] = np.abs(imp) / total if total > 0 else 0.0
        acc[name] = float((model.predict(X[te]) == y[te]).mean())
    return R, acc, list(ys)


def _entropy(p: np.ndarray, base: int, axis: int) -> np.ndarray:
    """Entropy in the given base along axis of a non-negative array whose slices sum to 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis)
    return h / np.log(base) if base > 1 else np.zeros_like(h)


def dci_from_importance(R: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(disentanglement, completeness, per-factor completeness (K,)) of an importance matrix R (D, K)."""
    D, K = R.shape
    dim_total = R.sum(1)  # (D,)
    P = R / np.where(dim_total > 0, dim_total, 1.0)[:, None]  # (D, K)
    dis = 1.0 - _entropy(P, K, axis=1) if K > 1 else np.ones(D)  # one factor: every dimension is "disentangled"
    rho = dim_total / dim_total.sum() if dim_total.sum() > 0 else np.zeros(D)
    fac_total = R.sum(0)  # (K,)
    Q = R / np.where(fac_total > 0, fac_total, 1.0)[None, :]
    comp = np.where(fac_total > 0, 1.0 - _entropy(Q, D, axis=0), 0.0)  # (K,)
    return float((rho * dis).sum()), float(comp.mean()), comp


def dci(codes: np.ndarray, factors: dict, importance: str = "logistic", seed: int = 0) -> dict:
    """DCI of codes (N, D) against categorical factors {name: N labels}: disentanglement, completeness,
    informativeness (mean held-out accuracy), with per-factor completeness and accuracy."""
    R, acc, names = importance_matrix(codes, factors, importance, seed)
    d, c, per = dci_from_importance(R)
    return {"dci_disentanglement": round(d, 4), "dci_completeness": round(c, 4),
            "dci_informativeness": round(float(np.mean(list(acc.values()))), 4),
            "completeness": {n: round(float(v), 4) for n, v in zip(names, per)},
            "accuracy": {n: round(v, 4) for n, v in acc.items()}, "importance": importance}


def discretise(codes: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Each column of codes (N, D) cut into `bins` equal-width bins over its own range -> ints (N, D)."""
    X = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    out = np.zeros(X.shape, dtype=np.int64)
    for d in range(X.shape[1]):
        edges = np.histogram_bin_edges(X[:, d], bins=bins)
        out[:, d] = np.digitize(X[:, d], edges[1:-1])
    return out


def mig(codes: np.ndarray, factors: dict, bins: int = BINS) -> dict:
    """MIG of codes (N, D) against categorical factors: the mean over factors of the gap in mutual information
    between the two most informative code dimensions, over the factor's entropy (with the gap per factor)."""
    from sklearn.metrics import mutual_info_score

    ys, skipped = usable(factors)
    if not ys:
        raise ValueError("MIG needs at least one factor that takes two values or more")
    V = discretise(codes, bins)
    gaps = {}
    for name, y in ys.items():
        mi = np.sort([mutual_info_score(y, V[:, d]) for d in range(V.shape[1])])[::-1]
        second = mi[1] if len(mi) > 1 else 0.0
        gaps[name] = float((mi[0] - second) / mutual_info_score(y, y))
    return {"mig": round(float(np.mean(list(gaps.values()))), 4), "mig_per_factor": {n: round(g, 4) for n, g in gaps.items()},
            "skipped": skipped}


def scores(codes: np.ndarray, factors: dict, importance: str = "logistic", seed: int = 0, bins: int = BINS) -> dict:
    """DCI and MIG of one code space: {"dci_disentanglement", "dci_completeness", "dci_informativeness", "mig",
    "dims", and per-factor detail}."""
    out = dci(codes, factors, importance, seed)
    out.update(mig(codes, factors, bins))
    out["dims"] = int(np.asarray(codes).reshape(len(codes), -1).shape[1])
    return out
