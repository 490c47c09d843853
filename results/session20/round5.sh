#!/bin/bash
# Session 20, round 5, one process each.
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
case "$1" in
# (a) k = 50, n = 500 from the committed n = 100 policy with all three baseline fixes together, 9M steps (3x round 1)
a) python rl2_bandit.py --k 50 --n 500 --phi pair --init-from results/session16/k50n100/checkpoint.pt --lr 1e-3 --lam 0.9 \
       --max-kl 0.02 --trials-per-iter 100 --minibatch 25 --total-timesteps 9000000 --no-baselines \
       --expected-rewards --trials-per-task 4 --critic-sees-time --out runs/s20/bandit_n500_all \
       > runs/s20/bandit_n500_all.log 2>&1 ;;
# (b) MDP n = 25: long credit assignment (gamma 1, lambda 0.95) with both variance reductions
b) python rl2_mdp.py --n 25 --hidden 128 --shared --head state --minibatch 64 --eval-instances 2000 --no-baselines \
       --init-from results/session17/n10_60min_2p/checkpoint.pt --trials-per-iter 256 --phi transition \
       --gamma 1.0 --lam 0.95 --expected-rewards --trials-per-task 4 --total-timesteps 7000000 \
       --out runs/s20/mdp_g1l95_expected_task4 > runs/s20/mdp_g1l95_expected_task4.log 2>&1 ;;
esac
