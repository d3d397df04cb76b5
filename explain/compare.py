"""Explanations of several models compared: do they look at the same evidence?

The models were explained on the same examples with the same methods; here each one's
attributions reduce to one value per unit (feature, time step or pixel: the unit a reader
ranks), and two models agree as far as they rank those units alike: Spearman's rho with each
unit weighted by its share of the two maps (:func:`rank_agreement`), so that the units that
carry the evidence decide it, not the chance order of those that carry almost none. Two numbers
per pair of models and method:

- ``global``: rho between their global maps (mean |attribution| per unit over the examples);
- ``local``: the mean over examples of rho between their |attribution| per unit on that example.

Magnitudes, not signs: two models that explain different outputs (each its own predicted class)
still look at the same evidence when they rank the same inputs high. Pure functions of
:class:`~explain.record.Explanations` records; nothing here knows of the search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from explain._checks import rank_agreement
from explain.errors import ExplainError
from explain.record import Explanations
from explain.views import reduce_to_units

#: The method compared, in order of preference, when every model has it.
PREFERRED = ("integrated_gradients", "deeplift", "gradient_shap", "saliency")
_UNIT = {1: "feature", 2: "step", 3: "pixel"}
#: How a global rho reads, from the top (the sentence the report shows).
READINGS = (
    (0.7, "it looks at mostly the same evidence"),
    (0.4, "it shares part of the evidence, ranked differently"),
    (-1.01, "it relies on different evidence"),
)


def unit_maps(values: np.ndarray) -> np.ndarray:
    """``(N, *input_shape)`` attributions as ``(N, units)``: |attribution| per feature, per time
    step (summed over features) or per pixel (summed over channels), flattened."""
    a = reduce_to_units(np.abs(np.asarray(values, dtype=np.float64)))
    return a.reshape(len(a), -1)


def global_map(exp: Explanations, method: str) -> np.ndarray:
    """Mean |attribution| per unit over the explained examples, flattened."""
    return unit_maps(_values(exp, method)).mean(axis=0)


def local_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over examples of rho between two ``(N, units)`` maps (examples where either map
    is constant are left out; NaN when all are)."""
    rhos = [rank_agreement(x, y) for x, y in zip(a, b, strict=True)]
    finite = [r for r in rhos if np.isfinite(r)]
    return float(np.mean(finite)) if finite else float("nan")


def common_method(explanations: Sequence[Explanations]) -> str | None:
    """The method every model was explained with, :data:`PREFERRED` first, else the first
    shared one in the first model's order; None when they share none."""
    shared = shared_methods(explanations)
    return next((m for m in PREFERRED if m in shared), shared[0] if shared else None)


def shared_methods(explanations: Sequence[Explanations]) -> list[str]:
    """The methods every model was explained with, in the first model's order."""
    first, rest = explanations[0], explanations[1:]
    return [m for m in first.attributions if all(m in e.attributions for e in rest)]


def check_same_examples(explanations: Sequence[Explanations]) -> None:
    """An ExplainError unless every model was explained on the same inputs."""
    first = explanations[0].X
    for i, e in enumerate(explanations[1:], start=2):
        if e.X.shape != first.shape or not np.array_equal(e.X, first):
            raise ExplainError(
                f"Model {i} was explained on other examples than model 1 ({e.X.shape} vs "
                f"{first.shape}); explain every model with the same samples to compare them."
            )


def verdicts(exp: Explanations) -> dict[str, str]:
    """Each method's verdict over its quality checks (agreement between methods left out):
    ``fail`` if one failed, else ``warn``, else ``pass``; ``unchecked`` when none ran."""
    seen: dict[str, set[str]] = {m: set() for m in exp.attributions}
    for c in exp.checks:
        if c.name != "agreement":
            seen.setdefault(c.method, set()).add(c.status)
    return {
        m: next((s for s in ("fail", "warn", "pass") if s in statuses), "unchecked")
        for m, statuses in seen.items()
    }


