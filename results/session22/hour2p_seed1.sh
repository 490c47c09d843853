#!/bin/bash
# Session 22, the same hour with seed 1 (results/session22/hour2p.sh with --seed 1): how far apart two seeds of
# the recipe land. The run's own evaluation at its end uses seed 1's MDPs (seed + 1,000,003); the eval-only and
# paired lines below use the 2000 MDPs of every table (seed 0's).
set -e
mkdir -p runs/s22
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --minibatch 32 --trials-per-iter 256 --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 \
    --eval-instances 2000 --no-baselines --seed 1 --out runs/s22/hour2p_seed1 > runs/s22/hour2p_seed1.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s22/hour2p_seed1/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s22/hour2p_seed1_at_n25.log 2>&1
for n in 10 25; do
  python results/session18/paired.py $n results/session21/hour2p_n10_60min/checkpoint.pt \
      runs/s22/hour2p_seed1/checkpoint.pt > runs/s22/hour2p_seed1_paired_n$n.txt 2>&1 &
done
wait
