"""Fidelity: every named study's `--quick` on real drawings, one table of its claims against the paper.

For each study (every named one with a --quick protocol, or those named with --studies), `qd study run NAME --quick --workers 2` runs in
a fresh store on --data, then `qd study show 1 --json` gives its claims' verdicts. One row per claim: study,
claim, the paper's number or direction, qd's estimate with its 95% interval over seeds, the verdict, and the
study's minutes (wall clock, and CPU minutes of every process it ran: the machine may be shared and busy, so
the CPU figure is the one that says what the study costs). --limit-minutes stops a study cleanly (Ctrl-C, as a
user would) and judges the trials finished by then; the table says how many that was.

Usage: python benchmarks/fidelity.py [--studies imbalance,classes-rows] [--data ../shared/quickdraw/numpy_bitmap]
       [--workers 2] [--limit-minutes 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_study(name: str, data: str, workers: int, limit_s: float | None) -> dict:
    """Run one named study's --quick in a fresh store; its claims, trial counts and minutes."""
    home = tempfile.mkdtemp(prefix=f"qd-fidelity-{name}-")
    env = dict(os.environ, QD_HOME=home, COLUMNS="400")  # notes on one line each
    env.pop("OMP_NUM_THREADS", None)  # the runner shares the cores out between its workers
    cmd = [sys.executable, "-m", "qdcore.cli.main", "study", "run", name, "--quick", "--data", data,
           "--workers", str(workers)]
    cpu0, t0 = _cpu_children(), time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    stopped = False
    try:
        out, err = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        stopped = True
        proc.send_signal(signal.SIGINT)  # the study stops after its running trials' current step, loses nothing
        out, err = proc.communicate()
    wall, cpu = time.perf_counter() - t0, _cpu_children() - cpu0
    notes = [ln.removeprefix("note: ") for ln in err.splitlines() if ln.startswith("note:")]
    if proc.returncode not in (0, 130, -signal.SIGINT) and not stopped:
        return {"study": name, "error": (err.strip().splitlines() or ["?"])[-1], "minutes": wall / 60,
                "cpu_minutes": cpu / 60, "claims": [], "notes": notes}
    show = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "study", "show", "1", "--json"],
                          capture_output=True, text=True, env=env)
    shown = json.loads(show.stdout) if show.returncode == 0 else {}
    done = sum(1 for t in shown.get("trials", []) if t.get("status") == "done")
    untrained = sum(1 for t in shown.get("trials", []) if t.get("not_trained"))
    return {"study": name, "minutes": wall / 60, "cpu_minutes": cpu / 60, "stopped": stopped,
            "trials": len(shown.get("trials", [])), "done": done, "not_trained": untrained,
            "claims": shown.get("claims", []), "claim_notes": shown.get("claim_notes", []), "notes": notes}


def _interval(c: dict) -> str:
    if c.get("estimate") is None:
        return "—"
    if c.get("low") is None:
        return f"{c['estimate']:.3g} (n={c['seeds']})"
    return f"{c['estimate']:.3g} [{c['low']:.3g}, {c['high']:.3g}]"


def table(results: list[dict]) -> str:
    """The fidelity table as Markdown: one row per claim."""
    lines = ["| study | claim | paper | qd (95% interval) | verdict | minutes (wall / CPU) |", "|---|---|---|---|---|---|"]
    for r in results:
        mins = f"{r['minutes']:.1f} / {r['cpu_minutes']:.1f}"
        if r.get("stopped"):
            mins += f" (stopped: {r['done']} of {r['trials']} trials)"
        if r.get("error"):
            lines.append(f"| {r['study']} | — | — | — | failed: {r['error']} | {mins} |")
            continue
        for c in r["claims"]:
            lines.append(f"| {r['study']} | {c['claim']} | {c['paper_text']} | {_interval(c)} | {c['verdict']} "
                         f"| {mins} |")
    return "\n".join(lines)


def main() -> None:
    from qdcore.studies.named import NAMED

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = [n for n, st in NAMED.items() if st.has_quick]
    ap.add_argument("--studies", default=",".join(quick),
                    help="comma-separated named studies (default: every one with a --quick protocol)")
    ap.add_argument("--data", default=None, help="drawings (default: ../shared/quickdraw's numpy_bitmap)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit-minutes", type=float, default=None, help="stop a study after this long, judge the rest")
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args()
    names = [n.strip() for n in a.studies.split(",") if n.strip()]
    unknown = [n for n in names if n not in NAMED]
    if unknown:
        raise SystemExit(f"fidelity: unknown named studies {', '.join(unknown)}; named: {', '.join(NAMED)}")
    from qdcore.paths import shared_quickdraw

    shared = shared_quickdraw()
    a.data = a.data or (str(shared / "numpy_bitmap") if shared else None)
    if not a.data or not Path(a.data).exists():
        print(f"fidelity: skipped: no drawings at {a.data or '../shared/quickdraw'} (the shared Quick, Draw! subset)")
        return
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} at start; --workers {a.workers}", flush=True)
    slow = [n for n in NAMED if n not in quick] if a.studies == ap.get_default("studies") else []
    if slow:  # their --quick is their full protocol: hours, named explicitly to run
        print(f"not run: {', '.join(slow)} (no --quick protocol: hours on a CPU, see 'qd study estimate NAME'; "
              "name it in --studies to run it)", flush=True)
    results = []
    for n in names:
        r = run_study(n, a.data, a.workers, None if a.limit_minutes is None else a.limit_minutes * 60)
        results.append(r)
        print(f"{n}: {r['minutes']:.1f} min wall, {r['cpu_minutes']:.1f} CPU min, "
              f"{r.get('done', 0)}/{r.get('trials', 0)} trials done, {r.get('not_trained', 0)} not trained"
              + (f"; {r['error']}" if r.get("error") else ""), flush=True)
        for note in r.get("notes", []) + r.get("claim_notes", []):
            print(f"  note: {note}", flush=True)
        if a.json:
            Path(a.json).write_text(json.dumps(results, indent=1))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(table(results))


if __name__ == "__main__":
    main()
