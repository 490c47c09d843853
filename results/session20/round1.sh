#!/bin/bash
# Session 20, round 1: --trials-per-task 4 (trpo.task_baseline, a leave-one-out baseline over 4 trials on the same task),
# each arm one process, the two side by side on the two cores; starting points and flags as the session-16 / 18 arms.
set -e
# bandit k = 50, n = 500 from the committed n = 100 policy: session 16's CPU arm (README) plus --trials-per-task 4
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
python rl2_bandit.py --k 50 --n 500 --phi pair --init-from results/session16/k50n100/checkpoint.pt --lr 1e-3 --lam 0.9 \
    --max-kl 0.02 --trials-per-iter 100 --minibatch 25 --total-timesteps 3000000 --no-baselines \
    --trials-per-task 4 --out runs/s20/bandit_n500_task4 > runs/s20/bandit_n500_task4.log 2>&1 &
# MDP n = 25 from session 17's 60-minute n = 10 policy: session 18's gamma = lambda = 1 arm (-36) plus --trials-per-task 4
C="--n 25 --hidden 128 --shared --head state --minibatch 64 --eval-instances 2000 --no-baselines --init-from results/session17/n10_60min_2p/checkpoint.pt"
python rl2_mdp.py $C --trials-per-iter 256 --phi transition --gamma 1.0 --lam 1.0 --trials-per-task 4 \
    --total-timesteps 7000000 --out runs/s20/mdp_g1l1_task4 > runs/s20/mdp_g1l1_task4.log 2>&1
wait
