#!/bin/bash
# Session 20, round 3: session 16's CPU arm at k = 50, n = 500 (README) with --expected-rewards (the pulled arm's p
# in the advantages instead of the 0/1 draw), one process.
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
python rl2_bandit.py --k 50 --n 500 --phi pair --init-from results/session16/k50n100/checkpoint.pt --lr 1e-3 --lam 0.9 \
    --max-kl 0.02 --trials-per-iter 100 --minibatch 25 --total-timesteps 3000000 --no-baselines \
    --expected-rewards --out runs/s20/bandit_n500_expected > runs/s20/bandit_n500_expected.log 2>&1
