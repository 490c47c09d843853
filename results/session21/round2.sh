#!/bin/bash
# Session 21, round 2: does --aux change the n = 25 stage? Session 18/20's arms at n = 25 from session 17's
# 60-minute n = 10 policy (156.74), the same flags and 7M-step budget, plus --aux q / --aux reward (a new head,
# started from its initialisation); one process each, the two side by side. Paired against session 18's recipe arm:
#   python results/session18/paired.py 25 results/session18/ab_transition/checkpoint.pt runs/s21/n25_aux_q/checkpoint.pt
set -e
mkdir -p runs/s21
C="--n 25 --hidden 128 --shared --head state --minibatch 64 --eval-instances 2000 --no-baselines --init-from results/session17/n10_60min_2p/checkpoint.pt"
python rl2_mdp.py $C --trials-per-iter 256 --phi transition --aux q --total-timesteps 7000000 --out runs/s21/n25_aux_q > runs/s21/n25_aux_q.log 2>&1 &
python rl2_mdp.py $C --trials-per-iter 256 --phi transition --aux reward --total-timesteps 7000000 --out runs/s21/n25_aux_reward > runs/s21/n25_aux_reward.log 2>&1
wait
