"""build_model(spec) -> nn.Module, with every shape inferred statically (no forward pass; an
extension's block alone is checked by one, /tmp/oG5 F2)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from search_spaces import extensions
from search_spaces.blocks import BlockKind, Shape, adapter_path, get_block, head_kind
from search_spaces.errors import (
    ExtensionBlockError,
    ExtensionShapeError,
    ShapeError,
    SpecError,
    UnknownBlockError,
)
from search_spaces.spec import ArchSpec, BlockSpec
from search_spaces.tracing import where_raised

_INPUT_LAYOUT = {"tabular": "vec", "sequence": "seq", "image": "grid2d"}


@dataclass(frozen=True)
class Stage:
    """One named stage of a built model: its block kind, and the shapes in and out."""

    name: str
    kind: str
    inserted: bool  # True for an adapter the builder added
    shape_in: Shape
    shape_out: Shape


class NasModel(nn.Module):
    """A built architecture: ``features`` (named stages) then ``head``.

    ``spec`` and ``stages`` are plain attributes (not in the state_dict); the weights alone
    reload into ``build_model(spec)``.
    """

    def __init__(
        self, spec: ArchSpec, features: nn.Sequential, head: nn.Module, stages: tuple[Stage, ...]
    ):
        super().__init__()
        self.features = features
        self.head = head
        self.spec = spec
        self.stages = stages

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.stages[-1].shape_out.dims

    def extra_repr(self) -> str:
        return f"family={self.spec.family}, input={tuple(self.spec.input_shape)}"


def input_shape_of(spec: ArchSpec) -> Shape:
    """The layout-tagged per-example input shape of a spec."""
    return Shape(_INPUT_LAYOUT[spec.modality], tuple(spec.input_shape))


def _build_one(block: BlockSpec, shape: Shape, label: str) -> tuple[nn.Module, Shape]:
    kind = get_block(block.kind)
    origin = extensions.origin("block", block.kind)
    if origin is not None and extensions.is_extension(origin):
        return _build_extension_block(kind, origin, shape, block.params, label)
    params = kind.validate(block.params, where=f"{label} ")  # nas's own: shapes are tested
    try:
        return kind.build(shape, params)
    except SpecError as e:
        raise type(e)(f"{label} {e}") from None


def _build_extension_block(
    kind: BlockKind, origin: str, shape: Shape, given: Mapping[str, Any], label: str
) -> tuple[nn.Module, Shape]:
    """An extension's block, checked as nas's own blocks are by their tests: its params
    refused, its builder raising, returning something else than ``(module, Shape)``, or
    declaring an output shape its module does not produce is an ExtensionBlockError (a
    SpecError; an ExtensionShapeError for the shape) naming the stage, the block kind and the
    extension, not a KeyError traceback or a "mat1 and mat2 shapes cannot be multiplied" in
    some later block (/tmp/oG5 F2)."""
    params = dict(given)

    def fault(error: type[ExtensionBlockError], problem: str, fix: str = "") -> Exception:
        return error(
            f"{problem}; fix the extension {origin} that registers it{fix}.",
            kind=kind.name, origin=origin, problem=problem,
        )  # fmt: skip

    try:
        params = kind.validate(given, where=f"{label} ")
        built = kind.build(shape, params)
    except SpecError as e:
        said = str(e) if str(e).startswith(label) else f"{label} {e}"
        raise fault(ExtensionShapeError if isinstance(e, ShapeError) else ExtensionBlockError,
                    said.rstrip(".")) from None  # fmt: skip
    except Exception as e:
        where = where_raised(e)
        detail = f"{type(e).__name__}{f' at {where}' if where else ''}: {e}".splitlines()[0]
        raise fault(
            ExtensionBlockError,
            f"{label} {kind.name}: its builder failed on input {shape} with {params} "
            f"({detail[:300]})",
        ) from e
    if not (
        isinstance(built, tuple)
        and len(built) == 2
        and isinstance(built[0], nn.Module)
        and isinstance(built[1], Shape)
    ):
        raise fault(
            ExtensionBlockError,
            f"{label} {kind.name}: its builder returned {type(built).__name__}, not a (module, "
            "Shape) pair",
        )
    module, declared = built
    actual = _output_dims(module, shape)
    if actual is not None and actual != declared.dims:
        raise fault(
            ExtensionShapeError,
            f"{label} {kind.name} declares its output {declared} but its forward gives dims "
            f"{actual} per example (input {shape})",
            " so that the Shape its builder returns is what its forward gives",
        )
    return module, declared


def _output_dims(module: nn.Module, shape: Shape) -> tuple[int, ...] | None:
    """The per-example shape ``module`` outputs for a batch of 2 zeros of ``shape`` (eval
    mode, so that BatchNorm takes any batch and dropout is off; no gradients; torch's random
    state left as it was, so that the blocks built after it get the weights they got
    without this check). Floats first, then integers (an embedding's token ids); None when
    neither runs or the output is not one tensor: training then says what fails."""
    param = next(module.parameters(), None)
    device = param.device if param is not None else None
    modes = [(m, m.training) for m in module.modules()]  # a part kept in eval stays so
    module.eval()
    try:
        for dtype in (torch.get_default_dtype(), torch.long):
            try:
                with torch.no_grad(), torch.random.fork_rng(devices=[]):
                    out = module(torch.zeros((2, *shape.dims), dtype=dtype, device=device))
            except Exception:  # noqa: BLE001 -- a block that cannot run on zeros is not judged
                continue
            if isinstance(out, torch.Tensor) and out.dim() >= 1 and out.shape[0] == 2:
                return tuple(out.shape[1:])
            return None
        return None
    finally:
        for part, training in modes:
            part.training = training


def _assemble(spec: ArchSpec) -> tuple[list[tuple[str, nn.Module]], tuple[Stage, ...]]:
    modules: list[tuple[str, nn.Module]] = []
    stages: list[Stage] = []
    shape = input_shape_of(spec)
    expected_head = head_kind(spec.task) if spec.task in ("classification", "regression") else None
    if expected_head and spec.head.kind != expected_head:
        raise SpecError(
            f"head is {spec.head.kind!r} but the task is {spec.task}; use {expected_head!r}."
        )
    head_params = dict(spec.head.params)
    if _takes_outputs(spec.head.kind) and (
        head_params.setdefault("outputs", spec.output_size) != spec.output_size
    ):
        raise SpecError(
            f"head outputs={head_params['outputs']!r} but the spec's output_size is "
            f"{spec.output_size}; make them equal."
        )
    items = [(f"blocks[{i}]", f"b{i}", b) for i, b in enumerate(spec.blocks)]
    items.append(("head", "head", BlockSpec(spec.head.kind, head_params)))
    for label, name, block in items:
        try:
            kind = get_block(block.kind)
        except UnknownBlockError as e:
            raise UnknownBlockError(f"{label}: {e}", registry=e.registry, name=e.name) from None
        except SpecError as e:
            raise SpecError(f"{label}: {e}") from None
        path = adapter_path(shape.layout, kind.accepts)
        if path is None:
            raise ShapeError(
                f"{label} {block.kind} needs a {' or '.join(kind.accepts)} input but receives "
                f"{shape}; no adapter leads there. Put {kind.family} blocks earlier, or "
                "choose a block that accepts this layout."
            )
        for j, adapter in enumerate(path):
            mod, out = _build_one(BlockSpec(adapter), shape, f"{label} (adapter)")
            suffix = f"{j}_" if j else ""
            sname = f"a{name[1:] if name != 'head' else 'h'}_{suffix}{adapter.split('.')[0]}"
            stages.append(Stage(sname, adapter, True, shape, out))
            modules.append((sname, mod))
            shape = out
        mod, out = _build_one(block, shape, label)
        if 0 in out.dims:
            raise ShapeError(
                f"{label} {block.kind} would output {out}: an empty tensor; "
                "use less downsampling (stride / pooling) before it."
            )
        sname = "head" if name == "head" else f"{name}_{block.kind.split('.')[0]}"
        stages.append(Stage(sname, block.kind, False, shape, out))
        modules.append((sname, mod))
        shape = out
    if shape.numel != spec.output_size:
        # A head sized by its own params (a generator's gen_out.v1) must still give output_size.
        raise ShapeError(
            f"head {spec.head.kind} outputs {shape} ({shape.numel} values) but the spec's "
            f"output_size is {spec.output_size}; make them equal."
        )
    return modules, tuple(stages)


def _takes_outputs(kind: str) -> bool:
    """Whether a head kind is sized by an ``outputs`` param the builder fills from the spec."""
    try:
        return "outputs" in get_block(kind).params
    except SpecError:
        return True  # unknown kind: reported with its label when the head is built


def build_model(spec: ArchSpec) -> NasModel:
    """Build the module an ArchSpec describes. Raises SpecError / ShapeError naming the block."""
    modules, stages = _assemble(spec)
    head = modules.pop()[1]
    return NasModel(spec, nn.Sequential(OrderedDict(modules)), head, stages)
