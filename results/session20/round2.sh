#!/bin/bash
# Session 20, round 2: session 18's recipe arm (ab_transition: gamma 0.99, lambda 0.3; 433.88 after 6.98M steps)
# with --trials-per-task 4, from the same n = 10 policy, one process.
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
C="--n 25 --hidden 128 --shared --head state --minibatch 64 --eval-instances 2000 --no-baselines --init-from results/session17/n10_60min_2p/checkpoint.pt"
python rl2_mdp.py $C --trials-per-iter 256 --phi transition --trials-per-task 4 \
    --total-timesteps 7000000 --out runs/s20/mdp_task4 > runs/s20/mdp_task4.log 2>&1
