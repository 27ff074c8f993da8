#!/usr/bin/env bash
# Every GPU figure the project reports, as one prepared command for a lent GPU machine; --small runs the same
# steps on this CPU in a few minutes, to check the script before a GPU session spends its time.
#
#   bash benchmarks/gpu_session.sh [--small] DATA_DIR [OUT_DIR] [STEP ...]
#
# DATA_DIR holds Google's numpy bitmaps (e.g. ../shared/quickdraw/numpy_bitmap, or a copy carried to the
# machine); OUT_DIR gets one log per step (default $OUT, else /tmp/qd-gpu-session). STEPs (default all, in
# this order): gpu_check per_gpu gan gan_grouped estimate. On one H200 the GPU limits add up to 600 s, one
# call's limit: run `gpu_check` alone first, then the rest, if a call must leave room for a retry.
# On the device machine: PYTHON picks the interpreter (default python); QD_SHARED points the GAN benchmarks at
# a carried copy of ../shared/quickdraw.
set -u
cd "$(dirname "$0")/.."
small=0
if [ "${1:-}" = "--small" ]; then small=1; shift; fi
data=${1:?usage: gpu_session.sh [--small] DATA_DIR [OUT_DIR] [STEP ...]}
out=${2:-${OUT:-/tmp/qd-gpu-session}}
shift $(( $# >= 2 ? 2 : $# ))
steps=${*:-gpu_check per_gpu gan gan_grouped estimate}
py=${PYTHON:-python}
mkdir -p "$out"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}

run_step() {  # NAME LIMIT_S COMMAND...: run it under a time limit, keep its log, print its tail
    local name=$1 limit=$2 start rc
    shift 2
    echo "== $name (limit ${limit} s): $*"
    start=$(date +%s)
    timeout "$limit" "$@" > "$out/$name.log" 2>&1
    rc=$?
    echo "   exit $rc after $(( $(date +%s) - start )) s$([ $rc = 124 ] && echo ' (time limit)')"
    tail -n 40 "$out/$name.log" | sed 's/^/   /'
}

if [ $small = 1 ]; then dev=cpu; else dev=cuda; fi
for s in $steps; do
    case "$s:$small" in
        gpu_check:1) run_step gpu_check 300 "$py" benchmarks/gpu_check.py --small --data "$data" --budget 100 ;;
        gpu_check:0) run_step gpu_check 330 "$py" benchmarks/gpu_check.py --data "$data" --budget 220 ;;
        per_gpu:1) run_step per_gpu 300 "$py" benchmarks/bench_per_gpu.py --data "$data" --trials 2 --k 2 \
                       --per-class 60 --epochs 1 --estimate '' ;;
        per_gpu:0) run_step per_gpu 150 "$py" benchmarks/bench_per_gpu.py --data "$data" --trials 8 --k 4 \
                       --per-class 500 --epochs 3 ;;
        gan:1) run_step gan 300 "$py" benchmarks/bench_gan.py --device cpu --per-class 128 --epochs 1 --repeats 1 ;;
        gan:0) run_step gan 50 "$py" benchmarks/bench_gan.py --device cuda ;;
        gan_grouped:1) run_step gan_grouped 300 "$py" benchmarks/bench_gan_grouped.py --device cpu --steps 2 \
                           --repeats 1 --g-width 16 ;;
        gan_grouped:0) run_step gan_grouped 40 "$py" benchmarks/bench_gan_grouped.py --device cuda ;;
        estimate:*) run_step estimate 60 "$py" -m qdcore.cli.main study estimate double-descent --device "$dev" ;;
        *) echo "gpu_session: unknown step '$s' (gpu_check per_gpu gan gan_grouped estimate)" >&2; exit 2 ;;
    esac
done
