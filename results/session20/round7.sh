#!/bin/bash
# Session 20, round 7: is it the shared GRU's value regression? gamma = lambda = 1 with both variance reductions,
# and the value loss weighted 0.1 instead of 1 (with --shared it also trains the policy's GRU), 3M steps.
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
python rl2_mdp.py --n 25 --hidden 128 --shared --head state --minibatch 64 --eval-instances 2000 --no-baselines \
    --init-from results/session17/n10_60min_2p/checkpoint.pt --trials-per-iter 256 --phi transition \
    --gamma 1.0 --lam 1.0 --expected-rewards --trials-per-task 4 --vf-coef 0.1 --total-timesteps 3000000 \
    --out runs/s20/mdp_g1l1_both_vf0.1 > runs/s20/mdp_g1l1_both_vf0.1.log 2>&1
