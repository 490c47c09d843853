#!/bin/bash
# Session 24: is the n = 25 cell held down because the hour trains on n = 10 trials, whose objective saturates
# near the myopic yardstick (159.7) while n = 25 asks for more exploration? Train on longer trials instead:
# 12 minutes each from scratch, one process each, side by side, session 23's winning batch shape
# (512 trials per iteration in minibatches of 128), both played at n = 10 and n = 25 on the 2000 MDPs, paired.
#   n10: the recipe (session 23's ab_b512 arm, rerun beside the other arm)
#   n15 / n20: the same on trials of 15 / 20 episodes (the same trials per iteration: 1.5x / 2x the steps)
# usage: bash results/session24/ab_n.sh 15      (the n10 arm runs beside it)
set -e
m=$1
mkdir -p runs/s24
R="--phi transition --hidden 128 --shared --head state --aux reward --kl-check last --trials-per-iter 512
   --minibatch 128 --minutes 12 --total-timesteps 1000000000 --eval-instances 2000 --no-baselines"
python rl2_mdp.py --n 10 $R --out runs/s24/ab_n10 > runs/s24/ab_n10.log 2>&1 &
python rl2_mdp.py --n $m $R --out runs/s24/ab_n$m > runs/s24/ab_n$m.log 2>&1 &
wait
for arm in n10 n$m; do
  for n in 10 25; do
    python rl2_mdp.py --n $n --eval-only --checkpoint runs/s24/ab_$arm/checkpoint.pt --eval-instances 2000 \
        --no-baselines > runs/s24/ab_${arm}_at_n$n.log 2>&1 &
  done
  wait
done
for n in 10 25; do
  python results/session18/paired.py $n runs/s24/ab_n10/checkpoint.pt runs/s24/ab_n$m/checkpoint.pt \
      > runs/s24/ab_n${m}_paired_n$n.txt 2>&1 &
done
wait
