"""The seed studies' experiments as named studies: the paper's protocol by default, --quick for a CPU in minutes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qdcore.data.categories import NAMED_SETS, official_categories, suggest
from qdcore.errors import ConfigError
from qdcore.studies import paper_claims as PC
from qdcore.studies.claims import Claim
from qdcore.studies.named_staged import ABOUT, MAMMALS_ALIKE, QUICK_WARMUP_001
from qdcore.studies.spec import StudySpec


@dataclass(frozen=True)
class Named:
    """A named study: where it comes from, and how to build its spec (full or quick)."""

    name: str
    source: str
    about: str
    build: Callable[[bool], dict[str, Any]]
    categories: Callable[[bool], list[str]]  # the protocol's categories (full) / how many the quick one needs
    paper: dict[str, Any]
    claims: tuple[Claim, ...] = ()  # the paper's findings, judged per study (qdcore.studies.claims)
    # Where qd's full protocol differs from the paper's on purpose, or the paper leaves a choice open.
    deviations: tuple[str, ...] = ()
    alike: tuple[str, ...] = ()  # substitutes by meaning, tried in order before the data's best-stocked categories
    # Why --quick cannot show the paper's effect in minutes on a CPU, and the named study that can (its smallest
    # protocol): `qd study run NAME --quick` says so, with that protocol's projected time, before it starts.
    quick_cannot: str = ""
    smallest: str = ""

    @property
    def has_quick(self) -> bool:
        """Whether --quick is a smaller protocol than the full one (double-descent-small has none: it is already
        the smallest that can show its effect, hours on a CPU)."""
        return self.build(True) != self.build(False)


# --quick keeps each paper's batch sizes and sizes trials by optimizer steps (QUICK_STEPS), not epochs: at a few
# dozen steps a classifier still answers its class prior (measured: imbalance at 1:50 needs about 130 steps).
QUICK_STEPS = {"data-size": 300, "imbalance": 600, "classes-rows": 500, "one-at-a-time": 150, "categories": 400,
               "baselines": 400, "double-descent": 300, "gan-augment": 150, "d-classifier": 300, "gan-classes": 150,
               "clusters": 200, "double-descent-small": 300}
QUICK_SEEDS = 3  # --quick's default: enough for a 95% interval over seeds
QUICK_MINORITY = 100  # --quick: the fewest drawings a minority class trains on (fewer shows no effect)
QUICK_EQUAL_EPOCHS = ("one-at-a-time",)  # --quick sizes every trial by the base's batch: equal epochs (spec.py)
_QUICK_001 = (
    "--quick: 1,000 drawings a class (001: 6,000) and the same epochs for every variant, those in which the "
    "baseline's batch 256 makes at least 150 steps (9 epochs; batch 32 then makes 1,188 steps and batch 1000 45): "
    "001 trained every variant for the same epochs, so the batch claims compare equal epochs; no early stopping",
    f"--quick: the lr rises linearly to its value (Adam: 001's 0.01) over the first {QUICK_WARMUP_001:g} epochs (001 "
    "has no warm-up): at 0.01 from the first step 15 of 45 quick trials predicted one class (filter 4 and 5, doubled "
    "convs and 001's best model at most seeds); warmed up, each of them trained (filter 4 seed 0: 67.3% test "
    "against 14.3%)",
    "--quick: sgd is not run, so 'SGD scores slightly below Adam' is inconclusive: Keras's SGD (lr 0.01, no "
    "momentum) is still at the prior's loss after 12 epochs (test loss 1.93 against ln 7 = 1.95 at 3 seeds, with "
    "and without warm-up); 001's full protocol (up to 30 epochs of 3,600 a class, ~3,000 steps) is the one to "
    "judge it on",
)


def _data_size(quick: bool) -> dict[str, Any]:
    rows = [250, 500, 1000, 2000] if quick else [500, 1000, 3000, 5000, 7000, 10000]
    return {"base": {"model": "cnn2-000", "epochs": 10, "batch_size": 32,
                     "val": 0.2, "test": 0.0},
            "axes": {"per_class": rows}}


def _imbalance(quick: bool) -> dict[str, Any]:
    # The paper's test set: 10,000 of each class that no trial trains on, the same for every ratio.
    return {"minority": "{1}",  # the second category: hammer in the paper
            # 40,000: the fork drawings the paper trained on (80% of its 50,000); the ratios apply to it.
            # --quick: 2,800 of the majority so the scarcest minority (1:25) still has 112 drawings
            "base": {"model": "cnn2-000", "per_class": 2800 if quick else 40000, "epochs": 1 if quick else 10,
                     "batch_size": 32, "val": 0.0, "test": 0.0,
                     "balanced_test": 200 if quick else 10000},
            "axes": {"imbalance": [0.04, 0.1, 0.2, 0.5, 1.0] if quick else [0.002, 0.02, 0.1, 0.2, 0.5, 1.0]}}


def _classes_rows(quick: bool) -> dict[str, Any]:
    # --quick: 5 epochs, so steps still grow with rows as in the paper's fixed 10 (at a fixed step count more
    # rows bring no more training, and the rows effect vanishes: measured, slope 5e-7 [-2.4e-5, 2.6e-5])
    return {"base": {"model": "cnn2-000", "epochs": 5 if quick else 10, "batch_size": 32,
                     "val": 0.0, "test": 0.2},
            "axes": {"categories": [3, 4, 5, 6] if quick else list(range(3, 11)),
                     "per_class": [1000, 1750, 2500] if quick else list(range(7000, 20001, 1000))}}


_OAT_VARIANTS: list[dict[str, Any]] = [
    {"name": "baseline"},
    *({"name": f"batch {b}", "batch_size": b} for b in (32, 64, 128, 1000)),  # 256 is the baseline
    # 001 names no settings for these two: Keras's defaults (SGD without momentum; RMSprop rho 0.9).
    {"name": "sgd", "optimizer": "sgd", "lr": 0.01, "momentum": 0.0},
    {"name": "rmsprop", "optimizer": "rmsprop", "lr": 1e-3, "alpha": 0.9},
    # 4x4, 5x5 and 3x3 pools shrink 28x28 to nothing with valid convs: they need 'same' padding, so the
    # 'same' baseline is their control.
    {"name": "baseline (same padding)", "model_opts": {"padding": "same"}},
    {"name": "filter 4", "kernel": 4, "model_opts": {"padding": "same"}},
    {"name": "filter 5", "kernel": 5, "model_opts": {"padding": "same"}},
    {"name": "avg pool", "pooling": "avg"},
    {"name": "pool 3", "model_opts": {"pool_size": 3, "padding": "same"}},
    {"name": "avg pool 3", "pooling": "avg", "model_opts": {"pool_size": 3, "padding": "same"}},
    {"name": "batch norm", "batch_norm": True},
    {"name": "dropout", "dropout": 0.25, "model_opts": {"head_dropout": 0.25}},
    {"name": "augment", "hflip": True, "vflip": True, "rotate": 45.0},
    # 001's "two additional convolutional layers": one more in each of the first two blocks keeps valid
    # padding and the baseline's 128-wide flatten (the third block's 2x2 map has room for no more).
    {"name": "+2 convs", "model_opts": {"convs": "2,2,1"}},
    {"name": "doubled convs", "model_opts": {"padding": "same", "convs": 2}},
    {"name": "+ dense layer", "model_opts": {"dense": "512,512"}},
    {"name": "best (001 sec. 5)", "model": "cnn-001-best"},
]


def _one_at_a_time(quick: bool) -> dict[str, Any]:
    # 001: Adam at lr 0.01 (Keras's epsilon 1e-7), a 60/20/20 split of 6,000 a class, ReduceLROnPlateau and
    # early stopping on the validation loss, the early-stopping patience a multiple of the plateau's.
    full = {"lr": 0.01, "eps": 1e-7, "val": 0.2, "test": 0.2, "patience": 6, "plateau_patience": 2,
            "plateau_factor": 0.1, "min_lr": 0.0}
    # --quick: the same optimizer, split and plateau schedule, no early stopping (every variant trains the epochs
    # the baseline's batch needs for the study's steps: equal epochs, as 001 compared batches), and a linear
    # warm-up to 001's lr (QUICK_WARMUP_001: without it a third of the trials never left the prior).
    quick_opts = {**full, "patience": 0, "warmup_epochs": QUICK_WARMUP_001}
    # --quick runs only the variants a claim can judge in its steps (14 of 20): each claim's quantity is
    # unchanged; sgd is left out (QUICK_001).
    claimed = {c[k]["variant"] for c in (x.to_dict() for x in PC.ONE_AT_A_TIME) for k in ("where", "versus")}
    return {"base": {"model": "cnn-001-baseline", "per_class": 1000 if quick else 6000, "epochs": 1 if quick else 30,
                     "batch_size": 256, "optimizer": "adam", **(quick_opts if quick else full)},
            "variants": [v for v in _OAT_VARIANTS if not quick or (v["name"] in claimed and v["name"] != "sgd")]}


def _double_descent(quick: bool) -> dict[str, Any]:
    return {"base": {"model": "widthk", "per_class": 250 if quick else 10000, "epochs": 8 if quick else 200,
                     "optimizer": "adam", "lr": 1e-3, "batch_size": 128, "val": 0.2, "test": 0.0},
            "axes": {"width": [1, 2, 4, 8, 16] if quick else list(range(1, 46))},
            "variants": [{"name": "none"}, {"name": "batch norm", "batch_norm": True},
                         # Keras's l2(1e-5) adds 1e-5 * sum(w^2) to the loss: a gradient of 2e-5 * w.
                         {"name": "l2 1e-5", "weight_decay": 2e-5}]}


def _double_descent_small(quick: bool) -> dict[str, Any]:
    # The smallest setting where a model-wise peak can appear on a CPU: a small training set (100 a class) that
    # wide models fit exactly, trained long at a fixed lr; widths past the interpolation threshold (~k = 4-8 here).
    # 20% label noise, as Nakkiran et al. (2019) whose model-wise peaks are sharpest with it (003 used none).
    return {"base": {"model": "widthk", "per_class": 125, "epochs": 400, "optimizer": "adam", "lr": 1e-3,
                     "batch_size": 128, "val": 0.2, "test": 0.0, "label_noise": 0.2},
            "axes": {"width": [1, 2, 3, 4, 6, 8, 12, 16, 24]},
            "variants": [{"name": "none"}]}


def _categories(quick: bool) -> dict[str, Any]:
    return {"base": {"model": "widthk", "width": 4 if quick else 12, "per_class": 400 if quick else 16000,
                     "epochs": 1 if quick else 30, "patience": 0 if quick else 3, "batch_size": 128,
                     "val": 0.2 if quick else 0.25, "test": 0.2 if quick else 0.25},
            "axes": {"categories": [2, 4, 6, 8, 12] if quick else [2, 5, 10, 20, 50, 100, 200, 345]}}


def _baselines(quick: bool) -> dict[str, Any]:
    # The base holds the data selection only (every kind has it); each variant its kind's own options.
    nn = {"epochs": 1 if quick else 30, "batch_size": 128, "patience": 0 if quick else 3}
    # Full: 2,000 training drawings a class as 003 trained on (2,858 x 0.7), beside 10% validation, 20% test.
    return {"base": {"per_class": 200 if quick else 2858, "val": 0.1, "test": 0.2},
            "variants": [{"name": "LightGBM", "kind": "classical", "model": "lightgbm"},
                         {"name": "FC", "model": "fc", **nn},
                         {"name": "CNN", "model": "widthk", "width": 4 if quick else 12, **nn}]}


def _cats(full: list[str], quick_n: int) -> Callable[[bool], list[str]]:
    return lambda quick: full[:quick_n] if quick else full


class _Protocol:
    """Stands in for data when counting a protocol's work: it holds every wanted category, without limit."""

    def __init__(self, wanted: list[str]) -> None:
        self.wanted = list(wanted)

    def categories(self) -> list[str]:
        return self.wanted

    def count(self, category: str) -> int:
        return 10**12


