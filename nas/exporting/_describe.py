"""``preprocessing.json``: how to feed an exported model and read its output, written beside
it. The run's recorded preprocessing (fitted on the training split) is copied verbatim; the
``steps`` say in words how to apply it, in order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nas.data.transform import OTHER
from nas.exporting._target import Exportable

KIND = "nas-export-preprocessing"  # marks the file as nas's (it may overwrite only its own)
VERSION = 1
_LAYOUT = {
    "tabular": "(batch, features)",
    "sequence": "(batch, steps, features)",
    "image": "(batch, channels, height, width)",
}


def describe(target: Exportable, data_info: Mapping[str, Any]) -> dict[str, Any]:
    """The content of ``preprocessing.json`` for ``target`` of a run with ``data_info``
    (``SearchConfig.data_info``: the data's description, its preprocessing included)."""
    prep = dict(data_info.get("preprocessing") or {})
    classes = list(data_info.get("class_names") or [])
    shapes = target.shapes()
    if target.task == "generation":
        inputs = [{"name": "z", "dtype": "float32", "shape": shapes["z"],
                   "meaning": "noise: every value drawn from N(0, 1)"}]  # fmt: skip
        if "y_onehot" in shapes:
            inputs.append({"name": "y_onehot", "dtype": "float32", "shape": shapes["y_onehot"],
                           "meaning": "the class to generate, one-hot in class_names order",
                           "class_names": classes})  # fmt: skip
        steps = ["Draw z from N(0, 1); for a conditional GAN, one-hot the wanted class."]
    else:
        inputs = [{"name": "x", "dtype": "float32", "shape": shapes["x"],
                   "layout": _LAYOUT.get(str(data_info.get("modality")), "(batch, ...)"),
                   "feature_names": list(data_info.get("feature_names") or [])}]  # fmt: skip
        steps = [*_input_steps(prep), f"Feed the rows as float32 of shape {shapes['x']} (in "
                 "feature_names order; channels for images) as input 'x'."]  # fmt: skip
    return {
        "kind": KIND,
        "version": VERSION,
        "about": "How to feed the model exported by `nas export` and read its output. The "
        "preprocessing was fitted on the run's training split; it is not part of the "
        "exported graph.",
        "family": target.family,
        "architecture": target.summary,
        "task": target.task,
        "inputs": inputs,
        "output": _output(target, prep, classes),
        "steps": steps,
        "preprocessing": prep,
    }


def _input_steps(prep: Mapping[str, Any]) -> list[str]:
    if "transform" in prep:  # a CSV's columns: the one record every reader of new rows applies
        return [
            "Build the model's input from the columns preprocessing.transform.columns names, "
            "in that order, their cells read as nas reads a CSV/TSV file. Each cell is read "
            "stripped of the white space around it (' red ' is 'red'); it is missing when "
            "nothing is left, or when it is '?' or one of pandas' missing-value words (NA, NaN, "
            "N/A, null, ...: pandas.read_csv's defaults; ' NA ' is missing too). In a file "
            "not separated by commas (semicolons, tabs, pipes), a numeric column's decimal "
            "comma is a point ('1,5' is 1.5). A "
            "numeric column (preprocessing.transform.numeric[column]): fill a "
            "missing value with its median, then (value - mean) / std. A text column "
            "(preprocessing.transform.categorical[column]): fill a missing value with its "
            "fill, then one 0/1 feature per entry of its categories, in that order, and when "
            "its other list is not empty one more, last, set to 1 for any value that list "
            f"holds ('{OTHER}', rare categories); a value in neither list sets that last "
            "feature to 1 too when there is one (the other list is not empty) and the column's "
            "unseen_to_other is true, and otherwise sets all its features to 0. "
            "inputs[0].feature_names names the features this gives, in order."
        ]
    steps = []
    if "imputation" in prep:
        steps.append("Fill missing values per column as preprocessing.imputation records.")
    if "encoding" in prep:
        steps.append("One-hot encode the text columns as preprocessing.encoding records.")
    scaling = prep.get("inputs") or {}
    method = str(scaling.get("method", ""))
    if method.startswith("standardize"):
        which = "the columns preprocessing.inputs.columns names" if "columns" in scaling else (
            f"each {scaling.get('per', 'feature')}")  # fmt: skip
        steps.append(f"Standardize {which}: (value - mean) / std, with preprocessing.inputs."
                     "mean and .std in that order.")  # fmt: skip
    elif method == "scale":
        steps.append(f"Divide every value by {scaling.get('divisor')} "
                     "(preprocessing.inputs.divisor).")  # fmt: skip
    return steps


def _output(target: Exportable, prep: Mapping[str, Any], classes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": target.output, "dtype": "float32",
                           "shape": ["batch", *target.output_shape]}  # fmt: skip
    if target.task == "classification":
        out["class_names"] = classes
        out["meaning"] = ("unnormalized class scores in class_names order: softmax gives the "
                          "probabilities, argmax the predicted class")  # fmt: skip
    elif target.task == "regression":
        out["meaning"] = (
            "predicted targets in standardized units: multiply by preprocessing.y_std and add "
            "preprocessing.y_mean for the target's own units"
            if "y_mean" in prep else "predicted targets"
        )  # fmt: skip
    else:
        out["meaning"] = ("generated examples in the preprocessed units of the training data: "
                          "undo preprocessing.inputs (value * std + mean, or value * divisor) "
                          "for the original units")  # fmt: skip
    return out


__all__ = ["KIND", "VERSION", "describe"]
