"""A trial's explanation quality, cheap enough to score every trial (issue 16, part 2).

``--objectives accuracy,faithfulness`` makes it an objective (maximised); ``--min-faithfulness
X`` a constraint (Optuna's ``constraints_func``: the samplers learn where the feasible region
is, and the winner is chosen among feasible trials).

The score uses only checks that issue 12 made right, on a fixed subset of the validation split
(:data:`EXAMPLES` rows chosen by the seed alone, so every trial of a search is scored on the same
rows):

- integrated gradients (Captum, :data:`IG_STEPS` steps, the zero baseline: the standardized
  inputs' train mean) of the predicted class (output 0 for regression);
- deletion and insertion (Petsiuk et al., 2018): removing / restoring the input elements in
  attribution order against a random order; each gap is in units of the mean
  ``|f(x) - f(baseline)|``, 0 for an order no better than random;
- the score is the mean of the two gaps, **gated** twice: by cascading randomisation (Adebayo
  et al., 2018, on the elements off the baseline, signed; on the first :data:`GATE_ROWS` of the
  scored rows, since it re-explains them once per layer): when the attributions survive the
  re-initialisation of every layer (the check fails), they do not depend on what the model
  learned, and the score is 0; and by the size of the output change itself: when the explained
  output moves by less than :data:`MIN_SPAN` on average between the inputs and the baseline
  (a model near chance), there is nothing to explain and dividing by that change would inflate
  the gaps (measured: untrained transformers scored up to 1.8 against 0.3-0.6 for trained
  CNNs), so the score is 0.

Its cost is recorded on the trial (``faithfulness_seconds``) next to the training time.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from nas.data.taskdata import TaskData

EXAMPLES = 64  # validation rows scored (fixed by the seed)
IG_STEPS = 16  # integrated-gradients steps (Gauss-Legendre): enough to rank the elements
CURVE_STEPS = 10  # deletion / insertion points
#: The scored rows the randomisation gate re-explains once per layer (its cost; the gate asks
#: only whether the attributions depend on the weights, which 16 rows answer).
GATE_ROWS = 16
#: The least mean |f(x) - f(baseline)| (the predicted class's probability; a regressor's
#: standardized output) for which the score is defined.
MIN_SPAN = 0.1
NAME = "faithfulness"
#: The user attributes a scored trial carries.
ATTRS = ("faithfulness", "faithfulness_deletion", "faithfulness_insertion",
         "faithfulness_randomisation", "faithfulness_seconds")  # fmt: skip


def scored_rows(n_val: int, seed: int) -> np.ndarray:
    """The validation rows every trial of a search is scored on (sorted; seed alone)."""
    k = min(EXAMPLES, n_val)
    return np.sort(np.random.default_rng(seed + 16_001).choice(n_val, k, replace=False))


def faithfulness_score(model: torch.nn.Module, data: TaskData, seed: int = 0) -> dict[str, Any]:
    """The score of ``model`` (trained) and its parts, as the trial's user attributes."""
    from explain.attribution import attribute
    from explain.faithfulness import deletion_insertion
    from explain.randomisation import randomisation_check

    start = time.perf_counter()
    rows = torch.as_tensor(scored_rows(len(data.val), seed))
    p0 = next(model.parameters())
    X = data.val.X[rows].to(p0.device, p0.dtype)
    task = data.task
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(X)
        targets = out.argmax(1) if task == "classification" else torch.zeros(len(X)).long()

        def ig(m: torch.nn.Module, x: torch.Tensor, t: torch.Tensor) -> Any:
            return attribute(m, x, "integrated_gradients", t, "zeros", task=task,
                             n_steps=IG_STEPS).values  # fmt: skip

        values = ig(model, X, targets)
        deletion, insertion = deletion_insertion(
            model, X, values, targets, None, method="integrated_gradients", task=task,
            steps=CURVE_STEPS, seed=seed,
        )  # fmt: skip
        g = slice(0, GATE_ROWS)
        rnd = randomisation_check(model, X[g], targets[g], ig, None,
                                  method="integrated_gradients", seed=seed,
                                  repeat=False)  # fmt: skip
    finally:
        model.train(was_training)
    gaps = [c.extra.get("gap") for c in (deletion, insertion)]
    gaps = [float(g) for g in gaps if g is not None and np.isfinite(g)]
    mean_gap = float(np.mean(gaps)) if gaps else 0.0
    span = deletion.extra.get("span")
    span = float(span) if span is not None and np.isfinite(span) else 0.0
    if span < MIN_SPAN:
        gate = f"output change {span:.3g} < {MIN_SPAN}: score 0"
    elif rnd.status == "fail":
        gate = "failed randomisation: score 0"
    else:
        gate = rnd.status
    return {
        "faithfulness": mean_gap if gate == rnd.status else 0.0,
        "faithfulness_deletion": gaps[0] if len(gaps) > 0 else None,
        "faithfulness_insertion": gaps[1] if len(gaps) > 1 else None,
        "faithfulness_randomisation": rnd.value,
        "faithfulness_span": span,
        "faithfulness_gate": gate,
        "faithfulness_seconds": time.perf_counter() - start,
    }


__all__ = [
    "ATTRS",
    "EXAMPLES",
    "GATE_ROWS",
    "IG_STEPS",
    "MIN_SPAN",
    "NAME",
    "faithfulness_score",
    "scored_rows",
]
