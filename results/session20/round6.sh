#!/bin/bash
# Session 20, round 6: k = 10, n = 500 from session 19's committed n = 100 policy (0.913 of the way to Gittins when
# played unchanged for 500 pulls): RL at n = 500 with the three baseline fixes, one process, 6M steps.
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
python rl2_bandit.py --k 10 --n 500 --phi pair --init-from results/session19/k10n100/checkpoint.pt --lr 1e-3 --lam 0.9 \
    --max-kl 0.02 --trials-per-iter 100 --minibatch 25 --total-timesteps 6000000 --no-baselines \
    --expected-rewards --trials-per-task 4 --critic-sees-time --out runs/s20/bandit_k10n500_all \
    > runs/s20/bandit_k10n500_all.log 2>&1
