#!/bin/bash
# n = 25 within one hour of one CPU core: 15 minutes at n = 10, then 44 minutes at n = 25 from that policy
# (the curriculum over n of the earlier tables, now inside the hour), both with --head state.
set -e
COMMON="--phi transition --hidden 128 --shared --head state --minibatch 64 --trials-per-iter 256 --total-timesteps 1000000000 --eval-instances 2000 --no-baselines"
python rl2_mdp.py --n 10 $COMMON --minutes 15 --out runs/s17/chain_n10_15min
python rl2_mdp.py --n 25 $COMMON --minutes 44 --anneal-lr 0.25 --init-from runs/s17/chain_n10_15min/checkpoint.pt --out runs/s17/chain_n25_44min
