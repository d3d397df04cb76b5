"""The built GAN: a generator and a discriminator, joined by the label embeddings of a
conditional GAN; it generates, discriminates and samples."""

from __future__ import annotations

import torch
from torch import nn

from search_spaces.build import NasModel
from search_spaces.errors import SpecError
from search_spaces.gan.spec import GanSpec


class GanModel(nn.Module):
    """A built GAN: ``generator`` and ``discriminator`` (NasModels) and, when conditional, the
    label embeddings ``label_embed_g`` (into G's input) and ``label_embed_d`` (D's projection).
    """

    def __init__(self, spec: GanSpec, generator: NasModel, discriminator: NasModel):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.spec = spec
        self.latent_dim = spec.latent_dim
        self.conditional = spec.conditional
        self.n_classes = spec.n_classes
        self.data_shape = spec.data_shape
        self.label_embed_g: nn.Embedding | None = None
        self.label_embed_d: nn.Embedding | None = None
        if spec.conditional:
            width = discriminator.stages[-1].shape_in.dims[0]  # the features the head reads
            self.label_embed_g = nn.Embedding(spec.n_classes, spec.label_dim)
            self.label_embed_d = nn.Embedding(spec.n_classes, width)
            # Small projections: N(0, 1) rows summed over a wide feature vector would swamp
            # the unconditional logit at the start (SNGAN's projection uses Xavier too).
            nn.init.xavier_uniform_(self.label_embed_d.weight)

    def _labels(self, y: torch.Tensor | None, n: int) -> torch.Tensor:
        if y is None:
            raise SpecError("this GAN is conditional: pass the class labels y (N,) as well.")
        if y.shape != (n,):
            raise SpecError(f"labels y must have shape ({n},), got {tuple(y.shape)}.")
        return y.long()

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, latent_dim)`` noise (and ``(N,)`` labels if conditional) -> ``(N, *data_shape)``.
        ``y`` is ignored by an unconditional GAN."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise SpecError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}.")
        if self.label_embed_g is not None:
            z = torch.cat([z, self.label_embed_g(self._labels(y, z.shape[0]))], dim=1)
        return self.generator(z)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, *data_shape)`` -> ``(N,)`` logits: ``head(f(x)) [+ <embed_d(y), f(x)>]``."""
        f = self.discriminator.forward_features(x)
        out = self.discriminator.forward_head(f).squeeze(1)
        if self.label_embed_d is not None:
            out = out + (self.label_embed_d(self._labels(y, x.shape[0])) * f).sum(dim=1)
        return out

    def sample(
        self,
        n: int,
        y: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n`` examples from ``z ~ N(0, I)``; a conditional GAN without ``y`` cycles through
        the classes (0, 1, ..., n_classes - 1, 0, ...)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator,
                        device=generator.device if generator is not None else device)  # fmt: skip
        if self.conditional and y is None:
            y = torch.arange(n, device=device) % self.n_classes
        return self.generate(z.to(device), y)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.generate(z, y)

    def extra_repr(self) -> str:
        s = self.spec
        return f"data={s.data_shape}, latent={s.latent_dim}, conditional={s.conditional}"


__all__ = ["GanModel"]