_KERAS = ("init: Keras's (glorot-uniform kernels, zero biases) as the paper's Keras/TensorFlow models, fixed "
          "(--init torch for PyTorch's)",
          "batch norm: PyTorch's momentum 0.1 and eps 1e-5 (Keras: momentum 0.99, eps 1e-3)")
_000 = ("000 names neither the model, batch size nor epochs of its experiments beyond 'the optimal model' and "
        "Fig. 8's 10 epochs: qd uses CNN Model 2 (cnn2-000), Keras's default batch 32 and 10 epochs",)


STUDY000 = NAMED_SETS["study000"]
NAMED: dict[str, Named] = {n.name: n for n in [
    Named("data-size", "000 Fig. 8", "train/val accuracy and loss at the first and last epoch vs drawings per class",
          _data_size, _cats(STUDY000, 6),
          {"show": ["first_train_top1", "train_top1", "first_val_top1", "val_top1", "first_train_loss",
                    "train_loss", "first_val_loss", "val_loss"],
           "columns": ["per_class", "train_top1 first", "train_top1 last", "val_top1 first", "val_top1 last",
                       "train_loss first", "train_loss last", "val_loss first", "val_loss last"],
           "rows": [[500, .39, .92, .58, .82, 1.93, .25, 1.45, .63], [1000, .46, .91, .62, .83, 1.66, .28, 1.22, .63],
                    [3000, .66, .93, .77, .87, 1.09, .22, .77, .87], [5000, .66, .93, .79, .89, .99, .22, .66, .41],
                    [7000, .69, .93, .80, .89, .99, .22, .70, .38], [10000, .76, .91, .83, .89, .79, .20, .56, .35]]},
          PC.DATA_SIZE,
          deviations=(*_000, "test: 000's 80:20 split has no third part; its 'validation' columns are the 20% held out, "
                      "qd's val_* (val 0.2, test 0)", *_KERAS)),
    Named("imbalance", "000 Fig. 9", "fork fixed, hammer at a share of it: per-class test accuracy",
          _imbalance, _cats(["fork", "hammer"], 2),
          {"show": ["train_top1", "test_top1_prior", "test_top1", "test_top1[{0}]", "test_top1[{1}]", "test_loss"],
           # The paper's "test %" is accuracy on its own imbalanced 20% split (99% beside 43% for hammer): qd's
           # test_top1_prior is that quantity (per-class accuracies on the balanced set weighted by the training
           # shares); test_top1 is balanced-set accuracy, a different number.
           "columns": ["imbalance", "train %", "test % (its split)", "fork %", "hammer %"],
           "classes": {"fork %": "test_top1[{0}]", "hammer %": "test_top1[{1}]",
                       "test % (its split)": "test_top1_prior"},
           "rows": [[0.002, 99, 99, 100, 43], [0.02, 99, 99, 99, 81], [0.1, 99, 98, 99, 88], [0.2, 98, 98, 98, 94],
                    [0.5, 98, 97, 98, 95], [1.0, 98, 97, 98, 98]],
           "note": "test: a balanced set drawn before the imbalance, disjoint from training and the same for "
                   "every ratio (the paper's 20,000: 10,000 per class; --quick: 100 per class)"},
          PC.IMBALANCE,
          deviations=(*_000, "train: 40,000 fork (the paper's 80% of 50,000) and the ratio's share of hammer; the paper's "
                      "other 20% is not drawn",
                      "test: the paper's per-class accuracies come from a 'fresh' 20,000 of unstated balance, qd's from "
                      "10,000 a class set aside first; the paper's 'test %' (its imbalanced 20% split) is compared with "
                      "test_top1_prior: qd's per-class accuracies weighted by the training shares", *_KERAS)),
    Named("classes-rows", "000 Figs. 10-11", "test accuracy and loss over categories x rows per category, with OLS",
          _classes_rows, _cats(STUDY000, 6),
          {"formulas": ["test_top1 ~ classes + rows", "test_loss ~ classes + rows"],
           "ols": {"test_top1": {"Intercept": 1.0329, "classes": -0.0188, "rows": 1.601e-05, "r2": 0.955, "n": 91},
                   "test_loss": {"Intercept": -0.1101, "classes": 0.0649, "rows": -5.628e-05, "r2": 0.953, "n": 91}}},
          PC.CLASSES_ROWS,
          deviations=(*_000, "OLS n: the paper's fits have 91 observations while its stated grid (3..10 categories x "
                      "7,000..20,000 rows) has 8 x 14 = 112 points and it does not say which 21 are missing; qd fits "
                      "the whole grid (112 per seed)",
                      "test: the 20% of the paper's 80:20 split (qd: test 0.2, no validation)", *_KERAS)),
    Named("one-at-a-time", "001 sec. 4", "from 001's baseline, vary one thing at a time; then 001's best CNN",
          _one_at_a_time, _cats(NAMED_SETS["mammals"], 7),
          {"columns": ["variant", "test_top1"],
           "rows": [["dropout", 0.83], ["augment", 0.77], ["doubled convs", 0.80], ["best (001 sec. 5)", 0.81]],
           "note": "001 reports these test accuracies in its text; the other variants only as better/worse"},
          PC.ONE_AT_A_TIME,
          deviations=("fixed: Adam lr 0.01 (Keras epsilon 1e-7), a 60/20/20 split of 6,000 a class and ReduceLROnPlateau "
                      "(factor 0.1, Keras's default) as 001 describes (--quick too, with a warm-up: below)",
                      "001 gives no patience: qd reduces the lr after 2 epochs without a val-loss gain and stops after 6 "
                      "(001: the early-stopping patience a multiple of the plateau's), within 30 epochs",
                      "001 names the batch (256) for its best model only; qd's baseline and every variant but the batch "
                      "ones use 256",
                      "sgd and rmsprop: 001 gives no settings; Keras's defaults (SGD lr 0.01 without momentum, RMSprop "
                      "lr 1e-3 rho 0.9)",
                      "filter 4, filter 5, pool 3, avg pool 3 and doubled convs need 'same' padding (valid convs shrink "
                      "28x28 to nothing; 001 does not say what it did): they differ from the baseline in padding too, so "
                      "'baseline (same padding)' runs as their control",
                      "+2 convs: 001's 'two additional convolutional layers', placed one in each of the first two blocks "
                      "(valid padding, as the baseline); 001 does not say where",
                      "dropout 0.25 after each block and before the dense layers (001 gives no rate), batch norm after "
                      "each conv (001 gives no place), + dense layer: a second dense 512 (001 gives no size)",
                      "not run: 001's AlexNet-like models with growing filter sizes and its combinations (no sizes given)",
                      "test: 001's 20% split (1,200 a class), the same drawings for every variant", *_KERAS,
                      *_QUICK_001),
          alike=MAMMALS_ALIKE),
    Named("double-descent", "003 DD", "width-k for k = 1..45, three regimes: final/best test loss and accuracy",
          _double_descent, _cats(NAMED_SETS["dd10"], 4),
          {"show": ["val_top1", "best_val_top1", "val_loss", "best_val_loss", "best_epoch_loss", "best_epoch_top1"],
           "hours_per_curve": 8,
           "note": "003 shows the curves as figures only (about 8 hours per curve on its GPU); qd's 'test' is the "
                   "held-out split evaluated every epoch (val_*), as 003 picked best epochs on its test set"},
          PC.DOUBLE_DESCENT,
          deviations=("label noise: none, as 003 (qd's --label-noise adds it; double-descent-small uses 0.2)",
                      "l2 1e-5: Keras's l2(1e-5) on conv kernels is a gradient of 2e-5 x w; qd's weight_decay 2e-5 "
                      "gives that gradient but to every weight and bias, dense layers too",
                      "003 names no batch size; qd uses 128 (Keras's default is 32)", *_KERAS),
          quick_cannot="double descent cannot show in minutes on a CPU: the peak sits at the width where a model "
                       "first fits its training set exactly, which takes hundreds of epochs (003: about 8 hours per "
                       "curve on a GPU); --quick's widths and steps stay below it, for the curves' shape only",
          smallest="double-descent-small"),
    Named("double-descent-small", "003 DD (smallest)", "the smallest double-descent protocol a CPU can run: 100 "
          "drawings a class, 20% label noise, widths 1..24, 400 epochs, no regularisation",
          _double_descent_small, _cats(NAMED_SETS["dd10"], 10),
          {"show": ["val_top1", "val_loss", "best_val_loss", "train_loss", "best_epoch_loss"],
           "note": "a small training set fitted exactly by the wide models, with 20% of its labels moved to a "
                   "random other class (label_noise 0.2, chosen by seed; validation keeps true labels), as in the "
                   "double-descent literature (Nakkiran et al. 2019), where label noise sharpens the peak"},
          PC.DOUBLE_DESCENT[:1],
          deviations=("003 trains 8,000 a class for 200 epochs over k = 1..45 in three regimes; this protocol keeps "
                      "one regime (none) and shrinks the data so the interpolation threshold falls at small k",
                      "label noise 0.2: 003 used none (its full protocol, 'double-descent', keeps none); the "
                      "literature's small-data curves have it",
                      *_KERAS)),
    Named("categories", "003", "accuracy vs number of categories at k = 12",
          _categories, lambda quick: NAMED_SETS["shared24"][:12] if quick else official_categories(),
          {"note": "003: up to 71.3% on 345 categories; the figure gives no other numbers"},
          PC.CATEGORIES,
          deviations=("003 names no batch size, epochs or patience: qd uses 128, 30 and early stopping after 3 epochs",
                      "test: 4,000 a class (003: 8,000 train, 4,000 validation and 4,000 test a class)", *_KERAS)),
    Named("baselines", "003", "LightGBM vs fully connected vs CNN on 50 categories x 2,000",
          _baselines, lambda quick: official_categories()[:6] if quick else official_categories()[:50],
          {"columns": ["variant", "test_top1"], "rows": [["LightGBM", 0.6210], ["FC", 0.4128], ["CNN", 0.7203]]},
          PC.BASELINES,
          deviations=("fixed: 2,000 training drawings a class, as 003's 'training points per category' (was 1,750); "
                      "qd adds 10% validation (early stopping) and tests on 20%",
                      "003 names no settings of its LightGBM or its FC net: LightGBM's defaults (100 rounds) and "
                      "000's 784-25-12-n net; the CNN is 003's width-k at k = 12", *_KERAS)),
]}

