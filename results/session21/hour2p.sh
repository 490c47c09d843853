#!/bin/bash
# Session 21, the hour on both cores: hour A's recipe (--aux reward, 60 minutes at n = 10) under torchrun with two
# processes (the budget: 60 minutes of this 2-core CPU), then the policy played at n = 25 and paired.
set -e
mkdir -p runs/s21
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --minibatch 32 --trials-per-iter 256 --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 \
    --eval-instances 2000 --no-baselines --out runs/s21/hour2p_n10_60min > runs/s21/hour2p.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s21/hour2p_n10_60min/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s21/hour2p_at_n25.log 2>&1
