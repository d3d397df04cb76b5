"""Realistic report dicts (explain/report/SCHEMA.md) for the renderer's tests.

One per kind of run: tabular classification, image classification (a CNN with an adapter),
sequence classification (a transformer, with attention maps) and a two-objective regression;
plus a bare run with nothing but ``run`` and a tabular run whose user strings are hostile HTML.
Deterministic: every builder seeds its own generator.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

# Test data reads best as compact tables; the formatter would put every key on its own line.
# fmt: off
XSS_FEATURE = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_CLASS = "</script><b>bold</b>"
XSS_STRINGS = (XSS_FEATURE, XSS_IMG, XSS_CLASS)

_MEASURES = ["radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
             "concave points", "symmetry", "fractal dimension"]
BREAST = [f"mean {m}" for m in _MEASURES] + [f"{m} {k}" for m in _MEASURES
                                             for k in ("error", "worst")]
DIABETES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
MINIMIZED = ("rmse", "mae", "params", "latency_ms")
REASONS = {"over_budget": "params 250,112 > max_params 200,000",
           "failed": "RuntimeError: CUDA out of memory", "pruned": "pruned at epoch 3"}


def r(x: Any, digits: int = 4) -> Any:
    """Round arrays to lists (what a JSON round trip would give)."""
    return np.round(np.asarray(x, dtype=float), digits).tolist()


def stage(name: str, kind: str, shape_in: str, shape_out: str, n_params: int,
          inserted: bool = False, **params: Any) -> dict[str, Any]:
    """One row of ``stages``."""
    return {"name": name, "kind": kind, "inserted": inserted, "shape_in": shape_in,
            "shape_out": shape_out, "params": params, "n_params": n_params}


def _run(dataset: str, task: str, modality: str, shape: list[int], outputs: int,
         features: list[str], classes: list[str], metric: str,
         objectives: list[str] | None = None) -> dict[str, Any]:
    objectives = objectives or [metric]
    info = {"name": dataset, "task": task, "modality": modality, "input_shape": shape,
            "output_size": outputs, "sizes": {"train": 1257, "val": 270, "test": 270},
            "feature_names": features, "class_names": classes,
            "target_name": "progression" if task == "regression" else "label",
            "preprocessing": {"inputs": {"method": "standardize", "fitted_on": "train"}}}
    return {
        "study": f"{dataset}-auto", "storage": f"sqlite:///runs/{dataset}/study.db",
        "dataset": dataset, "data": None, "target": None, "task": task, "seed": 7,
        "space_name": "auto",
        "space": {"space": "auto", "source": "built-in", "dims": {"fnn.units": {"choices": [32]}}},
        "budget": {"max_params": 200_000, "max_flops": None, "max_latency_ms": 5.0,
                   "max_memory_mb": None},
        "metric": metric, "objectives": objectives,
        "directions": ["minimize" if o in MINIMIZED else "maximize" for o in objectives],
        "epochs": 20, "sampler": "tpe", "pruner": "hyperband",
        "command": f"nas search --dataset {dataset} --space auto --trials 40 --seed 7",
        "versions": {"nas": "0.1.0", "python": "3.11.7", "torch": "2.13.0+cpu",
                     "optuna": "4.5.0"},
        "data_info": info,
    }


def _trials(rng: np.random.Generator, n: int, families: list[str], maximize: bool,
            base: float) -> list[dict[str, Any]]:
    out, t, states = [], 0.0, ["complete"] * 8 + ["pruned", "over_budget"]
    for i in range(n):
        state = "failed" if i == 5 else str(rng.choice(states))
        params = int(10 ** rng.uniform(3, 5.2)) if state != "over_budget" else 250_112
        gain = (1 - np.exp(-i / 8)) * 0.1 + rng.normal(0, 0.02)
        metric = round(float(min(base + gain, 0.995) if maximize else base * (1 - gain)), 4)
        done = state == "complete"
        secs = float(rng.uniform(2, 12)) if state != "over_budget" else 0.01
        out.append({
            "number": i, "state": state, "family": families[i % len(families)],
            "params": params, "flops": params * int(rng.integers(2, 40)),
            "latency_ms": round(float(params / 4e4 * rng.uniform(0.5, 2)), 4),
            "memory_mb": round(params * 4 / 1e6, 4), "metric": metric if done else None,
            "values": [metric] if done else [], "seconds": round(secs, 2),
            "epochs": 20 if done else 3, "reason": REASONS.get(state),
            "start_s": round(t, 2), "end_s": round(t + secs, 2),
        })
        t += secs
    return out


def _history(rng: np.random.Generator, epochs: int, top: float, val: bool = True) -> list:
    """A learning curve; the final retraining (on train + val) has no validation columns."""
    rows = []
    for e in range(1, epochs + 1):
        train = 2.0 * np.exp(-e / 5) + 0.05
        metric = top * (1 - np.exp(-e / 4)) if top < 1 else top * (1 + np.exp(-e / 4))
        rows.append({"epoch": e, "train_loss": round(float(train), 4),
                     "val_loss": round(float(train * 1.1 + 0.02 * e / epochs), 4) if val else None,
                     "val_metric": round(float(metric), 4) if val else None,
                     "lr": 1e-3, "seconds": round(float(rng.uniform(0.2, 0.5)), 3)})
    return rows


def _best(rng: np.random.Generator, trials: list[dict[str, Any]], maximize: bool, metric: str,
          summary: str, test: dict[str, Any]) -> dict[str, Any]:
    done = [t for t in trials if t["state"] == "complete"]
    win = (max if maximize else min)(done, key=lambda t: t["metric"])
    win["family"] = summary.split(":")[0]  # the winner's family is the one its summary names
    cost = {"params": win["params"], "trainable_params": win["params"], "flops": win["flops"],
            "latency_ms": win["latency_ms"], "latency_ms_batch": win["latency_ms"] * 40,
            "batch_size": 256, "memory_mb": win["memory_mb"], "energy_mj": 0.02, "device": "cpu"}
    return {
        "rank": 1, "trial": win["number"], "family": win["family"], "metric": metric,
        "summary": summary, "test": test, "val": {metric: win["metric"]},
        "objectives": {metric: win["metric"]}, "cost": cost,
        "retrain": {"epochs": 20, "seconds": 31.5, "history": _history(rng, 20, 0.95, False)},
        "search_curve": _history(rng, 20, win["metric"]),
    }


def _classification_test(rng: np.random.Generator, classes: list[str]) -> dict[str, Any]:
    k = len(classes)
    cm = rng.integers(0, 4, size=(k, k)) + np.diag(rng.integers(20, 40, size=k))
    per = [{"class": c, **{m: round(float(rng.uniform(0.8, 1)), 4)
                           for m in ("precision", "recall", "f1")}, "support": int(cm[i].sum())}
           for i, c in enumerate(classes)]
    return {"accuracy": 0.9481, "balanced_accuracy": 0.9412, "precision": 0.9466,
            "recall": 0.9412, "f1": 0.9437, "roc_auc": 0.9921, "log_loss": 0.1733,
            "confusion_matrix": cm.tolist(), "per_class": per}


def _roc(rng: np.random.Generator, classes: list[str]) -> list[dict[str, Any]]:
    out = []
    for c in classes:
        fpr = np.sort(np.concatenate([[0, 1], rng.uniform(0, 1, 40)]))
        tpr = np.clip(fpr ** rng.uniform(0.05, 0.3), 0, 1)
        auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
        out.append({"class": c, "fpr": r(fpr), "tpr": r(tpr), "auc": round(auc, 4)})
    return out


def _check(name: str, method: str, value: float, status: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "method": method, "value": value, "threshold": 0.1, "status": status,
            "detail": f"{name} of {method}: one line on what the number means.", "extra": extra}


def _checks(rng: np.random.Generator, methods: list[str]) -> tuple[list, list]:
    checks, frac = [], np.linspace(0, 1, 21)
    for m in methods:
        for name, status in (("completeness", "pass"), ("infidelity", "warn"),
                             ("sensitivity", "pass"), ("randomisation", "pass")):
            if m == methods[-1] and name == "randomisation":
                status = "fail"
            checks.append(_check(name, m, round(float(rng.uniform(0, 0.2)), 4), status))
        for name, sign in (("deletion", -1), ("insertion", 1)):
            curve = 0.5 + sign * (0.45 * (1 - np.exp(-5 * frac)) - 0.45 * (sign > 0))
            rand = 0.5 + sign * (0.45 * frac - 0.45 * (sign > 0))
            checks.append(_check(name, m, 0.2, "pass", fractions=r(frac), curve=r(curve),
                                 random_curve=r(rand)))
    agreement = [_check("agreement", f"{a} vs {b}", round(float(rng.uniform(0.3, 0.9)), 3),
                        "pass") for i, a in enumerate(methods) for b in methods[i + 1:]]
    return checks, agreement


def _explanations(rng: np.random.Generator, modality: str, shape: list[int],
                  features: list[str], classes: list[str], methods: list[str],
                  n_local: int) -> dict[str, Any]:
    def field() -> np.ndarray:  # importance rising along the input, plus noise
        ramp = np.linspace(0.2, 1.5, int(np.prod(shape))).reshape(shape)
        return np.abs(rng.normal(0, 1, shape)) * ramp

    cats = (["correct", "misclassified", "confident", "uncertain"] if classes
            else ["low_error", "high_error"])
    local = []
    for i in range(n_local):
        label = classes[i % len(classes)] if classes else round(float(rng.normal(150, 50)), 1)
        pred = classes[(i + 1) % len(classes)] if classes and i % 4 == 1 else label
        local.append({
            "index": i * 7, "category": cats[i % len(cats)], "label": label, "predicted": pred,
            "probability": round(float(rng.uniform(0.4, 1)), 3) if classes else None,
            "input": r(rng.normal(0, 1, shape), 3),
            "attributions": {m: r(rng.normal(0, 1, shape) * field()) for m in methods},
        })
    checks, agreement = _checks(rng, methods)
    return {
        "modality": modality, "input_shape": shape, "feature_names": features,
        "class_names": classes,
        "methods": [{"method": m, "chosen": i == 0, "reason": f"{m}: fits a {modality} model"}
                    for i, m in enumerate(methods)],
        "global": {m: {"overall": r(field()), "per_class": {c: r(field()) for c in classes}}
                   for m in methods},
        "local": local, "attention": None, "shap": None, "checks": checks,
        "agreement": agreement,
        "timing": {m: round(float(rng.uniform(0.5, 9)), 2) for m in methods},
    }


def _report(run: dict[str, Any], trials: list, best: dict | None, **rest: Any) -> dict[str, Any]:
    states = ("complete", "pruned", "over_budget", "failed", "running")
    alerts = [{"level": "warn", "text": "Validation accuracy 0.97 is better than test 0.948: "
               "the search may have over-fitted the validation split."},
              {"level": "info", "text": "4 sampled architectures were over budget."}]
    return {
        "title": f"nas report: {run['study']}", "generated": "2025-05-17T10:42:00", "run": run,
        "counts": {s: sum(t["state"] == s for t in trials) for s in states}, "trials": trials,
        "importances": {"fnn.units": 0.41, "train.lr": 0.33, "fnn.dropout": 0.14,
                        "fnn.n_blocks": 0.08, "train.batch_size": 0.04},
        "pareto": None, "best": best, "top": [best] if best else None, "alerts": alerts,
        "verdict": "The search found a compact model that clearly beats the baseline; it fits "
        "the budget with room to spare.", **{"gan": None, **rest},
    }


def tabular_classification(n_local: int = 12) -> dict[str, Any]:
    """breast_cancer: an FNN winner with IG / DeepLift / SHAP, a beeswarm and checks."""
    rng = np.random.default_rng(1)
    classes = ["malignant", "benign"]
    run = _run("breast_cancer", "classification", "tabular", [30], 2, BREAST, classes,
               "accuracy")
    trials = _trials(rng, 40, ["fnn", "cnn", "rnn", "transformer"], True, 0.86)
    best = _best(rng, trials, True, "accuracy", "fnn: dense(64,gelu) > dense(32,gelu) > "
                 "classify(2) | adamw lr=0.003 bs=64", _classification_test(rng, classes))
    exp = _explanations(rng, "tabular", [30], BREAST, classes,
                        ["integrated_gradients", "deeplift", "shap_permutation"], n_local)
    inputs = rng.normal(0, 1, (150, 30))
    effect = inputs * np.linspace(1, 0.05, 30) * np.where(np.arange(30) % 3, 1, -1)
    exp["shap"] = {"method": "shap_permutation", "base_value": 0.37, "inputs": r(inputs, 3),
                   "values": r(effect + rng.normal(0, 0.1, effect.shape))}
    stages = [stage("b0_dense", "dense.v1", "vec(F=30)", "vec(F=64)", 1984, units=64,
                    activation="gelu"),
              stage("b1_dense", "dense.v1", "vec(F=64)", "vec(F=32)", 2080, units=32,
                    activation="gelu"),
              stage("head", "classify.v1", "vec(F=32)", "vec(F=2)", 66, outputs=2, hidden=0)]
    spec = {"schema_version": 1, "family": "fnn", "task": "classification",
            "modality": "tabular", "input_shape": [30], "output_size": 2,
            "blocks": [{"kind": "dense.v1", "params": {"units": 64}}],
            "head": {"kind": "classify.v1", "params": {"outputs": 2}},
            "train": {"optimizer": "adamw"}}
    return _report(run, trials, best, spec=spec, stages=stages, roc=_roc(rng, classes),
                   residuals=None, explanations=exp, model_repr="NasModel(\n  (features): ...\n)")


def image_classification(n_local: int = 12, side: int = 8) -> dict[str, Any]:
    """digits: a CNN winner (with a flatten adapter) explained by IG, occlusion, saliency."""
    rng = np.random.default_rng(2)
    classes = [str(d) for d in range(10)]
    shape, flat = [1, side, side], 32 * side * side
    run = _run("digits", "classification", "image", shape, 10, ["pixel"], classes, "accuracy")
    trials = _trials(rng, 60, ["cnn", "fnn", "transformer"], True, 0.88)
    best = _best(rng, trials, True, "accuracy", "cnn: conv2d(32,k3) > dense(64) > classify(10)",
                 _classification_test(rng, classes))
    exp = _explanations(rng, "image", shape, ["pixel"], classes,
                        ["integrated_gradients", "occlusion", "saliency"], n_local)
    grid = f"grid2d(C,H,W=32,{side},{side})"
    stages = [stage("b0_conv2d", "conv2d.v1", f"grid2d(C,H,W=1,{side},{side})", grid, 320,
                    channels=32, kernel=3),
              stage("a1_flatten", "flatten", grid, f"vec(F={flat})", 0, inserted=True),
              stage("b1_dense", "dense.v1", f"vec(F={flat})", "vec(F=64)", flat * 64 + 64,
                    units=64),
              stage("head", "classify.v1", "vec(F=64)", "vec(F=10)", 650, outputs=10)]
    return _report(run, trials, best, spec={"family": "cnn", "blocks": []}, stages=stages,
                   roc=_roc(rng, classes), residuals=None, explanations=exp, model_repr="...")


def sequence_classification(n_local: int = 8) -> dict[str, Any]:
    """mnist1d: a transformer winner with attention maps (2 layers x 4 heads x 11 tokens)."""
    rng = np.random.default_rng(3)
    classes = [f"digit {d}" for d in range(10)]
    run = _run("mnist1d", "classification", "sequence", [40, 1], 10, ["x0"], classes,
               "accuracy")
    trials = _trials(rng, 30, ["transformer", "rnn", "cnn"], True, 0.6)
    best = _best(rng, trials, True, "accuracy", "transformer: embed_steps(32,w4) > "
                 "tfm_encoder(4h,2L) > seq_pool(cls) > classify(10)",
                 _classification_test(rng, classes))
    exp = _explanations(rng, "sequence", [40, 1], ["x0"], classes,
                        ["integrated_gradients", "attention_rollout"], n_local)
    attn = rng.uniform(0, 1, (2, 4, 11, 11))
    exp["attention"] = {"layers": r(attn / attn.sum(-1, keepdims=True), 3),
                        "tokens": ["CLS"] + [f"steps {4 * i}-{4 * i + 3}" for i in range(10)]}
    seq = "seq(T,D=11,32)"
    stages = [stage("b0_embed_steps", "embed_steps.v1", "seq(T,D=40,1)", seq, 160, d_model=32,
                    cls=True, window=4),
              stage("b1_tfm_encoder", "tfm_encoder.v1", seq, seq, 17_216, heads=4, layers=2),
              stage("b2_seq_pool", "seq_pool.v1", seq, "vec(F=32)", 0, mode="cls"),
              stage("head", "classify.v1", "vec(F=32)", "vec(F=10)", 330, outputs=10)]
    return _report(run, trials, best, spec={"family": "transformer"}, stages=stages,
                   roc=_roc(rng, classes), residuals=None, explanations=exp, model_repr="...")


def regression() -> dict[str, Any]:
    """diabetes, two objectives (rmse, params): residuals, the study's Pareto front, no ROC."""
    rng = np.random.default_rng(4)
    run = _run("diabetes", "regression", "tabular", [10], 1, DIABETES, [], "rmse",
               objectives=["rmse", "params"])
    trials = _trials(rng, 35, ["fnn", "rnn"], False, 60.0)
    done = [t for t in trials if t["state"] == "complete"]
    for t in done:
        t["values"] = [t["metric"], t["params"]]
    best = _best(rng, trials, False, "rmse", "fnn: dense(32) > regress(1)",
                 {"mae": 43.1, "mse": 2988.2, "rmse": 54.66, "r2": 0.462})
    y = rng.normal(150, 70, 90)
    exp = _explanations(rng, "tabular", [10], DIABETES, [],
                        ["integrated_gradients", "deeplift"], 6)
    stages = [stage("b0_dense", "dense.v1", "vec(F=10)", "vec(F=32)", 352, units=32),
              stage("head", "regress.v1", "vec(F=32)", "vec(F=1)", 33, outputs=1)]
    front = [t["number"] for t in done if not any(  # rmse and params, both minimized
        o["metric"] <= t["metric"] and o["params"] <= t["params"] and o is not t for o in done)]
    return _report(run, trials, best, spec={"family": "fnn"}, stages=stages, roc=None,
                   residuals={"y_true": r(y), "y_pred": r(y + rng.normal(0, 50, y.size))},
                   explanations=exp, pareto=front, model_repr="...")


