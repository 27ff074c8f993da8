"""The GAN recipe options: G's upsampling, D's spectral norm, the hinge loss (built, trained, stored, refused)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from gan_runs import whole_and_resumed

from qdcore.errors import ConfigError
from qdcore.models import build_gan
from qdcore.models import gan_grouped as gg
from qdcore.store import Store
from qdcore.train import gan_loss
from qdcore.train.gan_config import GanConfig

TINY = dict(data="demo", categories="circle,star", per_class=48, epochs=2, batch_size=16, g_width=4, d_width=4,
            latent_dim=8, grid_cols=3, log_every=1, amp=False, no_judge=True)


def test_nearest_upsampling_makes_an_even_map_where_a_transposed_conv_makes_a_checkerboard():
    # One constant-weight layer on a constant map: the stride-2 transposed conv's uneven overlap shows as a
    # checkerboard (Odena et al. 2016); nearest upsampling then a conv gives a flat map away from the border.
    from qdcore.models.gan import up_layers

    x = torch.ones(1, 1, 7, 7)
    for how, even in (("transposed", False), ("nearest", True)):
        layers = torch.nn.Sequential(up_layers(1, 1, 5, 2, False, how))
        with torch.no_grad():
            for m in layers.modules():
                if hasattr(m, "weight"):
                    m.weight.fill_(1.0)
            inner = layers(x)[0, 0, 4:10, 4:10]
        assert bool(inner.max() == inner.min()) is even, (how, inner)


def test_stored_archs_without_the_new_options_rebuild_study_003s_layers():
    g, d = build_gan("dcgan", 1, 8, g_width=4, d_width=4)  # an arch as runs stored it before these options
    assert hasattr(g.net, "convt2") and g.arch["upsample"] == "transposed" and not g.arch["spectral_norm"]
    g2, d2 = build_gan("dcgan", 1, 8, g_width=4, d_width=4, upsample="nearest", spectral_norm=True)
    assert hasattr(g2.net, "up2") and hasattr(g2.net, "conv2") and not hasattr(g2.net, "convt2")
    assert set(g2.state_dict()) != set(g.state_dict()) and set(d2.state_dict()) != set(d.state_dict())
    again, _ = build_gan(**g2.arch)
    assert set(again.state_dict()) == set(g2.state_dict())


def test_spectral_norm_holds_each_weights_largest_singular_value_at_one():
    _, d = build_gan("acgan", 3, 8, g_width=4, d_width=4, spectral_norm=True)
    d.train()
    x = torch.randn(8, 1, 28, 28)
    for _ in range(30):  # the power iteration converges over forward passes
        d(x)
    convs = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(convs) == 4  # two convs, the source head, the class head
    for m in convs:
        top = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert abs(float(top) - 1.0) < 0.05, (m, float(top))


def test_hinge_loss_is_the_margin_loss_per_pair():
    src = torch.tensor([[2.0, 0.5], [0.0, -3.0], [-2.0, 0.5], [1.0, -0.5]])  # 2 real rows, then 2 fake; 2 pairs
    loss_of = src.unsqueeze(2)  # (2B, K, 1): each pair's whole-drawing logit, no patch head
    want_d = sum(F.relu(1 - src[:2, k]).mean() + F.relu(1 + src[2:, k]).mean() for k in range(2))
    torch.testing.assert_close(gan_loss.d_loss("hinge", loss_of, 2, 0.9), want_d)
    torch.testing.assert_close(gan_loss.g_loss("hinge", loss_of[2:]), -src[2:].mean(0).sum())
    target = torch.tensor([0.9, 0.9, 0.0, 0.0])  # bce: the DCGAN loss with one-sided smoothing, per pair
    want = sum(F.binary_cross_entropy_with_logits(src[:, k], target) for k in range(2))
    torch.testing.assert_close(gan_loss.d_loss("bce", loss_of, 2, 0.9), want)


def test_the_patch_loss_is_its_share_of_the_mean_over_patches():
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(6, 1 + 49, generator=gen)  # 3 real rows, then 3 fake: whole-drawing logit, then 49 patches
    target = torch.tensor([0.9] * 3 + [0.0] * 3)
    per_patch = torch.stack([F.binary_cross_entropy_with_logits(src[:, 1 + i], target) for i in range(49)])
    want = 0.25 * F.binary_cross_entropy_with_logits(src[:, 0], target) + 0.75 * per_patch.mean()
    torch.testing.assert_close(gan_loss.d_loss("bce", src, 3, 0.9, 0.75), want)
    torch.testing.assert_close(gan_loss.d_loss("bce", src, 3, 0.9, 0.0),
                               F.binary_cross_entropy_with_logits(src[:, 0], target))
    hinge = 0.25 * -src[3:, 0].mean() + 0.75 * -src[3:, 1:].mean()
    torch.testing.assert_close(gan_loss.g_loss("hinge", src[3:], 0.75), hinge)


def test_each_patch_logit_sees_only_its_13x13_patch():
    _, d = build_gan("dcgan", 1, 8, g_width=4, d_width=4, dropout=0.0, patch=True)
    x = torch.rand(1, 1, 28, 28) * 2 - 1
    y = x.clone()
    y[0, 0, 27, 27] = -x[0, 0, 27, 27] + 0.5  # one pixel in the bottom-right corner
    with torch.no_grad():
        a, b = d(x), d(y)
    assert a.shape == (1, 1 + 49)
    changed = (a != b)[0, 1:].reshape(7, 7)
    # Patch (r, c) covers rows 4r-6..4r+6 and columns 4c-6..4c+6: only r, c >= 6 reach pixel 27.
    assert changed[6, 6] and not changed[:6].any() and not changed[:, :6].any()
    assert a[0, 0] != b[0, 0]  # the whole-drawing logit sees every pixel
    _, plain = build_gan("dcgan", 1, 8, g_width=4, d_width=4)
    assert plain(x).shape == (1, 1) and not plain.arch["patch"]  # stored archs without it rebuild without it
    assert GanConfig().patch_share == 0.9 and GanConfig(model="acgan").patch_share == 0.0  # measured defaults
    assert GanConfig(model="acgan", d_patch=0.5).model_options()["patch"]


def test_grouped_nearest_generators_equal_the_separate_pairs():
    gens = [build_gan("dcgan", 1, 8, g_width=4, d_width=4, upsample="nearest")[0] for _ in range(3)]
    discs = [build_gan("dcgan", 1, 8, g_width=4, d_width=4, upsample="nearest")[1] for _ in range(3)]
    g, _ = gg.from_pairs(gens, discs)
    z = torch.randn(5, 3, 8)
    with torch.no_grad():
        want = torch.stack([m(z[:, k])[:, 0] for k, m in enumerate(gens)], 1)
        torch.testing.assert_close(g(z), want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("model,per_class", [("dcgan", False), ("acgan", False), ("dcgan", True)])
def test_each_recipe_trains_and_resumes_exactly(home, model, per_class):
    sn = not per_class  # spectral norm is refused for grouped pairs (below)
    cfg = GanConfig(**TINY, model=model, per_class_gans=per_class, upsample="nearest", spectral_norm=sn,
                    gan_loss="hinge", lr_g=1e-4, lr_d=4e-4, lr_decay=0.75, d_patch=0.5)
    with Store(home) as store:
        whole, _, done = whole_and_resumed(cfg, store, 4)
    assert done.status == "done"
    for run in (whole, done):  # the decay reached 0 at the last step, resumed or not
        owners = run.result.pairs if not per_class else []
        assert all(o.opt_g.param_groups[0]["lr"] == 0.0 == o.opt_d.param_groups[0]["lr"] for o in owners)
    for a, b in ((whole.result.pairs[0].d, done.result.pairs[0].d), (whole.result.pairs[0].g, done.result.pairs[0].g)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):  # SN's vectors included
            torch.testing.assert_close(x.float(), y.float(), atol=1e-5, rtol=1e-4, msg=name)


def test_lr_decay_holds_both_rates_then_falls_linearly_to_zero(home):
    from qdcore.events import ListSink, Progress
    from qdcore.runs.run import start

    sink = ListSink()
    with Store(home) as store:
        out = start(GanConfig(**TINY, lr_g=1e-3, lr_d=3e-3, lr_decay=0.5), store, sink)
    lrs = [e.lr for e in sink.events if isinstance(e, Progress)]
    n = len(lrs)  # log_every=1: one Progress a step
    assert n >= 4 and n % 2 == 0, lrs
    half = n // 2
    assert lrs[:half] == [1e-3] * half  # the first half: constant
    assert lrs[half:] == pytest.approx([1e-3 * (half - k) / half for k in range(1, half + 1)])  # then linearly to 0
    p = out.result.pairs[0]
    assert p.opt_g.param_groups[0]["lr"] == 0.0 and p.opt_d.param_groups[0]["lr"] == 0.0


def test_spectral_norm_with_per_class_gans_is_refused():
    with pytest.raises(ConfigError, match="spectral_norm is not available with per_class_gans"):
        GanConfig(**TINY, per_class_gans=True, spectral_norm=True).validate()
    with pytest.raises(ValueError, match="cannot be grouped"):
        gg.build_grouped(build_gan("dcgan", 1, 8, g_width=4, d_width=4, spectral_norm=True)[0].arch, 2)


def test_bad_recipe_flags_are_one_line_errors(home):
    from typer.testing import CliRunner

    from qdcore.cli.main import app

    base = ["gan", "train", "--data", "demo", "--categories", "circle,star", "--epochs", "1", "--no-judge"]
    for extra, says in ((["--per-class-gans", "--spectral-norm"], "not available with per_class_gans"),
                        (["--upsample", "bilinear"], "must be one of transposed, nearest"),
                        (["--gan-loss", "wasserstein"], "must be one of bce, hinge")):
        res = CliRunner().invoke(app, base + extra)
        assert res.exit_code == 2 and says in res.output, res.output
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, res.output
    with Store(home) as store:
        assert store.list_runs() == []  # nothing half-made


def test_output_shift_and_scale_start_black_and_reach_pure_ink():
    from qdcore.models.gan import Ink

    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 3.0])
    torch.testing.assert_close(Ink()(x), torch.tanh(x))  # the defaults: study 003's plain tanh
    shifted = Ink(shift=-2.0)(torch.zeros(3))
    assert bool((shifted < -0.95).all())  # a zero pre-activation is (nearly) black canvas, not mid grey
    scaled = Ink(scale=1.1)(x)
    assert scaled[0] == -1.0 and scaled[-1] == 1.0 and scaled[2] == 0.0  # pure black and white at finite x
    assert bool((scaled.abs() <= 1.0).all())
    g, _ = build_gan("dcgan", 1, 8, g_width=4, d_width=4)  # a stored arch without them rebuilds plain tanh
    assert g.arch["out_shift"] == 0.0 and g.arch["out_scale"] == 1.0
    g2, _ = build_gan("dcgan", 1, 8, g_width=4, d_width=4, out_shift=-1.5, out_scale=1.2)
    again, _ = build_gan(**g2.arch)
    assert (again.net.tanh.shift, again.net.tanh.scale) == (-1.5, 1.2)
    grouped, _ = gg.build_grouped(g2.arch, 2)
    assert (grouped.net.tanh.shift, grouped.net.tanh.scale) == (-1.5, 1.2)
    with pytest.raises(ConfigError, match="out_scale"):
        build_gan("dcgan", 1, 8, out_scale=0.5)


def test_a_run_stored_before_the_patch_head_resumes_without_it():
    stored = {k: v for k, v in GanConfig(**TINY).to_dict().items() if k != "d_patch"}
    old = GanConfig.from_dict(stored)
    assert old.d_patch == 0.0 and old.patch_share == 0.0 and not old.model_options()["patch"]
    new = GanConfig.from_dict({"data": "demo", "epochs": 3})  # a user's file names a few options: the defaults
    assert new.patch_share == GanConfig().patch_share > 0
