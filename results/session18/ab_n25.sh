#!/bin/bash
# Session 18: 12-minute arms at n = 25, each from session 17's 60-minute n = 10 policy (156.74), one process each,
# two arms side by side on the two cores; only the flags after $C differ.
set -e
C="--n 25 --hidden 128 --shared --head state --minibatch 64 --total-timesteps 1000000000 --minutes 12 --eval-instances 2000 --no-baselines --init-from results/session17/n10_60min_2p/checkpoint.pt"
python rl2_mdp.py $C --trials-per-iter 256 --phi transition --out runs/s18/ab_transition &
python rl2_mdp.py $C --trials-per-iter 256 --phi value --out runs/s18/ab_value; wait
python rl2_mdp.py $C --trials-per-iter 256 --phi transition --gamma 0.996 --out runs/s18/ab_gamma0.996 &
python rl2_mdp.py $C --trials-per-iter 256 --phi transition --gamma 1.0 --out runs/s18/ab_gamma1; wait
python rl2_mdp.py $C --trials-per-iter 256 --phi transition --gamma 1.0 --lam 1.0 --out runs/s18/ab_gamma1_lam1 &
python rl2_mdp.py $C --trials-per-iter 256 --phi transition --lam 0.95 --out runs/s18/ab_lam0.95; wait
python rl2_mdp.py $C --trials-per-iter 1024 --lr 1e-3 --anneal-lr 1.0 --phi transition --out runs/s18/ab_lowNoise &
# --phi value from scratch at n = 10 (compare per step with results/session17/ab12min_state_head, same seed and flags but --phi)
python rl2_mdp.py --n 10 --phi value --hidden 128 --shared --head state --minibatch 64 --trials-per-iter 256 \
    --total-timesteps 100000000 --minutes 12 --eval-instances 2000 --no-baselines --out runs/s18/ab12min_value_n10; wait
