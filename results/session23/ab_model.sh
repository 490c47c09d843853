#!/bin/bash
# Session 23: --aux model (mean rewards and transition probabilities) against --aux reward (session 21), 12 minutes
# each from scratch, one process each, side by side on the two cores; session 21's A/B recipe with --kl-check last.
# Then both policies on the 2000 MDPs at n = 10 and n = 25, and paired differences (results/session18/paired.py).
set -e
mkdir -p runs/s23
R="--n 10 --phi transition --hidden 128 --shared --head state --minibatch 64 --trials-per-iter 256 --kl-check last
   --minutes 12 --total-timesteps 100000000 --eval-instances 2000 --no-baselines"
for aux in reward model; do
  python rl2_mdp.py $R --aux $aux --out runs/s23/ab_$aux > runs/s23/ab_$aux.log 2>&1 &
done
wait
for aux in reward model; do
  python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s23/ab_$aux/checkpoint.pt --eval-instances 2000 \
      --no-baselines > runs/s23/ab_${aux}_n25.log 2>&1 &
done
wait
for n in 10 25; do
  python results/session18/paired.py $n runs/s23/ab_reward/checkpoint.pt runs/s23/ab_model/checkpoint.pt \
      > runs/s23/ab_paired_n$n.txt 2>&1 &
done
wait
