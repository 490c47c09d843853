#!/bin/bash
# Session 23: steps per second of the 2-process recipe before and after this session's two speed changes, late in
# training (from session 22's hour checkpoint, where the last epoch's iterate is kept in every iteration), one run at
# a time on the idle machine, in the order A F L L F A so drift hits all three alike.
#   A: the code before (commit 9058e8b, checked out in OLD); F: fused GRU kernel on the CPU, --kl-check each;
#   L: fused GRU kernel and --kl-check last.
# usage: bash results/session23/ab2p.sh OLD_CHECKOUT
set -e
OLD=$1
CKPT=$PWD/results/session22/hour2p_n10_60min/checkpoint.pt
ARGS="--n 10 --phi transition --hidden 128 --shared --head state --minibatch 32 --trials-per-iter 256 --aux reward
      --total-timesteps 1536000 --lr 1e-3 --eval-instances 10 --no-baselines --init-from $CKPT"
run() {  # name dir extra...
  local name=$1 dir=$2; shift 2
  (cd $dir && torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py $ARGS "$@" --out /tmp/ab2p_$name > /tmp/ab2p_$name.log 2>&1)
  python - "$name" <<'PY'
import csv, statistics, sys
r = list(csv.DictReader(open(f"/tmp/ab2p_{sys.argv[1]}/progress.csv")))
dt = [float(b["seconds"]) - float(a["seconds"]) for a, b in zip(r[9:], r[10:])]  # iterations 11-60
print(f"{sys.argv[1]}: {len(r)} iterations, {r[-1]['seconds']} s; iterations 11-60: median {statistics.median(dt):.3f} s, "
      f"{25600 / statistics.median(dt):,.0f} steps/s; epoch kept {sorted(set(x['epoch_kept'] for x in r))}")
PY
}
for arm in A1 F1 L1 L2 F2 A2; do
  case $arm in
    A*) run $arm $OLD ;;
    F*) run $arm $PWD --kl-check each ;;
    L*) run $arm $PWD --kl-check last ;;
  esac
done
