#!/bin/bash
# Session 25: the same-day control for hour2p_trunc.sh: session 23's b512 hour rerun unchanged (terminal trial end)
# on this day's faster machine, played at n = 10 and n = 25 and paired against the truncated hour and session 23's.
set -e
mkdir -p runs/s25
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 --kl-check last --eval-instances 2000 \
    --no-baselines --trials-per-iter 512 --minibatch 64 --out runs/s25/hour2p_control > runs/s25/hour2p_control.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s25/hour2p_control/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s25/hour2p_control_at_n25.log 2>&1
for n in 10 25; do
  python results/session18/paired.py $n runs/s25/hour2p_control/checkpoint.pt results/session23/hour2p_b512/checkpoint.pt \
      > runs/s25/hour2p_control_paired_n$n.txt 2>&1 &
done
wait
python results/session18/paired.py 25 runs/s25/hour2p_control/checkpoint.pt results/session25/hour2p_trunc/checkpoint.pt \
    > runs/s25/hour2p_control_vs_trunc_n25.txt 2>&1
