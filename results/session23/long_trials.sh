#!/bin/bash
# Session 23: the two best two-core hours' n = 10 policies (session 21, session 23 b512) played unchanged for
# n = 50, 75, 100 episodes on the 1000 MDPs of README's n = 50-100 table (rl2_mdp.py --eval-only's default MDPs).
for n in 50 75 100; do
  for ck in results/session21/hour2p_n10_60min/checkpoint.pt results/session23/hour2p_b512/checkpoint.pt; do
    echo "$ck at n = $n: $(python rl2_mdp.py --n $n --eval-only --checkpoint $ck --no-baselines | grep 'RL2 ')" &
  done
  wait
done
