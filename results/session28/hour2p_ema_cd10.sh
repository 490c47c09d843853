#!/bin/bash
# Session 28, second hour: the same command as hour2p_ema3.sh with a shorter cool-down, --anneal-lr 0.1 (the last 6
# minutes instead of 15): does the weight average take the place of most of the cool-down and leave more minutes at
# the full step size? Headline fixed before it ran: --ema 0.995 (as in hour2p_ema3.sh); 0.99 and 0.998 beside it.
#   bash results/session28/hour2p_ema_cd10.sh
set -e
out=runs/s28/hour2p_ema_cd10
mkdir -p runs/s28
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.1 --kl-check last --eval-instances 2000 \
    --no-baselines --trials-per-iter 512 --minibatch 64 --ema 0.99 0.995 0.998 --out $out > $out.log 2>&1
for n in 25 10; do  # paired.py N A B prints B - A
  python results/session18/paired.py $n $out/checkpoint.pt $out/checkpoint_ema0.995.pt > ${out}_ema0.995_vs_last_n$n.txt 2>&1 &
  python results/session18/paired.py $n runs/s28/hour2p_ema3/checkpoint_ema0.995.pt $out/checkpoint_ema0.995.pt \
      > ${out}_ema0.995_vs_cd25_ema0.995_n$n.txt 2>&1
  wait
done
python results/session18/paired.py 25 $out/checkpoint.pt $out/checkpoint_ema0.99.pt > ${out}_ema0.99_vs_last_n25.txt 2>&1 &
python results/session18/paired.py 25 $out/checkpoint.pt $out/checkpoint_ema0.998.pt > ${out}_ema0.998_vs_last_n25.txt 2>&1
wait
