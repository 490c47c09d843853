#!/bin/bash
# Session 25, issue 7's k = 10, n = 500 cell: does --trial-end truncate at n = 100 teach the n = 100 policy to keep
# exploring when it is played for 500 pulls? Session 19's n = 100 policy (0.913 of the way to Gittins at n = 500)
# trained on the same step budget (not minutes: the arms may share the CPU with other work) at n = 100, one process
# each, side by side: terminal (the control: the same extra training) and truncate; a step size of 1e-3 cooling to 0.
# Then each played for 500 pulls on the 1000 instances of --eval-only, paired against the unchanged policy.
#   usage: bash results/session25/bandit_trunc.sh [STEPS]   (default 6000000)
set -e
steps=${1:-6000000}
mkdir -p runs/s25
start=results/session19/k10n100/checkpoint.pt
R="--k 10 --n 100 --phi pair --hidden 64 --lr 1e-3 --anneal-lr 1.0 --lam 0.9 --minibatch 32 --trials-per-iter 250
   --total-timesteps $steps --init-from $start --eval-instances 20000 --no-baselines"
for end in terminal truncate; do
  python rl2_bandit.py $R --trial-end $end --out runs/s25/bandit_$end > runs/s25/bandit_$end.log 2>&1 &
done
wait
python results/session20/paired_bandit.py 10 500 $start runs/s25/bandit_terminal/checkpoint.pt \
    runs/s25/bandit_truncate/checkpoint.pt > runs/s25/bandit_trunc_paired_n500.txt 2>&1
