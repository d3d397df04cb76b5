"""The view model of the winner section: architecture, learning curves, evaluation plots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from explain.report import plots, winner_plots
from explain.report._format import fmt_num, fmt_seconds
from explain.report.decision import metric_label
from explain.report.schema import ReportData
from explain.report.sections import Figures, mapping, panel


def winner(data: ReportData, figs: Figures) -> dict[str, Any]:
    """Architecture, learning curves, confusion / ROC or residuals, per-class metrics."""
    run, best = mapping(data, "run"), mapping(data, "best")
    info = run.get("data_info") if isinstance(run.get("data_info"), Mapping) else {}
    metric = str(run.get("metric") or "metric")
    test = mapping(best, "test")
    regression = (run.get("task") or info.get("task")) == "regression"
    is_gan = isinstance(data.get("gan"), Mapping)  # scored in the GAN section: no ROC here
    stages = [s for s in data.get("stages") or [] if isinstance(s, Mapping)]
    retrain = mapping(best, "retrain")
    curves = figs.add(
        "curves",
        lambda: winner_plots.curves_figure(
            best.get("search_curve"), retrain.get("history"), metric
        ),
    )
    panels = [
        panel(
            "Learning curves",
            "Loss per epoch (left axis) and the validation metric "
            "(right); a widening gap between train and validation loss is over-fitting.",
            curves,
            "No learning curve was recorded.",
        )
    ]
    if is_gan:
        panels[0]["note"] = "A GAN's training curves are in the GAN section."
    if regression:
        res = mapping(data, "residuals")
        panels[0]["wide"] = True  # the residual plot needs the width: curves get it too
        panels.append(
            panel(
                "Residuals",
                "Left: points on the dashed line are perfect; right: "
                "residuals should scatter evenly around 0 with no trend.",
                figs.add(
                    "residuals",
                    lambda: winner_plots.residual_figure(
                        res.get("y_true"),
                        res.get("y_pred"),
                        str(info.get("target_name") or "target"),
                    ),
                ),
                "No test predictions were saved, so residuals cannot be drawn.",
                wide=True,
            )
        )
    elif not is_gan:
        classes = list(info.get("class_names") or [])
        panels += [
            panel(
                "Confusion matrix",
                "Rows are true classes, columns predictions; the diagonal"
                " is right, off-diagonal cells show which classes are confused.",
                figs.add(
                    "confusion",
                    lambda: winner_plots.confusion_figure(
                        test.get("confusion_matrix") or [], classes
                    ),
                ),
                "No confusion matrix was recorded.",
            ),
            panel(
                "ROC curves",
                "One-vs-rest on the test set: curves towards the top-left "
                "corner and AUC near 1 separate the class well; the diagonal is chance.",
                figs.add("roc", lambda: winner_plots.roc_figure(data.get("roc"))),
                "No ROC curves: the test predictions were not saved.",
            ),
        ]
    per_class = [
        {
            "class": c.get("class"),
            **{k: fmt_num(c.get(k), 3) for k in ("precision", "recall", "f1", "support")},
        }
        if c.get("support") != 0
        else {  # not in the test split: untested, not "never right" (scikit-learn's 0s); a
            # precision is measured where the model gave the class test rows anyway
            "class": c.get("class"),
            "precision": fmt_num(c.get("precision"), 3) if (c.get("predicted") or 0) > 0 else "–",
            "recall": "–",
            "f1": "–",
            "support": "0: untested"
            + (f" ({c['predicted']} predicted)" if (c.get("predicted") or 0) > 0 else ""),
        }  # fmt: skip
        for c in test.get("per_class") or []
        if isinstance(c, Mapping)
    ]
    return {
        "stages": [
            {
                **s,
                "n_params_s": fmt_num(s.get("n_params")),
                "params_s": ", ".join(
                    f"{k}={fmt_num(v, 4) if isinstance(v, float) else v}"
                    for k, v in (s.get("params") or {}).items()
                ),
            }
            for s in stages
        ],
        "input_shape": stages[0].get("shape_in") if stages else None,
        "summary": best.get("summary"),
        "panels": panels,
        "per_class": per_class,
        "regression": regression or is_gan,
        "retrain": [
            ("epochs", fmt_num(retrain.get("epochs"))),
            ("time", fmt_seconds(retrain.get("seconds"))),
        ]
        if retrain
        else [],
        "val": [
            (metric_label(k), fmt_num(v))
            for k, v in mapping(best, "val").items()
            if plots.is_number(v)
        ],  # fmt: skip
    }
