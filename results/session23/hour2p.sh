#!/bin/bash
# Session 23, the hour on both cores: session 21's command (results/session21/hour2p.sh) on the faster code of
# session 23 (whole-sequence GRU passes through PyTorch's fused kernel on the CPU too, and --kl-check last: one
# whole-batch pass per iteration instead of one per epoch). Then played at n = 25 and paired against session 21's hour.
set -e
mkdir -p runs/s23
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --minibatch 32 --trials-per-iter 256 --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 \
    --kl-check last --eval-instances 2000 --no-baselines --out runs/s23/hour2p_n10_60min > runs/s23/hour2p.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s23/hour2p_n10_60min/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s23/hour2p_at_n25.log 2>&1
for n in 10 25; do
  python results/session18/paired.py $n results/session21/hour2p_n10_60min/checkpoint.pt \
      runs/s23/hour2p_n10_60min/checkpoint.pt > runs/s23/hour2p_paired_n$n.txt 2>&1 &
done
wait
