"""Model zoo: the studies' parameter counts, options, rebuilds, GAN parts, classical baselines and `qd models`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.errors import ConfigError
from qdcore.models import build_classical, build_gan, build_model, count_params, layer_table, list_models, model_info
from qdcore.models.classical import to_features

torch.set_num_threads(1)

CLASSIFIERS = [m.name for m in list_models("classifier")]
GANS = [m.name for m in list_models("gan")]


@pytest.mark.parametrize("name, classes, params", [
    ("fc", 10, 20_067),
    ("cnn1-000", 10, 320_890),
    ("cnn2-000", 10, 19_322),
    ("cnn-001-baseline", 11, 164_363),
    ("widthk", 10, 65_002),
])
def test_parameter_counts_match_the_studies(name, classes, params):
    assert count_params(build_model(name, classes)) == params


def test_widthk_k_alias_and_width_scaling():
    assert count_params(build_model("widthk", 10, k=12)) == 65_002
    assert build_model("widthk", 10, k=12).arch == build_model("widthk", 10, width=12).arch
    assert count_params(build_model("widthk", 10, width=1)) < count_params(build_model("widthk", 10, width=2))


def test_baseline_layer_table_matches_study_001_figure():
    rows = layer_table(build_model("cnn-001-baseline", 11))
    assert [(s, p) for _, s, p in rows] == [
        ((32, 26, 26), 320), ((32, 13, 13), 0), ((64, 11, 11), 18_496), ((64, 5, 5), 0),
        ((128, 3, 3), 73_856), ((128, 1, 1), 0), ((128,), 0), ((512,), 66_048), ((11,), 5_643)]


def test_registry_lists_every_kind():
    kinds = {m.name: m.kind for m in list_models()}
    for name in ("fc", "cnn1-000", "cnn2-000", "cnn-001-baseline", "cnn-001-best", "widthk", "alexnet1", "alexnet2"):
        assert kinds[name] == "classifier"
    assert kinds["dcgan"] == kinds["acgan"] == "gan"
    assert kinds["logreg"] == kinds["lightgbm"] == "classical"
    for m in list_models():
        assert m.summary and m.source_study
        assert all(h for _, _, h in m.option_docs()), f"{m.name} has an undocumented option"


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_forward_rebuild_and_table(name):
    model = build_model(name, 7)
    x = torch.rand(2, 1, 28, 28)
    out = model(x)
    assert out.shape == (2, 7) and out.dtype == torch.float32
    # The arch survives JSON (it goes into model.json) and rebuilds the same architecture.
    arch = json.loads(json.dumps(model.arch))
    assert arch["name"] == name and arch["num_classes"] == 7
    again = build_model(**arch)
    assert again.arch == model.arch
    assert count_params(again) == count_params(model)
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    again.load_state_dict(model.state_dict())
    model.eval(), again.eval()
    assert torch.allclose(again(x), model(x))
    rows = layer_table(model)
    assert sum(p for _, _, p in rows) == count_params(model)
    assert rows[-1][1] == (7,)
    assert model.feature_layer in dict(model.named_modules())


def _kinds(model: nn.Module) -> list[type]:
    return [type(m) for m in model.modules()]


def test_batch_norm_adds_bn_layers():
    for name in ("widthk", "cnn-001-baseline", "cnn-001-best", "alexnet1", "cnn2-000"):
        assert nn.BatchNorm2d not in _kinds(build_model(name, 10))
        with_bn = build_model(name, 10, batch_norm=True)
        assert nn.BatchNorm2d in _kinds(with_bn)
        assert with_bn.arch["batch_norm"] is True
    assert nn.BatchNorm2d not in _kinds(build_model("alexnet2", 10, batch_norm=False))
    assert nn.BatchNorm1d in _kinds(build_model("fc", 10, batch_norm=True))


def test_kernel_pool_dropout_depth_width_options():
    base = build_model("cnn-001-baseline", 10)
    # Study 001's 4x4/5x5 filter runs need 'same' convs: 'valid' ones shrink 28x28 to nothing (a ConfigError).
    k5 = build_model("cnn-001-baseline", 10, kernel=5, padding="same")
    assert k5.conv1.kernel_size == (5, 5) and count_params(k5) != count_params(base)
    avg = build_model("cnn-001-baseline", 10, pool="avg", pool_size=2)
    assert nn.AvgPool2d in _kinds(avg) and nn.MaxPool2d not in _kinds(avg)
    nopool = build_model("widthk", 10, pool="none")
    assert nn.MaxPool2d not in _kinds(nopool) and nopool(torch.rand(1, 1, 28, 28)).shape == (1, 10)
    assert nn.Dropout in _kinds(build_model("widthk", 10, dropout=0.3))
    assert nn.Dropout not in _kinds(build_model("widthk", 10))
    assert sum(isinstance(m, nn.Conv2d) for m in build_model("widthk", 10, depth=3).modules()) == 3
    assert sum(isinstance(m, nn.Conv2d) for m in build_model("widthk", 10, convs=2).modules()) == 8
    assert build_model("widthk", 10, width=16).conv1.out_channels == 16
    # Per-block kernels: study 000's [3, 2] follows a new depth; a given list must match it.
    m = build_model("cnn2-000", 10, depth=3)
    assert m.arch["kernel"] == [3, 2, 2] and [c.kernel_size[0] for c in m.modules() if isinstance(c, nn.Conv2d)] == [3, 2, 2]
    assert build_model("widthk", 10, kernel=[5, 3, 3, 3]).conv1.kernel_size == (5, 5)
    # dense=[] drops the hidden dense layer; CLI-style strings are coerced.
    assert not hasattr(build_model("widthk", 10, dense=[]), "dense1")
    s = build_model("widthk", 10, width="8", batch_norm="true", pool="AVG", dense="64,32")
    assert s.arch["width"] == 8 and s.arch["batch_norm"] is True and s.arch["pool"] == "avg"
    assert s.dense1.out_features == 64 and s.dense2.out_features == 32
    # The best model of study 001: 5x5 'same' convs, 3x3 average pooling, dropout 0.2.
    best = build_model("cnn-001-best", 11)
    assert best.conv1.kernel_size == (5, 5) and isinstance(best.pool1, nn.AvgPool2d) and best.pool1.kernel_size == 3
    assert [r[1] for r in layer_table(best) if r[0].startswith("pool")] == [(32, 9, 9), (64, 3, 3), (128, 1, 1)]
    assert best.dropout1.p == 0.2


@pytest.mark.parametrize("name, opts, needle", [
    ("widthk", {"k": 0}, "width"),
    ("widthk", {"width": -3}, "width"),
    ("widthk", {"dropout": 1.0}, "dropout"),
    ("widthk", {"dropout": -0.1}, "dropout"),
    ("widthk", {"head_dropout": 2}, "head_dropout"),
    ("widthk", {"pool": "mean"}, "pool"),
    ("widthk", {"padding": "full"}, "padding"),
    ("widthk", {"depht": 3}, "did you mean 'depth'"),
    ("widthk", {"kernel": [3, 3]}, "kernel"),
    ("widthk", {"batch_norm": "maybe"}, "batch_norm"),
    ("widthk", {"depth": 6}, "pool"),
    ("cnn-001-baseline", {"depth": 4}, "shrinks"),
    ("cnn-001-baseline", {"kernel": 5}, "padding=same"),
    ("fc", {"kernel": 3}, "kernel"),
    ("fc", {"hidden": [25, 0]}, "hidden"),
])
def test_bad_options_raise_config_error(name, opts, needle):
    with pytest.raises(ConfigError, match=needle) as e:
        build_model(name, 10, **opts)
    assert "\n" not in str(e.value)


def test_bad_names_and_kinds():
    with pytest.raises(ConfigError, match="did you mean 'widthk'"):
        build_model("widthkk", 10)
    with pytest.raises(ConfigError, match="num_classes"):
        build_model("fc", 1)
    with pytest.raises(ConfigError, match="GAN"):
        build_model("dcgan", 10)
    with pytest.raises(ConfigError, match="build_classical"):
        build_model("lightgbm", 10)
    with pytest.raises(ConfigError, match="not a GAN"):
        build_gan("widthk", 10)
    with pytest.raises(ConfigError, match="odd"):
        build_gan("dcgan", 10, kernel=4)
    with pytest.raises(ConfigError, match="latent_dim"):
        build_gan("dcgan", 10, latent_dim=0)
    assert model_info("CNN_001_Baseline").name == "cnn-001-baseline"
    # None means "not set": an engine may pass its generic flags to any model.
    assert build_model("fc", 10, width=None, dropout=None).arch == build_model("fc", 10).arch


def test_dcgan_shapes_follow_study_003():
    g, d = build_gan("dcgan", 3, latent_dim=100)
    g.eval()
    img = g(torch.randn(4, 100))
    assert img.shape == (4, 1, 28, 28) and img.abs().max() <= 1
    assert d(img).shape == (4, 1)
    shapes = [s for _, s, _ in layer_table(g)]
    assert (12544,) in shapes and (256, 7, 7) in shapes and (64, 14, 14) in shapes
    assert ("body.flatten", (6272,), 0) in layer_table(d)
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.3 for m in d.modules()) == 2
    g2, d2 = build_gan(**json.loads(json.dumps(g.arch)))
    assert count_params(g2) == count_params(g) and count_params(d2) == count_params(d)
    assert sum(p for *_, p in layer_table(g)) == count_params(g)


def test_acgan_conditions_on_labels_and_has_two_heads():
    g, d = build_gan("acgan", 5, latent_dim=16, g_width=8, d_width=8)
    assert g.arch["latent_dim"] == 16 and g.conditional
    z, y = torch.randn(3, 16), torch.tensor([0, 1, 4])
    img = g(z, y)
    assert img.shape == (3, 1, 28, 28)
    g.eval()
    assert not torch.allclose(g(z[:1], y[:1]), g(z[:1], torch.tensor([2])))  # the label changes the image
    with pytest.raises(ValueError):
        g(z)
    src, cls = d(img)
    assert src.shape == (3, 1) and cls.shape == (3, 5)
    assert sum(p for *_, p in layer_table(d)) == count_params(d)


def test_classical_builders():
    rng = np.random.default_rng(0)
    images = np.zeros((60, 28, 28), np.uint8)
    labels = np.repeat(np.arange(3), 20)
    for c in range(3):  # each class inks its own band of rows
        images[labels == c, 8 * c:8 * c + 6, 4:24] = 255
    images = np.clip(images.astype(int) + rng.integers(0, 60, images.shape), 0, 255).astype(np.uint8)
    x = to_features(images)
    assert x.shape == (60, 784) and x.dtype == np.float32 and x.max() <= 1
    lr = build_classical("logreg", C=0.5, max_iter=100)
    assert type(lr).__name__ == "LogisticRegression" and lr.C == 0.5
    assert lr.fit(x, labels).score(x, labels) > 0.9
    gbt = build_classical("lightgbm", n_rounds=5, learning_rate="0.3", min_data_in_leaf=5)
    assert type(gbt).__name__ == "LGBMClassifier" and gbt.learning_rate == 0.3
    assert gbt.fit(x, labels).predict_proba(x).shape == (60, 3)
    assert build_classical(**gbt.arch).get_params() == gbt.get_params()
    with pytest.raises(ConfigError, match="did you mean 'logreg'"):
        build_classical("logreq")
    with pytest.raises(ConfigError, match="C"):
        build_classical("logreg", C=0)
    with pytest.raises(ConfigError, match="no option 'depth'"):
        build_classical("lightgbm", depth=3)


def test_registry_import_does_not_load_torch():
    code = ("import sys; from qdcore.models import list_models; list_models(); "
            "print('torch' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


runner = CliRunner()


def test_cli_list_json():
    res = runner.invoke(app, ["models", "list", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["fc"]["params"] == 20_067 and rows["widthk"]["params"] == 65_002
    assert rows["dcgan"]["kind"] == "gan" and rows["lightgbm"]["params"] is None
    assert rows["cnn-001-baseline"]["study"].startswith("001")


def test_cli_list_table():
    res = runner.invoke(app, ["models", "list"])
    assert res.exit_code == 0 and "320,890" in res.stdout and "alexnet2" in res.stdout


def test_cli_show_prints_layers_and_total():
    res = runner.invoke(app, ["models", "show", "cnn-001-baseline", "--classes", "11"])
    assert res.exit_code == 0, res.output
    assert "Total params: 164,363" in res.stdout and "conv3" in res.stdout and "(128, 3, 3)" in res.stdout
    res = runner.invoke(app, ["models", "show", "widthk", "--opt", "k=12", "--opt", "pool=avg"])
    assert res.exit_code == 0 and "Total params: 65,002" in res.stdout and "pool" in res.stdout


def test_cli_show_json_and_gan():
    res = runner.invoke(app, ["models", "show", "widthk", "-o", "batch_norm=true", "--json"])
    doc = json.loads(res.stdout)
    assert doc["arch"]["batch_norm"] is True
    assert any(r["layer"].startswith("bn") for r in doc["parts"][0]["layers"])
    res = runner.invoke(app, ["models", "show", "acgan", "--json", "-o", "latent_dim=32"])
    doc = json.loads(res.stdout)
    assert [p["part"] for p in doc["parts"]] == ["generator", "discriminator"] and doc["arch"]["latent_dim"] == 32
    res = runner.invoke(app, ["models", "show", "logreg", "--json"])
    assert json.loads(res.stdout)["arch"]["name"] == "logreg"


@pytest.mark.parametrize("args", [
    ["models", "show", "widthkk"],
    ["models", "show", "widthk", "--opt", "k=0"],
    ["models", "show", "widthk", "--opt", "nokeyvalue"],
])
def test_cli_errors_exit_2(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert "Traceback" not in res.output


def _fans(w: torch.Tensor, groups: int = 1) -> float:
    """Keras's glorot fans of one group's kernel: (out + in) x receptive field."""
    receptive = int(np.prod(w.shape[2:])) if w.ndim > 2 else 1
    return (w.shape[0] / groups + w.shape[1]) * receptive


@pytest.mark.parametrize("name", ["cnn-001-baseline", "fc", "widthk"])
def test_keras_init_is_glorot_uniform_with_zero_biases(name):
    torch.manual_seed(0)
    model = build_model(name, 10, init="keras")
    assert model.arch["init"] == "keras"
    for pname, p in model.named_parameters():
        if pname.endswith("bias"):
            assert torch.count_nonzero(p) == 0, pname
            continue
        bound = (6 / _fans(p)) ** 0.5
        # Uniform(-b, b): inside the bound, mean 0, standard deviation b / sqrt(3) (n >= 250 draws per tensor).
        assert p.abs().max() <= bound + 1e-7 and p.abs().max() > 0.9 * bound, pname
        assert float(p.std()) == pytest.approx(bound / 3 ** 0.5, rel=0.12), pname
        assert abs(float(p.mean())) < 4 * bound / (3 * p.numel()) ** 0.5, pname


def test_torch_init_keeps_pytorch_defaults_and_seed_models_default_to_keras():
    torch.manual_seed(0)
    model = build_model("cnn-001-baseline", 11, init="torch")
    conv = model.conv2.weight
    # PyTorch: kaiming-uniform(a=sqrt 5) = U(+-1/sqrt(fan_in)) (0.059 here; glorot's is 0.083), biases nonzero.
    fan_in = conv[0].numel()
    assert 0.9 / fan_in ** 0.5 < conv.abs().max() <= 1 / fan_in ** 0.5 and torch.count_nonzero(model.conv2.bias) > 0
    assert all(build_model(m.name, 5).arch["init"] == "keras" for m in list_models("classifier"))
    # Same architecture either way: the parameter counts of the studies hold for both inits.
    assert count_params(model) == count_params(build_model("cnn-001-baseline", 11)) == 164_363
    # A model stored before --init existed (no "init" in its arch) still rebuilds and loads.
    arch = {k: v for k, v in model.arch.items() if k != "init"}
    again = build_model(**arch)
    again.load_state_dict(model.state_dict())
    with pytest.raises(ConfigError, match="init='xavier' must be one of keras, torch"):
        build_model("fc", 10, init="xavier")


def test_keras_init_of_gan_parts_and_grouped_pairs():
    from qdcore.models.gan_grouped import from_pairs

    g, d = build_gan("acgan", 3, init="keras")
    assert g.arch["init"] == d.arch["init"] == "keras"
    assert float(g.embed.weight.abs().max()) <= 0.05  # Keras Embedding: uniform(-0.05, 0.05)
    w = g.net.convt1.weight  # ConvTranspose2d (in, out, k, k): glorot is symmetric in the fans
    assert float(w.abs().max()) <= (6 / _fans(w)) ** 0.5 + 1e-7
    assert torch.count_nonzero(d.source.bias) == 0
    pairs = [build_gan("dcgan", 1) for _ in range(2)]
    gg, dd = from_pairs([p[0] for p in pairs], [p[1] for p in pairs])
    conv = dd.body.conv2  # grouped: each pair's kernel keeps its own glorot bound
    assert float(conv.weight.abs().max()) <= (6 / _fans(conv.weight, groups=2)) ** 0.5 + 1e-7
