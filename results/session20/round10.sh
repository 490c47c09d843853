#!/bin/bash
# Session 20, round 10, one process each, side by side.
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
case "$1" in
# (a) k = 50, n = 500, lambda = 1 with the three fixes (round 9a lost 10.4 as its entropy climbed) on a 4x batch:
#     400 trials (100 bandits x 4) per iteration, 100 per minibatch, 20 minutes
a) python rl2_bandit.py --k 50 --n 500 --phi pair --init-from results/session16/k50n100/checkpoint.pt --lr 1e-3 --lam 1.0 \
       --max-kl 0.02 --trials-per-iter 400 --minibatch 100 --total-timesteps 1000000000 --minutes 20 --no-baselines \
       --expected-rewards --trials-per-task 4 --critic-sees-time --out runs/s20/bandit_n500_all_lam1_b400 \
       > runs/s20/bandit_n500_all_lam1_b400.log 2>&1 ;;
# (b) k = 10: the 9M-step lambda = 1 run (0.924) continued to 14M steps
b) cp -r runs/s20/bandit_k10n500_all_lam1 runs/s20/bandit_k10n500_all_lam1_14M
   python rl2_bandit.py --k 10 --n 500 --phi pair --lr 1e-3 --lam 1.0 \
       --max-kl 0.02 --trials-per-iter 100 --minibatch 25 --total-timesteps 14000000 --no-baselines \
       --expected-rewards --trials-per-task 4 --critic-sees-time --resume runs/s20/bandit_k10n500_all_lam1_14M \
       > runs/s20/bandit_k10n500_all_lam1_14M.log 2>&1 ;;
esac
