"""Per-class GANs trained as grouped models: the same outputs, gradients and weights as K separate pairs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from qdcore.models import gan_grouped as gg
from qdcore.store import Store
from qdcore.train.device import resolve
from qdcore.train.gan import Pair, train_gan
from qdcore.train.gan_config import GanConfig
from qdcore.train.gan_group import PairGroup, pair_bytes, plan_groups

SMALL = dict(g_width=4, d_width=4, latent_dim=8, d_dropout=0.0, batch_size=6, d_steps=2, lr_g=1e-3, lr_d=2e-3,
             label_smoothing=0.1, amp=False, device="cpu")
TINY_RUN = dict(data="demo", categories="circle,star,square", per_class=30, epochs=2, batch_size=8, g_width=4,
                d_width=4, latent_dim=8, d_dropout=0.0, grid_cols=2, log_every=1, amp=False, no_judge=True,
                per_class_gans=True, keep_generators=False, device="cpu")


def _pairs(cfg: GanConfig, k: int) -> list[Pair]:
    torch.manual_seed(0)
    return [Pair(cfg, [i], k, resolve("cpu", False), train=False) for i in range(k)]


def test_grouped_forward_equals_the_separate_pairs():
    pairs = _pairs(GanConfig(**SMALL), 3)
    g, d = gg.from_pairs([p.g for p in pairs], [p.d for p in pairs])
    z = torch.randn(5, 3, 8)
    x = torch.rand(5, 3, 28, 28) * 2 - 1
    with torch.no_grad():
        for train in (True, False):  # batch statistics, then running statistics
            for m in (g, *[p.g for p in pairs]):
                m.train(train)
            want = torch.stack([p.g(z[:, k])[:, 0] for k, p in enumerate(pairs)], 1)
            assert torch.allclose(g(z), want, atol=1e-5)
        want = torch.stack([p.d(x[:, k:k + 1]) for k, p in enumerate(pairs)], 1)  # whole drawing, then patches
        assert d(x).shape == (5, 3, 1 + 49) and torch.allclose(d(x), want, atol=1e-5)


def test_grouped_training_steps_match_three_separate_pairs():
    cfg = GanConfig(**SMALL)
    assert 0 < cfg.patch_share < 1  # the default: the patch head's share of the loss is in the reference below
    rt = resolve("cpu", False)
    pairs = _pairs(cfg, 3)
    ref = [(copy.deepcopy(p.g), copy.deepcopy(p.d)) for p in pairs]
    group = PairGroup(cfg, pairs, [0, 1, 2], rt)
    gen = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (40, 28, 28), dtype=torch.uint8, generator=gen)
    orders = [torch.randperm(40, generator=gen)[:n] for n in (10, 7, 13)]  # unequal: the short ones wrap
    group.set_orders(orders)
    noise = [torch.randn(cfg.d_steps, cfg.batch_size, 3, cfg.latent_dim, generator=gen) for _ in range(4)]
    sums = [group.step(cfg, rt, images, bi, cfg.batch_size, noise[bi], 0.9) for bi in range(4)]
    group.export()

    # The reference: each pair alone, the plain DCGAN updates on the same real batches and noise.
    b = cfg.batch_size
    for k, (g, d) in enumerate(ref):
        opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        for bi in range(4):
            for j in range(cfg.d_steps):
                pos = (torch.arange(b) + (bi * cfg.d_steps + j) * b) % len(orders[k])
                real = images[orders[k][pos]].float().unsqueeze(1) / 127.5 - 1
                fake = g(noise[bi][j, :, k])
                logits = d(torch.cat([real, fake.detach()]))  # (2b, 1 + 49): whole drawing, then patches
                target = torch.cat([torch.full((b, 1), 0.9), torch.zeros(b, 1)]).expand_as(logits)
                d_loss = (1 - cfg.patch_share) * F.binary_cross_entropy_with_logits(logits[:, 0], target[:, 0]) + \
                    cfg.patch_share * F.binary_cross_entropy_with_logits(logits[:, 1:], target[:, 1:])
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
            out = d(fake)
            g_loss = (1 - cfg.patch_share) * F.binary_cross_entropy_with_logits(out[:, 0], torch.ones(b)) + \
                cfg.patch_share * F.binary_cross_entropy_with_logits(out[:, 1:], torch.ones_like(out[:, 1:]))
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
        for mine, theirs in ((pairs[k].g, g), (pairs[k].d, d)):
            for (name, a), bb in zip(mine.state_dict().items(), theirs.state_dict().values()):
                # Adam moves a weight by about lr (1e-3) a step whatever its gradient's size, so float rounding in
                # near-zero gradients shows as up to ~2e-5 after 4 steps; a wrong loss would differ by ~1e-3.
                assert torch.allclose(a.float(), bb.float(), atol=5e-5), (k, name, float((a - bb).abs().max()))
        got_g, got_d = group.optimizer_states()[k]
        for got, opt in ((got_g, opt_g), (got_d, opt_d)):
            for i, s in opt.state_dict()["state"].items():
                assert torch.allclose(got["state"][i]["exp_avg"], s["exp_avg"], atol=1e-6)
                assert float(got["state"][i]["step"]) == float(s["step"]) == 4 * (1 if got is got_g else 2)
    assert all(set(s) == {"d_loss", "d_real", "d_fake", "g_loss"} for s in sums)


def test_state_dicts_round_trip_exactly():
    pairs = _pairs(GanConfig(**{**SMALL, "d_dropout": 0.3}), 3)
    for p in pairs:  # distinct running statistics too
        p.g.train()
        p.g(torch.randn(4, 8))
    g, d = gg.from_pairs([p.g for p in pairs], [p.d for p in pairs])
    for parts, grouped in (([p.g for p in pairs], g), ([p.d for p in pairs], d)):
        back = gg.split_state(grouped.state_dict(), 3)
        for m, s in zip(parts, back):
            assert list(s) == list(m.state_dict())
            assert all(torch.equal(s[key], v) for key, v in m.state_dict().items())
        again = gg.join_states(back)
        assert all(torch.equal(again[key], v) for key, v in grouped.state_dict().items())
    fresh = _pairs(GanConfig(**{**SMALL, "d_dropout": 0.3}), 3)
    gg.to_pairs(g, d, [p.g for p in fresh], [p.d for p in fresh])
    for a, b in zip(pairs, fresh):
        assert all(torch.equal(x, y) for x, y in zip(a.g.state_dict().values(), b.g.state_dict().values()))
        assert all(torch.equal(x, y) for x, y in zip(a.d.state_dict().values(), b.d.state_dict().values()))


def test_groups_are_as_few_as_fit_and_even():
    assert plan_groups(4, 100, float("inf")) == [[0, 1, 2, 3]]
    assert plan_groups(10, 100, 400) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert plan_groups(3, 100, 50) == [[0], [1], [2]]  # one pair a group even when it does not fit
    assert pair_bytes(GanConfig(batch_size=256)) > pair_bytes(GanConfig(batch_size=64)) > 0


def _weights(result) -> list[np.ndarray]:
    return [v.float().numpy() for p in result.pairs for m in (p.g, p.d) for v in m.state_dict().values()]


def test_split_groups_train_the_same_pairs_and_resume_across_groupings(tmp_path):
    cfg = GanConfig(**TINY_RUN)
    whole = train_gan(cfg)
    assert whole.summary["pairs_per_group"] == [3]
    one_each = pair_bytes(cfg) * 1.5
    calls = {"n": 0}

    def stop_mid_epoch_1() -> bool:
        calls["n"] += 1
        return calls["n"] >= 2

    part = train_gan(cfg, should_stop=stop_mid_epoch_1, run_dir=tmp_path, memory_budget=one_each)
    assert part.status == "interrupted" and part.summary["pairs_per_group"] == [1, 1, 1]
    done = train_gan(cfg, run_dir=tmp_path, resume=tmp_path)  # per-pair checkpoint, now one group
    assert done.status == "done" and done.summary["epochs"] == 2
    for a, b in zip(_weights(whole), _weights(done)):
        assert np.allclose(a, b, atol=1e-5)
    assert np.allclose(whole.history["train/d_loss"], done.history["train/d_loss"], atol=1e-5)


def test_tiny_per_class_run_writes_samples_and_resumes_to_the_same_epochs(home):
    from gan_runs import whole_and_resumed

    from qdcore.train import gan_files

    cfg = GanConfig(**{**TINY_RUN, "d_dropout": 0.3, "keep_generators": True})
    with Store(home) as store:
        whole, part, done = whole_and_resumed(cfg, store, 2)
        assert done.status == "done" and done.summary["epochs"] == cfg.epochs
        assert store.get_run(part.run_id).summary["pairs_per_group"] == [3]
        epochs = [r.epoch for r in store.metrics(part.run_id) if r.split == "train" and r.name == "d_real"]
        assert epochs == [1, 2]
        run_dir = store.run_dir(part.run_id)
    assert gan_files.grid_epochs(run_dir) == [1, 2] and gan_files.read_grid(run_dir, 2).shape == (3, 2, 28, 28)
    gens, discs, meta, epoch = gan_files.load_gan(run_dir)  # the per-pair files every reader uses
    assert epoch == 2 and len(gens) == len(discs) == 3 and meta["pairs"] == [[0], [1], [2]]
    for a, b in zip(_weights(whole.result), _weights(done.result)):
        assert np.allclose(a, b, atol=1e-5)
    state = done.result.pairs[2].sampler.state_dict()  # the generator samples come from (G's average by default)
    assert all(torch.equal(v, state[key].cpu()) for key, v in gens[2].state_dict().items())


@pytest.mark.parametrize("bad", [dict(name="acgan"), dict(num_classes=2)])
def test_only_unconditional_dcgan_pairs_group(bad):
    arch = {"name": "dcgan", "num_classes": 1, "latent_dim": 8, "g_width": 4, "d_width": 4, "kernel": 5,
            "dropout": 0.0, "batch_norm": True}
    with pytest.raises(ValueError, match="unconditional dcgan"):
        gg.build_grouped({**arch, **bad}, 2)
