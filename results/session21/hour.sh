#!/bin/bash
# Issue 4's n = 25 goal with --aux, two one-hour runs side by side, one process (one core) each:
#   A: 60 minutes at n = 10 with --aux reward (the better arm of the 12-minute n = 10 A/B), then played at n = 25;
#   B: --aux q (the true action values, transitions included): 25 minutes at n = 10, then 35 at n = 25.
set -e
mkdir -p runs/s21
COMMON="--phi transition --hidden 128 --shared --head state --minibatch 64 --trials-per-iter 256 --total-timesteps 1000000000 --eval-instances 2000 --no-baselines"
python rl2_mdp.py --n 10 $COMMON --aux reward --minutes 60 --anneal-lr 0.25 --out runs/s21/hourA_n10_60min > runs/s21/hourA.log 2>&1 &
( python rl2_mdp.py --n 10 $COMMON --aux q --minutes 25 --out runs/s21/hourB_n10_25min \
  && python rl2_mdp.py --n 25 $COMMON --aux q --minutes 35 --anneal-lr 0.25 --init-from runs/s21/hourB_n10_25min/checkpoint.pt \
       --out runs/s21/hourB_n25_35min ) > runs/s21/hourB.log 2>&1 &
wait
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s21/hourA_n10_60min/checkpoint.pt --eval-instances 2000 --no-baselines > runs/s21/hourA_at_n25.log 2>&1
