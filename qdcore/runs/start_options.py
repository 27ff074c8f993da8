"""How `qd train` and `qd gan train` start, continue or spread a run: declared once for both commands."""

from __future__ import annotations

from dataclasses import dataclass

from qdcore.options import option

RUNTIME = "Runtime"


@dataclass
class StartOptions:
    """The options of a training command that are not part of the run's config."""

    config: str | None = option(None, help="TOML or .json file with training options (keys as the flags, with "
                                "underscores).", panel=RUNTIME, metavar="PATH")
    resume: str | None = option(None, help="Continue an interrupted run (its id, or 'last') to its planned end.",
                                panel=RUNTIME, metavar="RUN")
    run_id: int | None = option(None, help="Train the run a launcher created (its stored config).", panel=RUNTIME,
                                min=1, hidden=True)
    nproc: int | None = option(None, help="Train one model over N processes (one per GPU; Gloo ranks on CPU) "
                               "through torchrun and DistributedDataParallel.", panel=RUNTIME, min=1, max=1024,
                               metavar="N")
    nnodes: int = option(1, help="Machines in a multi-node run (with --nproc and --rdzv-endpoint; run the same "
                         "command on each).", panel=RUNTIME, min=1, max=100_000, metavar="N")
    rdzv_endpoint: str | None = option(None, help="HOST:PORT where the nodes of a multi-node run meet.",
                                       panel=RUNTIME, metavar="HOST:PORT")
    json: bool = option(False, help="Print JSON instead of tables.", panel="Options", negatable=False)


@dataclass
class TrainStart(StartOptions):
    """`qd train`'s: the start options, plus which kind and preset (`qd gan train` trains the gan kind)."""

    kind: str | None = option(None, help="Kind of run (default: the one that trains --model).", panel=RUNTIME)
    preset: str | None = option(None, help="Start from a recipe: strong (augmentation, BN, cosine lr) or plain "
                                "(study 003: Adam 1e-3, batch 256, 10 epochs).", panel=RUNTIME)
