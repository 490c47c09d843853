#!/bin/bash
# Session 22, the hour on both cores again: session 21's command unchanged (results/session21/hour2p.sh), on the
# faster trpo.update (the same numbers per iteration, ~7-9% more steps per second: the kept iterate's statistics and
# values come from the last epoch's pass instead of two new passes). Then played at n = 25 and paired.
set -e
mkdir -p runs/s22
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --minibatch 32 --trials-per-iter 256 --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 \
    --eval-instances 2000 --no-baselines --out runs/s22/hour2p_n10_60min > runs/s22/hour2p.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s22/hour2p_n10_60min/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s22/hour2p_at_n25.log 2>&1
for n in 10 25; do
  python results/session18/paired.py $n results/session21/hour2p_n10_60min/checkpoint.pt \
      runs/s22/hour2p_n10_60min/checkpoint.pt > runs/s22/hour2p_paired_n$n.txt 2>&1 &
done
wait
