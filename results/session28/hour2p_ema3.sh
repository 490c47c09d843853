#!/bin/bash
# Session 28: a third run of session 27's hour (session 23's b512 hour with --ema), with its headline fixed before it
# ran: --ema 0.995, the decay with the larger mean gain over session 27's two hours at n = 25 (+1.51 and +1.70 paired,
# against +2.24 and +0.26 for 0.99). 0.99 and 0.998 are reported beside it, not chosen from.
#   bash results/session28/hour2p_ema3.sh
set -e
out=runs/s28/hour2p_ema3
mkdir -p runs/s28
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 --kl-check last --eval-instances 2000 \
    --no-baselines --trials-per-iter 512 --minibatch 64 --ema 0.99 0.995 0.998 --out $out > $out.log 2>&1
for n in 25 10; do  # paired.py N A B prints B - A: average - last iterate
  python results/session18/paired.py $n $out/checkpoint.pt $out/checkpoint_ema0.995.pt > ${out}_ema0.995_vs_last_n$n.txt 2>&1 &
  python results/session18/paired.py $n $out/checkpoint.pt $out/checkpoint_ema0.99.pt > ${out}_ema0.99_vs_last_n$n.txt 2>&1
  wait
done
python results/session18/paired.py 25 $out/checkpoint.pt $out/checkpoint_ema0.998.pt > ${out}_ema0.998_vs_last_n25.txt 2>&1 &
python results/session18/paired.py 25 runs/s27/hour2p_ema2/checkpoint_ema0.995.pt $out/checkpoint_ema0.995.pt \
    > ${out}_ema0.995_vs_s27hour2_ema0.995_n25.txt 2>&1
wait