def bare() -> dict[str, Any]:
    """Only ``run``: every section must say what is missing."""
    return {"run": _run("iris", "classification", "tabular", [4], 3, list("abcd"),
                        ["x", "y", "z"], "accuracy")}


def hostile() -> dict[str, Any]:
    """The tabular run with HTML in feature, class, family and free-text fields."""
    data = copy.deepcopy(tabular_classification(n_local=4))
    names, classes = [XSS_FEATURE, XSS_IMG] + BREAST[2:], [XSS_CLASS, "benign"]
    data["run"]["data_info"].update(feature_names=names, class_names=classes)
    data["run"]["study"] = data["title"] = XSS_FEATURE
    data["run"]["command"] = f"nas search --data '{XSS_IMG}.csv'"
    exp = data["explanations"]
    exp.update(feature_names=names, class_names=classes)
    for m in exp["global"].values():
        m["per_class"] = dict(zip(classes, m["per_class"].values()))
    exp["methods"][0]["reason"] = XSS_IMG
    data["alerts"].append({"level": "error", "text": XSS_FEATURE})
    data["verdict"] = XSS_IMG
    data["best"]["test"]["per_class"][0]["class"] = XSS_CLASS
    data["roc"][0]["class"] = XSS_CLASS
    data["trials"][0]["family"] = XSS_IMG
    data["trials"][1]["reason"] = XSS_FEATURE
    data["importances"] = {XSS_FEATURE: 0.7, XSS_IMG: 0.3}
    data["stages"][0]["name"] = XSS_IMG
    return data


