#!/bin/bash
# Session 25: session 23's two-core hour (results/session23/hour2p_b.sh b512: 512 trials per iteration in
# minibatches of 64 per process, --anneal-lr 0.25) with --trial-end truncate, played at n = 10 and n = 25 on the
# 2000 MDPs and paired against session 23's hour.
set -e
mkdir -p runs/s25
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 --kl-check last --eval-instances 2000 \
    --no-baselines --trials-per-iter 512 --minibatch 64 --trial-end truncate "$@" \
    --out runs/s25/hour2p_trunc > runs/s25/hour2p_trunc.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s25/hour2p_trunc/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s25/hour2p_trunc_at_n25.log 2>&1
for n in 10 25; do
  python results/session18/paired.py $n results/session23/hour2p_b512/checkpoint.pt \
      runs/s25/hour2p_trunc/checkpoint.pt > runs/s25/hour2p_trunc_paired_n$n.txt 2>&1 &
done
wait
