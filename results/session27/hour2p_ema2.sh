#!/bin/bash
# Session 27, second hour: the same command as hour2p_ema.sh with --ema 0.98 0.99 0.995. The first hour chose
# --ema 0.99 (its best of 0.99 / 0.995 / 0.998); this hour's headline is that decay, fixed before it ran; 0.98 and
# 0.995 are reported beside it.
#   bash results/session27/hour2p_ema2.sh
set -e
out=runs/s27/hour2p_ema2
mkdir -p runs/s27
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 --kl-check last --eval-instances 2000 \
    --no-baselines --trials-per-iter 512 --minibatch 64 --ema 0.98 0.99 0.995 --out $out > $out.log 2>&1
for n in 25 10; do  # paired.py N A B prints B - A: average - last iterate
  python results/session18/paired.py $n $out/checkpoint.pt $out/checkpoint_ema0.99.pt > ${out}_ema0.99_vs_last_n$n.txt 2>&1 &
  python results/session18/paired.py $n $out/checkpoint.pt $out/checkpoint_ema0.98.pt > ${out}_ema0.98_vs_last_n$n.txt 2>&1
  wait
done
python results/session18/paired.py 25 $out/checkpoint.pt $out/checkpoint_ema0.995.pt > ${out}_ema0.995_vs_last_n25.txt 2>&1 &
python results/session18/paired.py 25 runs/s27/hour2p_ema/checkpoint_ema0.99.pt $out/checkpoint_ema0.99.pt \
    > ${out}_ema0.99_vs_hour1_ema0.99_n25.txt 2>&1
wait
