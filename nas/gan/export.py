"""What a GAN run exports: its generator (the deployable part), fed a latent and a one-hot
label."""

from __future__ import annotations

import torch
from torch import nn

from nas.exporting._target import CHECK_ROWS, Exportable
from search_spaces.gan import GanModel


class GeneratorInputs(nn.Module):
    """A GAN's generator fed a latent ``z`` and, if conditional, the label as a one-hot row:
    ``onehot @ embedding.weight`` is the embedding lookup as a matrix product, so the label is
    a plain float input that every runtime accepts (an index input would need int64)."""

    def __init__(self, gan: GanModel):
        super().__init__()
        self.generator = gan.generator
        self.label_embed = gan.label_embed_g

    def forward(self, z: torch.Tensor, y_onehot: torch.Tensor | None = None) -> torch.Tensor:
        if self.label_embed is not None and y_onehot is not None:
            z = torch.cat([z, y_onehot @ self.label_embed.weight], dim=1)
        return self.generator(z)


def generator_exportable(gan: GanModel, seed: int = 0) -> Exportable:
    """A GAN's generator, checked on seeded latents ``z ~ N(0, I)`` and the labels 0, 1, ...,
    n_classes - 1, 0, ... (no data rows needed)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(CHECK_ROWS, gan.latent_dim, generator=g)
    inputs = {"z": z}
    labels = None
    if gan.conditional:
        labels = torch.arange(CHECK_ROWS) % gan.n_classes
        inputs["y_onehot"] = nn.functional.one_hot(labels, gan.n_classes).to(torch.float32)

    def reference(z: torch.Tensor, y_onehot: torch.Tensor | None = None) -> torch.Tensor:
        return gan.generate(z, None if y_onehot is None else y_onehot.argmax(dim=1))

    return Exportable(
        module=GeneratorInputs(gan).eval(),
        inputs=inputs,
        output="samples",
        output_shape=tuple(gan.data_shape),
        reference=reference,
        family="gan_generator",
        summary=gan.spec.generator.summary(),
        task="generation",
        notes={"rows": f"z ~ N(0, I) seeded {seed}" + (", labels cycling through the classes"
                                                        if gan.conditional else "")},
    )  # fmt: skip


__all__ = ["GeneratorInputs", "generator_exportable"]