LONG_FEATURE = "A" * 190 + "_long_col"
LONG_CLASS = "🔥" + "L" * 200
RTL_FEATURE = "الدخل_السنوي"


def long_names(n_features: int = 30) -> dict[str, Any]:
    """The tabular run with a 199-character feature name, a 201-character class label and an
    Arabic feature name (/tmp/oB4's names.csv), and ``n_features`` features in all."""
    data = copy.deepcopy(tabular_classification(n_local=4))
    names = [LONG_FEATURE, RTL_FEATURE] + [f"f{i:03d}" for i in range(2, n_features)]
    classes = [LONG_CLASS, "benign"]
    data["run"]["data_info"].update(feature_names=names, class_names=classes)
    exp = data["explanations"]
    exp.update(feature_names=names, class_names=classes)
    rng = np.random.default_rng(5)
    for m in exp["global"].values():
        m["overall"] = r(np.abs(rng.normal(0, 1, n_features)) + np.linspace(2, 0, n_features))
        m["per_class"] = {c: r(np.abs(rng.normal(0, 1, n_features))) for c in classes}
    for item in exp["local"]:
        item["input"] = r(rng.normal(0, 1, n_features), 3)
        item["attributions"] = {m: r(rng.normal(0, 1, n_features) * np.linspace(3, 0.1, n_features))
                                for m in item["attributions"]}
        item.update(label=classes[item["index"] % 2], predicted=classes[item["index"] % 2])
        item["base_values"] = {m: 0.1 for m in item["attributions"]}
        item["output_value"] = 1.5
    inputs = rng.normal(0, 1, (60, n_features))
    exp["shap"] = {"method": "shap_permutation", "base_value": 0.37, "inputs": r(inputs, 3),
                   "values": r(inputs * np.linspace(1, 0.05, n_features))}
    exp["methods"][0]["reason"] = "x" * 300  # one long word in the Methods table
    for c in exp["checks"]:  # the SHAP method passes, so that its beeswarm is drawn
        c["status"] = "pass" if c["method"] == "shap_permutation" else c["status"]
    data["best"]["test"]["per_class"][0]["class"] = LONG_CLASS
    data["roc"][0]["class"] = LONG_CLASS
    return data


