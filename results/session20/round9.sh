#!/bin/bash
# Session 20, round 9: lambda = 1 with the three fixes, longer. One process each, side by side.
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
case "$1" in
# (a) k = 50, n = 500 from the committed n = 100 policy, 6M steps
a) python rl2_bandit.py --k 50 --n 500 --phi pair --init-from results/session16/k50n100/checkpoint.pt --lr 1e-3 --lam 1.0 \
       --max-kl 0.02 --trials-per-iter 100 --minibatch 25 --total-timesteps 6000000 --no-baselines \
       --expected-rewards --trials-per-task 4 --critic-sees-time --out runs/s20/bandit_n500_all_lam1 \
       > runs/s20/bandit_n500_all_lam1.log 2>&1 ;;
# (b) k = 10: round 8's run continued from 3M to 9M steps (same flags; --resume keeps one progress.csv)
b) python rl2_bandit.py --k 10 --n 500 --phi pair --lr 1e-3 --lam 1.0 \
       --max-kl 0.02 --trials-per-iter 100 --minibatch 25 --total-timesteps 9000000 --no-baselines \
       --expected-rewards --trials-per-task 4 --critic-sees-time --resume runs/s20/bandit_k10n500_all_lam1 \
       >> runs/s20/bandit_k10n500_all_lam1.log 2>&1 ;;
esac