def agreement_matrices(
    explanations: Sequence[Explanations], method: str
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(K, K)`` global and local agreement between every pair of models (1 on the
    diagonal, symmetric)."""
    check_same_examples(explanations)
    maps = [unit_maps(_values(e, method)) for e in explanations]
    k = len(maps)
    glob, loc = np.eye(k), np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            glob[i, j] = glob[j, i] = rank_agreement(maps[i].mean(0), maps[j].mean(0))
            loc[i, j] = loc[j, i] = local_agreement(maps[i], maps[j])
    return glob, loc


def family_agreement(families: Sequence[str], matrix: np.ndarray) -> dict[str, Any]:
    """``matrix`` (between models) averaged per pair of families, over pairs of distinct
    models: ``names``, ``values`` (NaN where no pair exists, e.g. a family of one model with
    itself) and ``pairs`` (how many model pairs each mean is of)."""
    names = list(dict.fromkeys(str(f) for f in families))
    n = len(names)
    sums, counts = np.zeros((n, n)), np.zeros((n, n), dtype=int)
    for i in range(len(families)):
        for j in range(i + 1, len(families)):
            if not np.isfinite(matrix[i, j]):
                continue
            a, b = names.index(str(families[i])), names.index(str(families[j]))
            for x, y in {(a, b), (b, a)}:
                sums[x, y] += matrix[i, j]
                counts[x, y] += 1
    with np.errstate(invalid="ignore"):
        values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return {"names": names, "values": values, "pairs": counts}


def compare(
    explanations: Sequence[Explanations],
    models: Sequence[Mapping[str, Any]],
    method: str | None = None,
) -> dict[str, Any]:
    """The comparison of ``explanations`` (one per model, in the order of ``models``, whose
    records such as rank, family, params and test metric are copied through): the method
    compared, per model its verdicts and global map, the pairwise agreement matrices and
    their means per pair of families. JSON-able (NaN stays NaN: the caller's writer nulls it).
    """
    if len(explanations) != len(models) or not explanations:
        raise ExplainError(
            f"compare needs one record per explanation, got {len(models)} for "
            f"{len(explanations)} explanations."
        )
    method = method or common_method(explanations)
    if method is None:
        raise ExplainError(
            "The models share no explanation method; explain them with the same methods."
        )
    glob, loc = agreement_matrices(explanations, method)
    families = [str(m.get("family") or "?") for m in models]
    first = explanations[0]
    rows = []
    for exp, model in zip(explanations, models, strict=True):
        glob_map = np.round(global_map(exp, method), 6).tolist()
        rows.append({**model, "checks": verdicts(exp), "global": glob_map})
    fam_g = family_agreement(families, glob)
    fam_l = family_agreement(families, loc)
    return {
        "method": method,
        "methods": shared_methods(explanations),
        "unit": _UNIT.get(len(first.input_shape), "feature"),
        "modality": first.modality,
        "input_shape": list(first.input_shape),
        "feature_names": list(first.feature_names),
        "n_examples": int(len(first.X)),
        "models": rows,
        "agreement": {"global": _listed(glob), "local": _listed(loc)},
        "families": {
            "names": fam_g["names"],
            "global": _listed(fam_g["values"]),
            "local": _listed(fam_l["values"]),
            "pairs": fam_g["pairs"].tolist(),
        },
    }


def reading(rho: float) -> str:
    """What a global rho between two models says, in words."""
    if not np.isfinite(rho):
        return "one of the maps is constant, so there is no ranking to compare"
    return next(text for floor, text in READINGS if rho >= floor)


def question_pair(params: Sequence[float | None]) -> tuple[int, int] | None:
    """The two models that answer "does the smaller model look at the same evidence as the
    bigger one?": the smallest (fewest parameters; the lower-ranked on ties; an unknown size is
    never the smallest) and the winner (index 0), or the largest other model when the smallest
    is the winner. None with fewer than two models."""
    if len(params) < 2:
        return None
    size = [float(p) if p is not None and np.isfinite(p) else np.inf for p in params]
    small = min(range(len(size)), key=lambda i: (size[i], -i))
    if small != 0:
        return small, 0
    known = [(s if np.isfinite(s) else -np.inf) for s in size]
    return small, max(range(1, len(size)), key=lambda i: (known[i], -i))


def answer(comparison: Mapping[str, Any]) -> dict[str, Any] | None:
    """The question's answer from a :func:`compare` result: which two models (indices
    ``small`` and ``other``), their global ``rho`` and one ``sentence``; None with one model."""
    models = list(comparison.get("models") or [])
    pair = question_pair([m.get("params") for m in models])
    if pair is None:
        return None
    small, other = pair
    raw = comparison["agreement"]["global"][small][other]
    rho = float("nan") if raw is None else float(raw)
    a, b = models[small], models[other]
    whom = "the winner" if other == 0 else "the largest model"
    shown = "undefined" if not np.isfinite(rho) else f"{rho:.2f}"
    sentence = (
        f"The smallest model (#{a.get('rank')}, {a.get('family')}, {_size(a.get('params'))} "
        f"params{_scored(a)}) {_verb(rho)} {whom} (#{b.get('rank')}, {_size(b.get('params'))} "
        f"params{_scored(b)}) at \u03c1 = {shown} on the global map of "
        f"{comparison.get('method')}: {reading(rho)}."
    )
    return {"small": small, "other": other, "rho": rho, "sentence": sentence}


def _verb(rho: float) -> str:
    """How the smaller model stands to the other, by the value of their rho: a negative one
    ranks the evidence against the other's, which is no agreement."""
    if not np.isfinite(rho):
        return "cannot be ranked against"
    if rho >= READINGS[0][0]:
        return "agrees with"
    if rho >= READINGS[1][0]:
        return "partly agrees with"
    return "barely agrees with" if rho > 0 else "disagrees with"


def _scored(model: Mapping[str, Any]) -> str:
    """ ", test accuracy 0.4815": how good a model is, beside how alike its evidence is (a
    small model that shares the winner's evidence may still be no better than chance)."""
    test, metric = model.get("test"), model.get("metric")
    if not isinstance(test, int | float) or not np.isfinite(test) or not metric:
        return ""
    return f", test {metric} {test:.4g}"


def _size(n: Any) -> str:
    if not isinstance(n, int | float) or not np.isfinite(n):
        return "?"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.0f}"


def _listed(m: np.ndarray) -> list[list[float]]:
    return [[round(float(v), 6) for v in row] for row in m]


def _values(exp: Explanations, method: str) -> np.ndarray:
    a = exp.attributions.get(method)
    if a is None:
        raise ExplainError(
            f"No {method!r} attributions to compare; explained with: "
            f"{', '.join(exp.attributions) or 'none'}."
        )
    return a.values


__all__ = [
    "PREFERRED",
    "agreement_matrices",
    "answer",
    "check_same_examples",
    "common_method",
    "compare",
    "family_agreement",
    "global_map",
    "local_agreement",
    "question_pair",
    "rank_agreement",
    "reading",
    "shared_methods",
    "unit_maps",
    "verdicts",
]
