"""GanConfig: every option of a GAN run (studies 001 and 003), declared once with its help, panel and bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qdcore.errors import ConfigError
from qdcore.models.init import init_option
from qdcore.models.options import UPSAMPLES
from qdcore.options import DATA, RunConfig, fields_of, option
from qdcore.train.gan_best import CRITERIA

GAN_MODELS = ("dcgan", "acgan")
GAN_LOSSES = ("bce", "hinge")  # qdcore.train.gan_loss
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_SAMPLES = 200_000  # drawings in one file of a GAN's samples (157 MB); more is several files
_MODEL, _OPT, _SAMPLES, _RUN = "Model", "Optimisation", "Samples and quality", "Runtime"


PATCH_SHARES = {"dcgan": 0.9, "acgan": 0.0}  # --d-patch when not given, by model (measured: see the option)


@dataclass
class GanConfig(RunConfig):
    """One GAN run: data selection, model, optimisation (TTUR, betas, smoothing, D steps), samples, runtime."""

    STORED_BEFORE = {"d_patch": 0.0}  # a run stored before --d-patch had no patch head

    # GANs need no validation split; the test split holds the real drawings the samples are compared with.
    val: float = option(0.0, help="Validation fraction (a GAN uses none).", panel=DATA, min=0, max=1, max_open=True)
    test: float = option(0.1, help="Test fraction: real drawings the quality metrics compare samples with.",
                         panel=DATA, min=0, max=1, max_open=True)
    model: str = option("dcgan", help="dcgan (study 003) or acgan (study 001: label embedding x noise, class head).",
                        panel=_MODEL, short="-m", choices=GAN_MODELS, form="Model", metavar="NAME")
    per_class_gans: bool = option(False, help="Study 003's one generator/discriminator pair per category, trained "
                                  "together as one grouped model (in groups where device memory is short).",
                                  panel=_MODEL)
    init: str | None = init_option(_MODEL)
    latent_dim: int = option(100, help="Size of the generator's noise vector.", panel=_MODEL, min=1, max=4096)
    # Defaults measured on the 3,000 shared apples by an independent judge (benchmarks/bench_gan_quality.py):
    # width 32, batch 32, smoothing 0.1 and G's moving average 0.99 judge >= 90% within 2.1 CPU-minutes, where
    # study 003's width 64, batch 128, no smoothing, no average swung between about 50% and 89%.
    g_width: int = option(32, help="Generator width w (dense 7x7x4w, convT 2w, w, 1; study 003: 64).", panel=_MODEL,
                          min=1, max=1024)
    d_width: int = option(32, help="Discriminator width w (conv w, 2w; study 003: 64).", panel=_MODEL, min=1,
                          max=1024)
    kernel: int | None = option(5, help="Kernel size of G's and D's convs (odd).", panel=_MODEL, min=1, max=13)
    # 0: on the shared apples at equal CPU (1.9 CPU-minutes, bench_gan_quality.py's judge) D without dropout gave
    # 93.4% judged, Frechet distance 35 and 2.5x real speckle where study 003's 0.3 gave 87.5%, 47 and 4.4x.
    d_dropout: float = option(0.0, help="Dropout after each discriminator conv (study 003: 0.3; 0 drew "
                              "cleaner apples per CPU-minute in bench_gan_quality.py).", panel=_MODEL, min=0, max=1,
                              max_open=True)
    batch_norm: bool | None = option(True, help="Batch norm in the generator.", panel=_MODEL)
    # nearest: in bench_gan_quality.py's run at equal CPU time (3.4 CPU-minutes on the shared apples) it was judged
    # 97.7% with a Frechet distance of 33 and 2.6x real speckle where transposed convs gave 94.9%, 40.5 and 3.3x.
    upsample: str = option("nearest", help="How G doubles its maps: nearest (nearest-neighbour upsampling, then a "
                           "conv: no checkerboard dots) or transposed (study 003's stride-2 transposed convs).",
                           panel=_MODEL, choices=UPSAMPLES, metavar="HOW")
    g_out_shift: float = option(0.0, help="Constant added to G's output before its tanh (negative: the canvas starts "
                                "near black, as about 3/4 of a real drawing is).", panel=_MODEL, min=-10, max=10)
    g_out_scale: float = option(1.0, help="G's output is clamp(s * tanh, -1, 1): above 1, pure black and full ink "
                                "are reached at finite values, as real bitmaps have them (1: plain tanh).",
                                panel=_MODEL, min=1, max=4)
    spectral_norm: bool = option(False, help="Spectral normalisation of D's weights (Miyato et al. 2018; not with "
                                 "--per-class-gans).", panel=_MODEL)
    # 0.9 for a DCGAN: on the 3,000 shared apples at 40 epochs (bench_gan_quality.py's judge, 2,048 fresh drawings,
    # seeds 0 and 1) a patch share of 10/11 lowered speckle from 1.83x real to 1.19x and 1.45x, judged 93.7% and
    # 94.4% against 92.7% with no head; 1/2 gave 1.58x, 3/4 1.23x and 1.59x, 30/31 a higher Frechet distance (28.8
    # against 23.8). 0 for an AC-GAN: on apple, cat, fish and eye a share of 0.9 was judged 59-61% as the intended
    # class at epochs 47-49 against 67% without, with more speckle (1.3-1.5x against 1.1x).
    d_patch: float | None = option(None, help="Share of the adversarial loss given to D's patch head (PatchGAN, Isola "
                                   "et al. 2017): a 1x1 conv on D's last maps judges each 13x13-pixel patch real or "
                                   "fake beside the whole drawing, so stray dots and faint strokes, which are local, "
                                   "are judged where they are (0: no head; default: 0.9 for a DCGAN and per-class "
                                   "GANs, 0 for an AC-GAN, whose class loss it outweighed).", panel=_MODEL, min=0,
                                   max=1, max_open=True)
    gan_loss: str = option("bce", help="Adversarial loss: bce (DCGAN, non-saturating G) or hinge (SNGAN; ignores "
                           "--label-smoothing).", panel=_OPT, choices=GAN_LOSSES, metavar="LOSS")
    # 50: the default DCGAN is judged >= 90% on the 3,000 shared apples from epoch 11 and its speckle still falls
    # after epoch 40: fresh drawings of the kept generator had 1.21x and 1.37x real speckle (seeds 0 and 1) where 40
    # epochs gave 1.40x (bench_gan_quality.py: 0.08 CPU-minutes an epoch with judging, one thread).
    epochs: int = option(50, help="Epochs (passes of D over the training drawings). Each costs about 1.8 CPU-seconds "
                         "per 1,000 training drawings at the default widths, judging included: 50 on the 3,000 shared "
                         "apples is about 4 CPU-minutes, judged >= 90% from about epoch 11.", panel=_OPT,
                         short="-e", min=1, max=100_000, form="Epochs")
    batch_size: int = option(32, help="Real drawings per discriminator step (more steps per epoch at 32 than at "
                             "study 003's 128: better drawings per CPU-minute).", panel=_OPT, short="-b", min=2,
                             max=65_536, form="Batch")
    lr_g: float = option(2e-4, help="Generator learning rate (TTUR: may differ from D's).", panel=_OPT, min=0,
                         min_open=True)
    lr_d: float = option(2e-4, help="Discriminator learning rate.", panel=_OPT, min=0, min_open=True)
    lr_decay: float = option(0.0, help="Share of the run's last steps over which both learning rates fall linearly "
                             "to 0 (pix2pix's schedule; 0: constant).", panel=_OPT, min=0, max=1)
    beta1: float = option(0.5, help="Adam beta1 (DCGAN: 0.5).", panel=_OPT, min=0, max=1, max_open=True)
    beta2: float = option(0.999, help="Adam beta2.", panel=_OPT, min=0, max=1, max_open=True)
    label_smoothing: float = option(0.1, help="One-sided (Salimans et al. 2016): D's target for real drawings is "
                                    "1 - this (0: off).", panel=_OPT,
                                    min=0, max=1, max_open=True)
    d_steps: int = option(1, help="Discriminator steps per generator step.", panel=_OPT, min=1, max=100)
    g_ema: float = option(0.99, help="Sample from a moving average of G's weights with this decay per step (0: off; "
                          "0.999 lags too long for runs of a few thousand steps).", panel=_OPT, min=0, max=1, max_open=True)
    sample_every: int = option(0, help="Also render the fixed-noise grid every N steps (0: at epoch ends only).",
                               panel=_SAMPLES, min=0, max=10_000_000)
    grid_cols: int = option(8, help="Samples per class row in the grid.", panel=_SAMPLES, min=1, max=64)
    judge: int | None = option(None, help="Classifier run that judges the samples (default: the best finished one "
                               "covering the classes).", panel=_SAMPLES, min=1, max=2**62)
    no_judge: bool = option(False, help="Record losses only, no judged quality.", panel=_SAMPLES)
    quality_n: int = option(256, help="Generated drawings per class judged each epoch.", panel=_SAMPLES, min=2,
                            max=100_000)
    collapse_threshold: float = option(0.5, help="Mode-collapse alarm when sample diversity falls below this share "
                                       "of real diversity.", panel=_SAMPLES, min=0, max=1)
    best_by: str = option("fid", help="Which epoch's generator is kept as the best (what 'qd gan sample' draws "
                          "with): fid, the lowest Frechet distance, or judged, the highest judged share.",
                          panel=_SAMPLES, choices=tuple(CRITERIA), metavar="CRITERION")
    keep_generators: bool = option(True, help="Keep each epoch's generator weights (for 'qd gan sample --epoch').",
                                   panel=_SAMPLES)
    amp: bool | None = option(None, help="Mixed precision (default: auto: CUDA, CPUs with bf16).", panel=_RUN)
    device: str = option("auto", help="auto (cuda, then mps, then cpu), cpu, cuda or mps.", panel=_RUN,
                         choices=DEVICES, form="Device")
    log_every: int = option(25, help="Steps between progress updates (host syncs).", panel=_RUN, min=1,
                            max=1_000_000)

    @property
    def patch_share(self) -> float:
        """The patch head's share of the adversarial loss: --d-patch, else the model's measured default."""
        return PATCH_SHARES[self.model] if self.d_patch is None else self.d_patch

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)

    def validate(self, origin: str = "option") -> GanConfig:
        """Checks across fields (each value was checked against its declaration)."""
        super().validate(origin)
        if self.kernel is not None and self.kernel % 2 == 0:
            raise ConfigError(f"{origin}: kernel={self.kernel} must be odd for the GAN's 'same' (transposed) convs")
        if self.per_class_gans and self.model == "acgan":
            raise ConfigError(f"{origin}: per_class_gans trains one unconditional DCGAN per category; use it with "
                              "model dcgan (an AC-GAN already covers every class in one pair)")
        if self.per_class_gans and self.spectral_norm:
            raise ConfigError(f"{origin}: spectral_norm is not available with per_class_gans (the grouped "
                              "discriminators would be normalised as one matrix); leave one of them off")
        return self

    def model_options(self) -> dict[str, Any]:
        """Options for build_gan."""
        return {"g_width": self.g_width, "d_width": self.d_width, "kernel": 5 if self.kernel is None else self.kernel,
                "dropout": self.d_dropout, "batch_norm": True if self.batch_norm is None else self.batch_norm,
                "upsample": self.upsample, "spectral_norm": self.spectral_norm, "init": self.init,
                "out_shift": self.g_out_shift, "out_scale": self.g_out_scale, "patch": self.patch_share > 0}


def gan_fields():
    """The declared options, in order (CLI flags and form rows are generated from these)."""
    return fields_of(GanConfig)
