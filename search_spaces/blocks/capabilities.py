"""What explainers need to know of a module, declared by the module itself.

A block's module class states its facts as a class attribute, ``CAPABILITIES =
Capabilities(affine=True)``; a module whose facts depend on how it was built (a max pool, a
patch size) sets ``self.CAPABILITIES`` in ``__init__``. Torch's own modules cannot declare
anything, so their facts are kept here, once. Explainers read every fact through
:func:`capabilities_of` and never ask which class they hold (as SHAP's DeepExplainer keeps one
op-handler table).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class Capabilities:
    """Facts about one module that attribution methods depend on (all off: nothing known)."""

    # A linear map in eval mode (a reshape, transpose, ``x * w + b``, a mean, a token pick):
    # DeepLift's and DeepExplainer's multiplier is its plain gradient, so they pass it exactly.
    affine: bool = False
    # Nonlinear work no DeepLift / DeepExplainer rule covers (a recurrent cell, attention, a
    # functional max), as the reason to report; the module is reported whole, inside unread.
    opaque: str = ""
    # How it reduces positions (steps, tokens, pixels) to one vector: "avg", "mean", "max",
    # "cls" or "last"; "" when it does not pool. A max has no rule; rollout reads the mode.
    pool: str = ""
    # An encoder layer with torch's TransformerEncoderLayer API (``self_attn``, ``norm1``,
    # ``norm_first``), whose attention weights attention maps and rollout recompute.
    attention: bool = False
    # The token embedding: the layer whose output layer integrated gradients attributes.
    token_embedding: bool = False
    # Input elements per token along each axis: ``(p, p)`` square patches, ``(w,)`` windows of
    # steps; ``()`` one token per feature, step or image row. Set on tokenizers and embeddings.
    token_patch: tuple[int, ...] = ()
    # Tokens along each axis when the tokenizer pads its input to whole patches or windows
    # (``()``: as many whole ones as fit, a remainder unseen), and the zeros padded before the
    # first element along each axis (windows of steps are padded at the start, so that the
    # last one ends at the last step; images at the bottom and right).
    token_grid: tuple[int, ...] = ()
    token_offset: tuple[int, ...] = ()
    # Produces convolutional feature maps worth a Grad-CAM (a conv block, not a bare layer).
    spatial: bool = False


UNKNOWN = Capabilities()  # the conservative answer: a leaf needs a rule, a composite is read

AFFINE = Capabilities(affine=True)

# Torch modules, matched by isinstance in order. Modules that are linear in eval mode (batch
# norm then uses its running statistics; dropout is the identity):
_TORCH: tuple[tuple[tuple[type[nn.Module], ...], Capabilities], ...] = (
    (
        (
            nn.Linear,
            nn.Conv1d,
            nn.Conv2d,
            nn.Conv3d,
            nn.BatchNorm1d,
            nn.BatchNorm2d,
            nn.Dropout,
            nn.Dropout1d,
            nn.Dropout2d,
            nn.Identity,
            nn.Flatten,
            nn.Unflatten,
            nn.AvgPool1d,
            nn.AvgPool2d,
            nn.AdaptiveAvgPool1d,
            nn.AdaptiveAvgPool2d,
        ),
        AFFINE,
    ),
    # Nonlinear composites whose inside no explainer can see.
    ((nn.RNNBase,), Capabilities(opaque="recurrent cell, no DeepLift rule")),
    ((nn.MultiheadAttention,), Capabilities(opaque="attention softmax and products, no rule")),
    (
        (nn.TransformerEncoderLayer,),
        Capabilities(opaque="attention and a functional activation, no rule", attention=True),
    ),
)


_ADAPTIVE: dict[type[nn.Module], Capabilities] = {
    nn.AdaptiveAvgPool1d: Capabilities(affine=True, pool="avg"),
    nn.AdaptiveAvgPool2d: Capabilities(affine=True, pool="avg"),
    nn.AdaptiveMaxPool1d: Capabilities(pool="max"),  # no module rule in Captum or SHAP
    nn.AdaptiveMaxPool2d: Capabilities(pool="max"),
}


def _torch_instance(module: nn.Module) -> Capabilities | None:
    """Facts of torch modules that depend on how they were built, not on their class."""
    if isinstance(module, nn.Sequential) and len(module) == 0:
        return AFFINE  # an empty Sequential returns its input: the identity (a linear FNN's body)
    size = getattr(module, "output_size", None)
    sizes = size if isinstance(size, tuple) else (size,)
    if type(module) in _ADAPTIVE and all(s == 1 for s in sizes):
        return _ADAPTIVE[type(module)]  # pooled to one position: a global pool (CAM's head)
    return None


def capabilities_of(module: nn.Module) -> Capabilities:
    """The module's declared capabilities, torch's from the table above, else :data:`UNKNOWN`."""
    declared = getattr(module, "CAPABILITIES", None)
    if isinstance(declared, Capabilities):
        return declared
    built = _torch_instance(module)
    if built is not None:
        return built
    for kinds, caps in _TORCH:
        if isinstance(module, kinds):
            return caps
    return UNKNOWN


__all__ = ["AFFINE", "UNKNOWN", "Capabilities", "capabilities_of"]
