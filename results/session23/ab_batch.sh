#!/bin/bash
# Session 23: the update is bound by per-operation overhead (B = 32-64 trials of 100 steps: a minibatch of twice
# the trials costs little more), so try larger minibatches, 12 minutes each from scratch, one process each, side by
# side, against ab_model.sh's --aux reward arm (the same recipe, 256 trials per iteration in minibatches of 64,
# run the same way 20 minutes earlier):
#   b512: 512 trials per iteration in minibatches of 128 (as many gradient steps per iteration, each on 2x the trials)
#   mb128: 256 trials per iteration in minibatches of 128 (half the gradient steps per iteration)
set -e
mkdir -p runs/s23
R="--n 10 --phi transition --hidden 128 --shared --head state --aux reward --kl-check last
   --minutes 12 --total-timesteps 100000000 --eval-instances 2000 --no-baselines"
python rl2_mdp.py $R --trials-per-iter 512 --minibatch 128 --out runs/s23/ab_b512 > runs/s23/ab_b512.log 2>&1 &
python rl2_mdp.py $R --trials-per-iter 256 --minibatch 128 --out runs/s23/ab_mb128 > runs/s23/ab_mb128.log 2>&1 &
wait
for arm in b512 mb128; do
  python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s23/ab_$arm/checkpoint.pt --eval-instances 2000 \
      --no-baselines > runs/s23/ab_${arm}_n25.log 2>&1 &
done
wait
for arm in b512 mb128; do
  for n in 10 25; do
    python results/session18/paired.py $n runs/s23/ab_reward/checkpoint.pt runs/s23/ab_$arm/checkpoint.pt \
        > runs/s23/ab_${arm}_paired_n$n.txt 2>&1 &
  done
  wait
done