def _gan_sample(rng: np.random.Generator, modality: str, shape: list[int], c: int,
                noise: float) -> np.ndarray:
    if modality == "image":  # a blob whose position depends on the class
        h, w = shape[1:]
        yy, xx = np.mgrid[:h, :w]
        cy, cx = 1 + (c * 3) % (h - 2), 1 + (c * 5) % (w - 2)
        img = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 3.0)
        return np.clip(img[None] + rng.normal(0, noise, shape), 0, 1)
    if modality == "sequence":
        t = np.linspace(0, 1, shape[0])[:, None]
        return np.sin(2 * np.pi * (c + 1) * t + rng.uniform(0, 1)) + rng.normal(0, noise, shape)
    return rng.normal(c - 0.5, 1.0, shape) + rng.normal(0, noise, shape)


def gan_run(modality: str = "image", classes: list[str] | None = None) -> dict[str, Any]:
    """A conditional GAN run on digits-like (image), mnist1d-like (sequence) or tabular data:
    ``best`` holds GAN scores (fcd, not accuracy), no ROC, no explanations, ``gan`` filled."""
    rng = np.random.default_rng(5)
    shape = {"image": [1, 8, 8], "sequence": [40, 1], "tabular": [6]}[modality]
    classes = classes or ["zero", "one", "two"]
    features = ["pixel"] if modality == "image" else ["x0"] if modality == "sequence" else \
        [f"f{i}" for i in range(6)]
    run = _run(f"gan-{modality}", "generation", modality, shape, 1, features, classes, "fcd")
    run["directions"], run["space_name"] = ["minimize"], "gan"
    trials = _trials(rng, 12, ["gan"], False, 40.0)
    test = {"fcd": 6.21, "precision": 0.71, "recall": 0.58, "cond_accuracy": 0.83}
    best = _best(rng, trials, False, "fcd", "gan: G dense(256,relu) > to_grid(128,2x2) > "
                 "upconv2d(32) > gen_out(sigmoid) | D conv2d(32,k3) > regress(1) | hinge cond",
                 test)
    n = 6
    grid = {"classes": classes,
            "generated": [r([_gan_sample(rng, modality, shape, c, 0.15) for _ in range(n)])
                          for c in range(len(classes))],
            "real": [r([_gan_sample(rng, modality, shape, c, 0.05) for _ in range(n)])
                     for c in range(len(classes))]}
    values = np.linspace(-2.5, 2.5, 7)
    base = _gan_sample(rng, modality, shape, 0, 0.0)
    traversals = []
    for k, dim in enumerate([3, 11, 0, 7]):
        bump = np.roll(np.linspace(0, 1, int(np.prod(shape))), 9 * k).reshape(shape)
        samples = [base + 0.3 * v * bump / (k + 1) for v in values]
        traversals.append({"dim": dim, "label": classes[0], "values": r(values),
                           "samples": r(samples), "change": r(0.25 * bump / (k + 1)),
                           "mean_change": round(0.125 / (k + 1), 4)})
    latent = rng.uniform(0, 0.03, 16)
    latent[[3, 11, 0, 7]] = [0.125, 0.0625, 0.0417, 0.0313]

    def side(noise: float, logit: float) -> dict[str, Any]:
        ex = [{"input": r(_gan_sample(rng, modality, shape, i, noise)),
               "attribution": r(rng.normal(0, 0.1, shape)), "logit": logit + i / 10,
               "label": classes[i % len(classes)]} for i in range(3)]
        return {"mean_abs": r(np.abs(rng.normal(0, 0.1, shape))), "mean_logit": logit,
                "examples": ex}

    curves = [{"epoch": e, "d_loss": round(1.4 - 0.4 * (1 - np.exp(-e / 5)), 4),
               "g_loss": round(0.7 + 0.5 * (1 - np.exp(-e / 5)), 4),
               "score": round(40 * np.exp(-e / 6) + 6, 3), "diversity": round(0.3 + e / 100, 3)}
              for e in range(1, 21)]
    gan = {"scores": {"test": test, "floor_fcd": 1.32, "noise_fcd": 88.5,
                      "classifier_accuracy": 0.95},
           "curves": curves, "summary": "The generator's samples sit closer to the real data "
           "than noise does, with some missing modes (recall 0.58).",
           "modality": modality, "data_shape": shape, "conditional": True, "latent_dim": 16,
           "seed": 0, "grid": grid, "traversals": traversals, "latent_change": r(latent),
           "discriminator": {"method": "integrated_gradients", "baseline": "zeros",
                             "n_steps": 32, "real": side(0.05, 1.2), "fake": side(0.15, -0.8),
                             "completeness": {"max_abs_delta": 0.004, "mean_abs_delta": 0.001,
                                              "relative": 0.002}}}
    stages = [stage("b0_dense", "dense.v1", "vec(F=32)", "vec(F=256)", 8448, units=256),
              stage("head", "gen_out.v1", "vec(F=256)", f"shape({shape})", 16448)]
    return _report(run, trials, best, spec={"type": "gan"}, stages=stages, roc=None,
                   residuals=None, explanations=None, model_repr="GanModel(...)", gan=gan,
                   metric_labels={"precision": "precision (k-NN manifold)",
                                  "recall": "recall (k-NN manifold)"})


ALL = {"tabular": tabular_classification, "image": image_classification,
       "sequence": sequence_classification, "regression": regression}
# fmt: on
