#!/bin/bash
# Session 24: the 78-minute n = 10 policy (results/session24/more_n10) played unchanged for n = 50, 75, 100 episodes
# on the 1000 MDPs of README's n = 50-100 table (rl2_mdp.py --eval-only's default MDPs), as session 23's long_trials.sh.
ck=results/session24/more_n10/checkpoint.pt
for n in 50 75 100; do
  echo "$ck at n = $n: $(python rl2_mdp.py --n $n --eval-only --checkpoint $ck --no-baselines | grep 'RL2 ')" &
done
wait
