"""One rank of a DDP test run, started by torchrun: train a config, rank 0 saves the weights and summary."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from safetensors.torch import save_file

from qdcore.train import TrainConfig
from qdcore.train.engine import train
from qdcore.train.gan import train_gan
from qdcore.train.gan_config import GanConfig


def _classifier_weights(r) -> dict:
    return r.model.state_dict()


def _gan_weights(r) -> dict:
    return {f"{m}{k}.{name}": v for k, p in enumerate(r.pairs) for m, net in (("g", p.g), ("d", p.d))
            for name, v in net.state_dict().items()}


# spec["trainer"] picks the config, the training function and the weights to save.
TRAINERS = {"classifier": (TrainConfig, train, _classifier_weights), "gan": (GanConfig, train_gan, _gan_weights)}


def main() -> None:
    spec = json.loads(sys.argv[1])
    config, trainer, weights = TRAINERS[spec.get("trainer", "classifier")]
    out = Path(spec["out"])
    stop_at = spec.get("stop_at")
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        if spec.get("die_at") and calls["n"] >= spec["die_at"] and int(os.environ["RANK"]) == 1:
            os._exit(3)  # a rank that dies without a word
        return stop_at is not None and calls["n"] >= stop_at and int(os.environ["RANK"]) == spec.get("stop_rank", 0)

    if spec.get("home"):  # through the store, as `qd train` runs
        from qdcore.runs.run import start
        from qdcore.store import Store

        start(config(**spec["config"]), Store(spec["home"]), should_stop=should_stop, run_id=spec.get("run_id"))
        return
    run_dir = Path(spec["run_dir"])
    r = trainer(config(**spec["config"]), should_stop=should_stop, run_dir=run_dir,
                resume=run_dir if spec.get("resume") else None)
    if int(os.environ["RANK"]) == 0:
        save_file({k: v.contiguous() for k, v in weights(r).items()}, str(out / "weights.safetensors"))
        (out / "summary.json").write_text(json.dumps({"status": r.status, **{k: v for k, v in r.summary.items()
                                                                            if isinstance(v, (int, float, str))}}))


if __name__ == "__main__":
    main()
