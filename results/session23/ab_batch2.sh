#!/bin/bash
# Session 23: does the larger-batch trend go on? 1024 trials per iteration in minibatches of 256 against the winner of
# ab_batch.sh (512 in minibatches of 128), 12 minutes each from scratch, one process each, side by side.
set -e
mkdir -p runs/s23
R="--n 10 --phi transition --hidden 128 --shared --head state --aux reward --kl-check last
   --minutes 12 --total-timesteps 100000000 --eval-instances 2000 --no-baselines"
python rl2_mdp.py $R --trials-per-iter 512 --minibatch 128 --out runs/s23/ab2_b512 > runs/s23/ab2_b512.log 2>&1 &
python rl2_mdp.py $R --trials-per-iter 1024 --minibatch 256 --out runs/s23/ab2_b1024 > runs/s23/ab2_b1024.log 2>&1 &
wait
for arm in b512 b1024; do
  python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s23/ab2_$arm/checkpoint.pt --eval-instances 2000 \
      --no-baselines > runs/s23/ab2_${arm}_n25.log 2>&1 &
done
wait
for n in 10 25; do
  python results/session18/paired.py $n runs/s23/ab2_b512/checkpoint.pt runs/s23/ab2_b1024/checkpoint.pt \
      > runs/s23/ab2_paired_n$n.txt 2>&1 &
done
wait