_STAGED = [Named(name, source, about, build, _cats(cats, quick_n), paper, claims, deviations, alike)
           for name, (source, about, build, cats, quick_n, claims, paper, deviations, alike) in ABOUT.items()]
NAMED.update((n.name, n) for n in _STAGED)


def _fill(value: Any, chosen: list[str]) -> Any:
    """Variants' "{0}"-style categories as the chosen (perhaps substituted) ones, through lists and tables."""
    if isinstance(value, str) and "{" in value:
        return value.format(*chosen)
    if isinstance(value, list):
        return [_fill(v, chosen) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, chosen) for k, v in value.items()}
    return value


def named_study(name: str) -> Named:
    """The named study `name` (case-insensitive), or ConfigError with a did-you-mean."""
    key = name.strip().lower()
    if key not in NAMED:
        raise ConfigError(f"unknown named study {name!r}{suggest(key, list(NAMED))}; named studies: "
                          f"{', '.join(NAMED)}")
    return NAMED[key]


def named_spec(name: str, quick: bool = False, data: str | None = None, categories: list[str] | None = None,
               seeds: int | None = None, offline: bool = False) -> tuple[StudySpec, list[str]]:
    """The spec of a named study and notes (substituted categories, protocol differences) to print with it;
    `offline` builds the protocol as written without reading any data (to count its work)."""
    from qdcore.data.opener import open_source  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    st = named_study(name)
    doc = st.build(quick)
    data = data or ("demo" if quick else "cache")
    wanted = list(categories) if categories else st.categories(quick)
    notes: list[str] = []
    if quick:
        steps = QUICK_STEPS.get(st.name, 0)
        sized = (f"every trial the epochs in which the baseline's batch makes at least {steps} optimizer steps (batch "
                 "variants compared at equal epochs)" if st.name in QUICK_EQUAL_EPOCHS else
                 f"every trial at least {steps} optimizer steps (epochs raised to reach them)")
        notes.append(f"--quick: a smaller grid and fewer drawings than the paper, the paper's batch sizes, and {sized}; "
                     "compare directions with the paper, not numbers")
    src = _Protocol(wanted) if offline else open_source(data)
    have = src.categories()
    if not have:
        raise ConfigError(f"data {data!r} holds no drawings; pass --data demo, a folder, or download with 'qd data download'")
    chosen = [c for c in wanted if c in have]
    if len(chosen) < len(wanted):
        # Substitute: keep the protocol's category count, taking the data's best-stocked categories.
        need = len(wanted)
        spare = sorted((c for c in have if c not in chosen), key=lambda c: (-src.count(c), c))
        needed = int(doc["base"].get("per_class") or 0) + int(doc["base"].get("balanced_test") or 0)
        alike = [c for c in st.alike if c in spare and src.count(c) >= needed]  # alike, with enough drawings
        spare = alike + [c for c in spare if c not in alike]
        if categories:
            missing = [c for c in wanted if c not in have]
            raise ConfigError(f"data {data!r} has no drawings of {', '.join(repr(m) for m in missing)}; "
                              f"it holds {', '.join(have[:12])}{' ...' if len(have) > 12 else ''}")
        added = spare[: need - len(chosen)]
        if len(chosen) + len(added) < need and st.name not in ("categories",):
            raise ConfigError(f"data {data!r} has {len(have)} categories; {st.name} needs {need}")
        missing = [c for c in wanted if c not in have]
        # Each substitute takes a missing category's place, so "{1}" (hammer, banana) names its stand-in.
        subs = iter(added)
        picked = [c if c in have else next(subs, None) for c in wanted]
        chosen = [c for c in picked if c is not None]
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        alike = [c for c in added if c in alike]
        notes.append(f"data {data!r} lacks {len(missing)} of the protocol's categories ({shown}); substituted "
                     f"{', '.join(added[:8])}{' ...' if len(added) > 8 else ''}"
                     + (f" ({'all' if alike == added else ', '.join(alike)} chosen by meaning: the protocol's kind)"
                        if alike else
                        " (the data's best-stocked)"))
    base = dict(doc["base"])
    base["data"] = data
    base["categories"] = ",".join(chosen)
    spec: dict[str, Any] = {"name": f"{st.name}{' quick' if quick else ''}", "description": f"{st.source}: {st.about}",
                            "base": base, "axes": dict(doc.get("axes", {})),
                            "variants": _fill(doc.get("variants", []), chosen), "then": _fill(doc.get("then", []), chosen),
                            "paper": dict(st.paper, source=st.source, quick=quick, substituted=len(notes) > int(quick),
                                          claims=[c.to_dict() for c in st.claims],
                                          # "--quick: ..." deviations are the quick protocol's own
                                          deviations=[d for d in st.deviations if quick or not d.startswith("--quick")])}
    if "categories" in spec["axes"]:
        spec["pool"] = chosen
        spec["axes"]["categories"] = [n for n in spec["axes"]["categories"] if n <= len(chosen)]
        if len(spec["axes"]["categories"]) < len(doc["axes"]["categories"]):
            notes.append(f"category counts above the {len(chosen)} available were dropped")
        base.pop("categories")
    if "minority" in doc:
        spec["minority"] = chosen[1]
        # Per-class columns are named by the categories used: {0} is fork's place, {1} hammer's.
        paper = spec["paper"]
        paper["show"] = [k.format(*chosen) for k in paper["show"]]
        paper["classes"] = {c: k.format(*chosen) for c, k in paper["classes"].items()}
    if "balanced_test" in base:
        cap = min(src.count(c) for c in chosen)
        need = base["balanced_test"] + base["per_class"]
        if quick and need > cap and cap - base["balanced_test"] >= 2 * QUICK_MINORITY:
            base["per_class"] = cap - base["balanced_test"]
            notes.append(f"--quick: {base['per_class']} drawings a class to train (the data's {cap} less "
                         f"{base['balanced_test']} for the balanced test)")
        elif need > cap:
            raise ConfigError(f"{st.name} needs {need} drawings of each category ({base['balanced_test']} for the "
                              f"balanced test, {base['per_class']} to train); data {data!r} has {cap} of its "
                              "scarcest chosen category: use --quick or other --data")
    if "per_class" in spec["axes"] or "per_class" in base:
        cap = min(src.count(c) for c in chosen)
        if "per_class" in base and base["per_class"] > cap:
            raise ConfigError(f"{st.name} needs {base['per_class']} drawings per class; data {data!r} has {cap} of "
                              f"its scarcest chosen category: use --quick or other --data")
        rows = [r for r in spec["axes"].get("per_class", []) if r <= cap]
        if "per_class" in spec["axes"]:
            if not rows:
                raise ConfigError(f"data {data!r} has only {cap} drawings of its scarcest chosen category; "
                                  f"{st.name} needs {spec['axes']['per_class'][0]}: use --quick or other --data")
            if len(rows) < len(spec["axes"]["per_class"]):
                notes.append(f"rows per class above {cap} (the data's limit) were dropped")
            spec["axes"]["per_class"] = rows
    if quick and "imbalance" in spec["axes"]:
        keep = [r for r in spec["axes"]["imbalance"] if round(r * base["per_class"]) >= QUICK_MINORITY]
        if len(keep) < len(spec["axes"]["imbalance"]):
            notes.append(f"--quick: ratios leaving the minority under {QUICK_MINORITY} drawings were dropped "
                         f"(kept {', '.join(f'{r:g}' for r in keep)})")
        spec["axes"]["imbalance"] = keep
    if quick:
        spec["min_steps"] = QUICK_STEPS.get(st.name)
        spec["equal_epochs"] = st.name in QUICK_EQUAL_EPOCHS
        spec["seeds"] = list(range(QUICK_SEEDS))
    if seeds:
        spec["seeds"] = list(range(seeds))
    return StudySpec.from_dict(spec, origin=f"named study {st.name}"), notes
