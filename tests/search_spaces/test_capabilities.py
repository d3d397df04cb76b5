"""Every block module declares what explainers may rely on (search_spaces.blocks.capabilities).

The generic tests run over the registry and over every module class the block modules define,
so a new block kind or module class is checked for free; the rest are known answers.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from torch import nn

import search_spaces.blocks as blocks_pkg
from search_spaces.blocks import Capabilities, Shape, capabilities_of, get_block, known_kinds
from search_spaces.blocks.adapters import GlobalPool, ImageRows, Transpose, Unsqueeze
from search_spaces.blocks.attention import FeatureTokenizer, Patches, Rows, SeqPool, Windows
from search_spaces.blocks.capabilities import UNKNOWN

# An input of each layout, wide enough for every kind's defaults (4 divides the default heads).
INPUTS = {
    "vec": Shape("vec", (6,)),
    "seq": Shape("seq", (8, 4)),
    "grid1d": Shape("grid1d", (4, 8)),
    "grid2d": Shape("grid2d", (2, 8, 8)),
}


def _required(kind: str) -> dict[str, Any]:
    """Small valid values for the parameters a kind requires (the rest keep their defaults)."""
    out: dict[str, Any] = {}
    for name, rule in get_block(kind).params.items():
        if rule.default is not ...:
            continue
        if rule.type is list:  # gen_out's data shape
            out[name] = [6]
        else:
            out[name] = max(2, int(rule.low or 0))
    return out


def build(kind: str, params: dict[str, Any] | None = None) -> nn.Module:
    block = get_block(kind)
    full = block.validate({**_required(kind), **(params or {})})
    module, _ = block.build(INPUTS[block.accepts[0]], full)
    return module


def _block_module_classes() -> list[type[nn.Module]]:
    """Every nn.Module class defined in a module of search_spaces.blocks."""
    found = []
    for info in pkgutil.iter_modules(blocks_pkg.__path__):
        mod = importlib.import_module(f"search_spaces.blocks.{info.name}")
        found += [
            obj
            for obj in vars(mod).values()
            if inspect.isclass(obj)
            and issubclass(obj, nn.Module)
            and obj.__module__ == mod.__name__
        ]
    return found


MODULE_CLASSES = _block_module_classes()


@pytest.mark.parametrize("kind", known_kinds())
def test_every_kind_builds_modules_that_declare_capabilities(kind: str) -> None:
    assert isinstance(get_block(kind).capabilities, Capabilities)
    for name, m in build(kind).named_modules():
        if type(m).__module__.startswith("search_spaces."):
            declared = vars(type(m)).get("CAPABILITIES")
            assert isinstance(declared, Capabilities), f"{kind}: {name or 'module'} ({type(m)})"
        assert isinstance(capabilities_of(m), Capabilities)


def test_the_scan_finds_the_block_module_classes() -> None:
    names = {c.__name__ for c in MODULE_CLASSES}
    assert {"ConvBlock", "GlobalPool", "TokenEmbedding", "SeqPool", "GenOut"} <= names


@pytest.mark.parametrize("cls", MODULE_CLASSES, ids=lambda c: c.__name__)
def test_every_block_module_class_declares_capabilities(cls: type[nn.Module]) -> None:
    assert isinstance(vars(cls).get("CAPABILITIES"), Capabilities), cls


@pytest.mark.parametrize("kind", known_kinds())
def test_a_kinds_capabilities_hold_for_the_module_it_builds(kind: str) -> None:
    declared = get_block(kind).capabilities
    built = capabilities_of(build(kind))
    for f in dataclasses.fields(Capabilities):
        if getattr(declared, f.name) != getattr(UNKNOWN, f.name):
            assert getattr(built, f.name) == getattr(declared, f.name), (kind, f.name)


@pytest.mark.parametrize(
    "module", [Transpose(), ImageRows(), Unsqueeze(1), Rows(), FeatureTokenizer(3, 4)]
)
def test_adapters_and_reshaping_tokenizers_are_affine(module: nn.Module) -> None:
    caps = capabilities_of(module)
    assert caps.affine and not caps.opaque


@pytest.mark.parametrize("kind", ["flatten.v1", "to_steps.v1", "image_rows.v1"])
def test_adapter_kinds_build_affine_modules(kind: str) -> None:
    assert capabilities_of(build(kind)).affine


def test_an_encoder_holds_attention_and_is_opaque() -> None:
    layers = [m for m in build("tfm_encoder.v1").modules() if capabilities_of(m).attention]
    assert len(layers) == 1
    assert isinstance(layers[0], nn.TransformerEncoderLayer)
    assert "attention" in capabilities_of(layers[0]).opaque
    assert capabilities_of(nn.MultiheadAttention(4, 2)).opaque


def test_embeddings_are_token_embeddings_with_their_token_patch() -> None:
    for kind in ("embed_tabular.v1", "embed_patch.v1", "embed_steps.v1"):
        assert get_block(kind).capabilities.token_embedding
        assert capabilities_of(build(kind)).token_embedding
    assert capabilities_of(build("embed_patch.v1")).token_patch == ()  # one token per row
    assert capabilities_of(build("embed_patch.v1", {"patch": 4})).token_patch == (4, 4)
    assert capabilities_of(build("embed_steps.v1", {"window": 2})).token_patch == (2,)
    assert capabilities_of(Patches(1, 4, 3)).token_patch == (3, 3)
    assert capabilities_of(Windows(2, 4, 5)).token_patch == (5,)
    assert not get_block("tfm_encoder.v1").capabilities.token_embedding


def test_conv_blocks_are_spatial_and_the_rest_not() -> None:
    assert capabilities_of(build("conv2d.v1")).spatial
    assert capabilities_of(build("conv1d.v1")).spatial
    assert not capabilities_of(build("dense.v1")).spatial
    assert not capabilities_of(nn.Conv2d(1, 1, 3)).spatial  # a bare layer is no block


@pytest.mark.parametrize(
    ("module", "affine", "pool", "opaque"),
    [
        (GlobalPool("avg", seq=False), True, "avg", ""),
        (GlobalPool("max", seq=True), False, "max", "max over positions, no rule"),
        (SeqPool("mean"), True, "mean", ""),
        (SeqPool("cls"), True, "cls", ""),
        (SeqPool("last"), True, "last", ""),
        (SeqPool("max"), False, "max", "max over steps, no rule"),
    ],
)
def test_pools_declare_their_mode_and_a_max_has_no_rule(
    module: nn.Module, affine: bool, pool: str, opaque: str
) -> None:
    caps = capabilities_of(module)
    assert (caps.affine, caps.pool, caps.opaque) == (affine, pool, opaque)


def test_an_instance_setting_does_not_leak_into_its_class() -> None:
    GlobalPool("max", seq=False)
    assert capabilities_of(GlobalPool("avg", seq=False)).affine
    assert GlobalPool.CAPABILITIES.affine


def test_recurrent_blocks_are_read_through_to_their_opaque_cell() -> None:
    module = build("lstm.v1")
    assert capabilities_of(module) == UNKNOWN
    assert "recurrent" in capabilities_of(module.rnn).opaque


@pytest.mark.parametrize(
    "module", [nn.Linear(2, 2), nn.Conv1d(1, 1, 3), nn.BatchNorm2d(2), nn.Dropout(), nn.Flatten()]
)
def test_torch_linear_modules_are_affine(module: nn.Module) -> None:
    assert capabilities_of(module).affine


def test_undeclared_modules_get_the_conservative_default() -> None:
    class Mystery(nn.Module):
        def forward(self, x: Any) -> Any:
            return x**2

    class WideLinear(nn.Linear):
        pass

    assert capabilities_of(Mystery()) == UNKNOWN == Capabilities()
    assert not UNKNOWN.affine and not UNKNOWN.opaque and not UNKNOWN.attention
    assert capabilities_of(nn.GELU()) == UNKNOWN  # nonlinear: an explainer needs its own rule
    assert capabilities_of(nn.LayerNorm(3)) == UNKNOWN
    assert capabilities_of(WideLinear(2, 2)).affine  # a subclass keeps torch's answer


def test_a_wrong_declaration_is_ignored_and_capabilities_are_frozen() -> None:
    class Sloppy(nn.Module):
        CAPABILITIES = {"affine": True}  # not a Capabilities: not trusted

    assert capabilities_of(Sloppy()) == UNKNOWN
    with pytest.raises(dataclasses.FrozenInstanceError):
        UNKNOWN.affine = True  # type: ignore[misc]
