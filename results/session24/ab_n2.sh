#!/bin/bash
# Session 24, round 2 of ab_n.sh: two other trial lengths side by side (same recipe, 12 minutes each, one process
# each), both paired against round 1's n10 arm (runs/s24/ab_n10, run the same way beside the n15 arm):
#   bash results/session24/ab_n2.sh 20 25
set -e
mkdir -p runs/s24
R="--phi transition --hidden 128 --shared --head state --aux reward --kl-check last --trials-per-iter 512
   --minibatch 128 --minutes 12 --total-timesteps 1000000000 --eval-instances 2000 --no-baselines"
for m in "$@"; do
  python rl2_mdp.py --n $m $R --out runs/s24/ab_n$m > runs/s24/ab_n$m.log 2>&1 &
done
wait
for m in "$@"; do
  for n in 10 25; do
    python rl2_mdp.py --n $n --eval-only --checkpoint runs/s24/ab_n$m/checkpoint.pt --eval-instances 2000 \
        --no-baselines > runs/s24/ab_n${m}_at_n$n.log 2>&1 &
  done
  wait
done
for m in "$@"; do
  for n in 10 25; do
    python results/session18/paired.py $n runs/s24/ab_n10/checkpoint.pt runs/s24/ab_n$m/checkpoint.pt \
        > runs/s24/ab_n${m}_paired_n$n.txt 2>&1 &
  done
  wait
done
