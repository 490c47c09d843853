#!/bin/bash
# Session 20, round 11: round 10's k = 50 run (0.920 after 20 min on one core) continued on both cores under torchrun
# (2 processes x 200 trials, same 400-trial batch) up to 40 minutes of training in all.
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
cp -r runs/s20/bandit_n500_all_lam1_b400 runs/s20/bandit_n500_all_lam1_b400_40min
torchrun --standalone --nproc_per_node 2 -- rl2_bandit.py --k 50 --n 500 --phi pair --lr 1e-3 --lam 1.0 \
    --max-kl 0.02 --trials-per-iter 400 --minibatch 100 --total-timesteps 1000000000 --minutes 40 --no-baselines \
    --expected-rewards --trials-per-task 4 --critic-sees-time --resume runs/s20/bandit_n500_all_lam1_b400_40min \
    > runs/s20/bandit_n500_all_lam1_b400_40min.log 2>&1
