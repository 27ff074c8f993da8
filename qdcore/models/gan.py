"""GAN parts: study 003's DCGAN (TensorFlow MNIST recipe) and study 001's AC-GAN. Images are in [-1, 1]."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from qdcore.errors import ConfigError
from qdcore.models import options as op

LEAK = 0.2


def up_layers(cin: int, cout: int, kernel: int, stride: int, bias: bool, upsample: str, groups: int = 1,
              prefix: str = "") -> OrderedDict[str, nn.Module]:
    """One of G's layers that keeps (stride 1) or doubles (stride 2) the map size, 'same' padded.

    transposed: a stride-2 transposed conv (study 003); nearest: nearest-neighbour upsampling then a conv,
    which cannot leave the checkerboard of isolated dots a transposed conv's uneven overlap does
    (Odena et al. 2016, "Deconvolution and checkerboard artifacts").
    """
    pad = kernel // 2
    out: OrderedDict[str, nn.Module] = OrderedDict()
    if upsample == "transposed":
        out[f"convt{prefix}"] = nn.ConvTranspose2d(cin, cout, kernel, stride, pad, output_padding=stride - 1,
                                                   groups=groups, bias=bias)
        return out
    if stride > 1:
        out[f"up{prefix}"] = nn.Upsample(scale_factor=stride, mode="nearest")
    out[f"conv{prefix}"] = nn.Conv2d(cin, cout, kernel, 1, pad, groups=groups, bias=bias)
    return out


class Ink(nn.Module):
    """G's output: clamp(scale * tanh(x + shift), -1, 1); shift 0 and scale 1 are the plain tanh of the recipes.

    A negative shift starts the canvas near black, as about three quarters of a real drawing's pixels are;
    a scale above 1 lets G reach pure black and full ink at finite pre-activations, as real bitmaps do.
    """

    def __init__(self, shift: float = 0.0, scale: float = 1.0) -> None:
        super().__init__()
        self.shift, self.scale = float(shift), float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.tanh(x + self.shift) if self.shift else torch.tanh(x)
        return y if self.scale == 1.0 else (self.scale * y).clamp(-1.0, 1.0)

    def extra_repr(self) -> str:
        return f"shift={self.shift}, scale={self.scale}"


class Generator(nn.Module):
    """z (B, latent) [x label embedding] -> dense 7x7x4w -> convT (or upsample + conv) 2w, w, 1 -> tanh image."""

    arch: dict

    def __init__(self, latent_dim: int, num_classes: int, width: int, kernel: int, batch_norm: bool,
                 conditional: bool, upsample: str = "transposed", out_shift: float = 0.0,
                 out_scale: float = 1.0) -> None:
        super().__init__()
        self.latent_dim, self.num_classes, self.conditional = latent_dim, num_classes, conditional
        # AC-GAN (study 001): the label's embedding multiplies the noise, so the latent point depends on the class.
        self.embed = nn.Embedding(num_classes, latent_dim) if conditional else None
        w, bias = width, not batch_norm  # BN cancels a bias, as in the TensorFlow recipe (use_bias=False)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["dense"] = nn.Linear(latent_dim, 4 * w * 7 * 7, bias=bias)
        if batch_norm:
            layers["bn0"] = nn.BatchNorm1d(4 * w * 7 * 7)
        layers["lrelu0"] = nn.LeakyReLU(LEAK)
        layers["reshape"] = nn.Unflatten(1, (4 * w, 7, 7))
        for i, (cin, cout, stride) in enumerate([(4 * w, 2 * w, 1), (2 * w, w, 2), (w, 1, 2)], 1):
            last = i == 3
            layers.update(up_layers(cin, cout, kernel, stride, bias or last, upsample, prefix=str(i)))
            if not last:
                if batch_norm:
                    layers[f"bn{i}"] = nn.BatchNorm2d(cout)
                layers[f"lrelu{i}"] = nn.LeakyReLU(LEAK)
        layers["tanh"] = Ink(out_shift, out_scale)
        self.net = nn.Sequential(layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional generator needs labels y")
            z = z * self.embed(y)
        return self.net(z)

    def example_inputs(self, batch: int = 1) -> tuple[torch.Tensor, ...]:
        """Inputs of the right shape, for layer tables."""
        z = torch.zeros(batch, self.latent_dim)
        return (z, torch.zeros(batch, dtype=torch.long)) if self.conditional else (z,)


class Discriminator(nn.Module):
    """conv w, 2w (stride 2, LeakyReLU, dropout) -> flatten -> source logits (B, 1 [+ 49]) [+ class logits (B, n)].

    Source column 0 judges the whole drawing; with `patch`, columns 1-49 judge its 7x7 overlapping 13x13-pixel
    patches (a 1x1 conv on the last maps: PatchGAN, Isola et al. 2017).
    """

    arch: dict

    def __init__(self, num_classes: int, width: int, kernel: int, dropout: float, classify: bool,
                 spectral_norm: bool = False, patch: bool = False) -> None:
        super().__init__()
        self.num_classes, self.classify = num_classes, classify
        w, pad = width, kernel // 2
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i, (cin, cout) in enumerate([(1, w), (w, 2 * w)], 1):
            layers[f"conv{i}"] = nn.Conv2d(cin, cout, kernel, 2, pad)
            layers[f"lrelu{i}"] = nn.LeakyReLU(LEAK)
            if dropout > 0:
                layers[f"dropout{i}"] = nn.Dropout(dropout)
        layers["flatten"] = nn.Flatten()
        self.body = nn.Sequential(layers)
        self.feature_layer = "body.lrelu2"
        self.source = nn.Linear(2 * w * 7 * 7, 1)
        self.patch = nn.Conv2d(2 * w, 1, 1) if patch else None
        # AC-GAN's second head: the discriminator doubles as a classifier (study 001 compares it with the CNN).
        self.classes = nn.Linear(2 * w * 7 * 7, num_classes) if classify else None
        if spectral_norm:  # every weight's largest singular value held at 1: D stays 1-Lipschitz (Miyato et al.)
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        maps = self.body[:-1](x)
        h = self.body[-1](maps)
        src = self.source(h)
        if self.patch is not None:
            src = torch.cat([src, self.patch(maps).flatten(1)], 1)
        if self.classes is None:
            return src
        return src, self.classes(h)

    def example_inputs(self, batch: int = 1) -> tuple[torch.Tensor, ...]:
        """Inputs of the right shape, for layer tables."""
        return (torch.zeros(batch, 1, 28, 28),)


def build_pair(name: str, num_classes: int, latent_dim: int, o: dict[str, Any]) -> tuple[Generator, Discriminator, dict]:
    """Validate options and build (G, D); acgan is conditional with a class head."""
    r: dict[str, Any] = {"g_width": op.pos_int("g_width", o["g_width"]), "d_width": op.pos_int("d_width", o["d_width"]),
         "kernel": op.pos_int("kernel", o["kernel"]), "dropout": op.rate("dropout", o["dropout"]),
         "batch_norm": op.flag("batch_norm", o["batch_norm"]),
         "upsample": op.choice("upsample", o["upsample"], op.UPSAMPLES),
         "spectral_norm": op.flag("spectral_norm", o["spectral_norm"]), "patch": op.flag("patch", o["patch"]),
         "out_shift": op.number("out_shift", o["out_shift"]), "out_scale": op.at_least("out_scale", o["out_scale"], 1.0)}
    if r["kernel"] % 2 == 0:
        raise ConfigError(f"option kernel={r['kernel']} must be odd for the GAN's 'same' (transposed) convs")
    conditional = name == "acgan"
    g = Generator(latent_dim, num_classes, r["g_width"], r["kernel"], r["batch_norm"], conditional, r["upsample"],
                  r["out_shift"], r["out_scale"])
    d = Discriminator(num_classes, r["d_width"], r["kernel"], r["dropout"], classify=conditional,
                      spectral_norm=r["spectral_norm"], patch=r["patch"])
    return g, d, r
