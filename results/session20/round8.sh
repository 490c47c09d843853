#!/bin/bash
# Session 20, round 8: round 6 (k = 10, n = 500 from session 19's policy, all three fixes, lambda 0.9: -8.4) with
# lambda = 1: with --expected-rewards the Monte Carlo return has little noise left, and lambda = 1 takes the value
# baseline's bias out of the advantages. 3M steps, one process.
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
python rl2_bandit.py --k 10 --n 500 --phi pair --init-from results/session19/k10n100/checkpoint.pt --lr 1e-3 --lam 1.0 \
    --max-kl 0.02 --trials-per-iter 100 --minibatch 25 --total-timesteps 3000000 --no-baselines \
    --expected-rewards --trials-per-task 4 --critic-sees-time --out runs/s20/bandit_k10n500_all_lam1 \
    > runs/s20/bandit_k10n500_all_lam1.log 2>&1
