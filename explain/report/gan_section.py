"""The view model of the GAN section: the score card, training curves, generated vs real
examples, latent traversals and the discriminator's attributions (``gan`` in SCHEMA.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from explain.report import gan_plots as gp
from explain.report._format import fmt_num
from explain.report._style import is_number
from explain.report.decision import MANIFOLD_LABELS
from explain.report.schema import ReportData
from explain.report.sections import Figures, mapping, panel

_SCORES = (
    (
        "precision",
        MANIFOLD_LABELS["precision"],
        "Share of generated examples that land near real ones (k-NN manifold); low means "
        "unrealistic samples. 1 is best.",
    ),
    (
        "recall",
        MANIFOLD_LABELS["recall"],
        "Share of real examples near some generated one; low means whole modes are missing "
        "(mode collapse). 1 is best.",
    ),
    (
        "cond_accuracy",
        "conditional accuracy",
        "The classifier's accuracy on generated examples, against the class they were asked "
        "for; compare it with the classifier's own accuracy below.",
    ),
)


def _scores(gan: Mapping[str, Any]) -> list[dict[str, str]]:
    scores = mapping(gan, "scores")
    test = mapping(scores, "test")
    rows = [
        {
            "name": "FCD",
            "value": fmt_num(test.get("fcd")),
            "ref": f"floor {fmt_num(scores.get('floor_fcd'))} · noise "
            f"{fmt_num(scores.get('noise_fcd'))}",
            "how": "Fréchet distance between classifier features of generated and real test "
            "examples; lower is better. The floor (as many real examples, scored the same "
            "way) is the best reachable, noise the score of random inputs: good GANs sit near "
            "the floor.",
        }
    ]
    for key, name, how in _SCORES:
        if key in test or key == "precision" or key == "recall":
            rows.append({"name": name, "value": fmt_num(test.get(key), 3), "ref": "", "how": how})
    rows.append(
        {
            "name": "classifier accuracy",
            "value": fmt_num(scores.get("classifier_accuracy"), 3),
            "ref": "",
            "how": "The feature classifier's accuracy on real test data: the ceiling for "
            "conditional accuracy, and how far to trust FCD (a weak classifier sees little).",
        }
    )
    return rows


def _position(gan: Mapping[str, Any]) -> str:
    """Where the FCD sits between the floor (0 %) and noise (100 %), in words."""
    test = mapping(mapping(gan, "scores"), "test")
    fcd, scores = test.get("fcd"), mapping(gan, "scores")
    lo, hi = scores.get("floor_fcd"), scores.get("noise_fcd")
    if not (is_number(fcd) and is_number(lo) and is_number(hi)) or hi <= lo:
        return ""
    share = (fcd - lo) / (hi - lo)
    if share >= 1:
        return (
            f"The FCD is above the noise's ({fmt_num(fcd)} against {fmt_num(hi)}): the generated "
            "examples are further from real data than random inputs are."
        )
    return (
        f"The FCD covers {100 * share:.0f} % of the way from the real-data floor to noise "
        "(0 % is as good as real data)."
    )


def gan(data: ReportData, figs: Figures) -> dict[str, Any] | None:
    """Everything the GAN section shows, or None when the run is not a GAN."""
    g = data.get("gan")
    if not isinstance(g, Mapping):
        return None
    run = mapping(data, "run")
    info = run.get("data_info") if isinstance(run.get("data_info"), Mapping) else {}
    modality = str(g.get("modality") or info.get("modality") or "tabular")
    names = list(info.get("feature_names") or [])
    grid = mapping(g, "grid")
    traversals = [t for t in g.get("traversals") or [] if isinstance(t, Mapping)]
    disc = mapping(g, "discriminator")
    comp = mapping(disc, "completeness")
    label = next((t.get("label") for t in traversals if t.get("label") is not None), None)
    if modality == "image":
        grid_fig = figs.add("gan-grid", gp.image_grid_figure, grid)
        grid_help = (
            "Each row is one class: generated images on the left, real training "
            "images on the right; they should look alike and vary as much."
        )
    else:
        grid_fig = figs.add("gan-grid", gp.profiles_figure, grid, modality, names)
        grid_help = (
            "Generated (blue) over real (orange) examples per class: "
            + (
                "the first feature over time; "
                if modality == "sequence"
                else "each line is one row, value per feature; "
            )
            + "the two bundles should overlap and spread alike."
        )
    examples = [
        {"side": side, "label": ex.get("label"), "logit": fmt_num(ex.get("logit"), 3)}
        for key, side in (("real", "real"), ("fake", "generated"))
        for ex in (mapping(disc, key).get("examples") or [])
        if isinstance(ex, Mapping)
    ]
    return {
        "summary": g.get("summary"),
        "scores": _scores(g),
        "position": _position(g),
        "curves": panel(
            "Training curves",
            "Top: discriminator and generator losses per epoch (a stable game keeps both "
            "bounded); bottom: FCD on validation data (lower is better) and sample diversity.",
            figs.add("gan-curves", gp.curves_figure, g.get("curves")),
            "No training curves were recorded.",
            wide=True,
        ),
        "grid": panel(
            "Generated vs real", grid_help, grid_fig, "No generated examples were saved.", wide=True
        ),
        "traversals": panel(
            "Latent traversals",
            "Each row varies one latent dimension from -2.5 to +2.5 (others fixed"
            + (f", class {label}" if label is not None else "")
            + "); the dims that change the output most are shown"
            + (", values across." if modality == "image" else ", light lines -2.5, dark +2.5."),
            figs.add("gan-traversal", gp.traversal_figure, traversals, modality, names),
            "No latent traversals were computed.",
            wide=True,
        ),
        "change": panel(
            "Where each latent dimension acts",
            "Mean |output change| between neighbouring steps of the traversal: bright "
            "regions are what that latent dimension controls.",
            figs.add("gan-change", gp.change_figure, traversals, modality, names),
            "No latent traversals were computed.",
        ),
        "latent": panel(
            "Effect of every latent dimension",
            "Mean |output change| per latent dim: a few tall bars mean a few dims do the work.",
            figs.add("gan-latent", gp.latent_bar_figure, g.get("latent_change")),
            "Not recorded.",
        ),
        "discriminator": panel(
            "What the discriminator looks at",
            "Integrated gradients of D's real/fake logit (zero baseline) on real and "
            "generated examples: where the maps differ is where fakes give themselves away.",
            figs.add("gan-disc", gp.discriminator_figure, disc, modality, names),
            "No discriminator attributions were computed.",
            wide=True,
        ),
        "disc_facts": [
            ("mean logit, real", fmt_num(mapping(disc, "real").get("mean_logit"), 3)),
            ("mean logit, generated", fmt_num(mapping(disc, "fake").get("mean_logit"), 3)),
            ("IG completeness |delta| (max)", fmt_num(comp.get("max_abs_delta"), 3)),
            ("relative to |logit|", fmt_num(comp.get("relative"), 3)),
        ]
        if disc
        else [],
        "examples": examples,
    }
