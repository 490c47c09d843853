#!/bin/bash
# Session 20, round 4: --expected-rewards on the MDPs, one process each.
# (a) n = 25 from session 17's 60-minute n = 10 policy: session 18's recipe arm (ab_transition, 433.88 after 6.98M
#     steps) with --expected-rewards;
# (b) n = 10 from scratch: session 17's A/B arm (results/session17/ab12min_state_head; 143.37) with
#     --expected-rewards, on a step budget (6.8M, what session 18's 12-minute n = 10 arm took) instead of 12 minutes.
mkdir -p runs/s20  # the logs go there (runs/ is ignored by git)
case "$1" in
a) python rl2_mdp.py --n 25 --hidden 128 --shared --head state --minibatch 64 --eval-instances 2000 --no-baselines \
       --init-from results/session17/n10_60min_2p/checkpoint.pt --trials-per-iter 256 --phi transition \
       --expected-rewards --total-timesteps 7000000 --out runs/s20/mdp_expected > runs/s20/mdp_expected.log 2>&1 ;;
b) python rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state --minibatch 64 --trials-per-iter 256 \
       --expected-rewards --total-timesteps 6800000 --eval-instances 2000 --no-baselines \
       --out runs/s20/mdp_n10_expected > runs/s20/mdp_n10_expected.log 2>&1 ;;
esac
