#!/bin/bash
# Session 24: is the n = 25 cell a matter of budget? Session 23's b512 n = 10 hour (443.34 at n = 25) trained
# 18 more minutes at n = 10 on both cores (a step size of 1e-3 cooling to 0 over the 18 minutes), played at
# n = 10 and n = 25 and paired against the hour it started from.
set -e
mkdir -p runs/s24
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --aux reward --total-timesteps 1000000000 --minutes 18 --lr 1e-3 --anneal-lr 1.0 --kl-check last \
    --trials-per-iter 512 --minibatch 64 --eval-instances 2000 --no-baselines \
    --init-from results/session23/hour2p_b512/checkpoint.pt --out runs/s24/more_n10 > runs/s24/more_n10.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s24/more_n10/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s24/more_n10_at_n25.log 2>&1
for n in 10 25; do
  python results/session18/paired.py $n results/session23/hour2p_b512/checkpoint.pt runs/s24/more_n10/checkpoint.pt \
      > runs/s24/more_n10_paired_n$n.txt 2>&1 &
done
wait
