#!/bin/bash
# Session 24, the hour on both cores trained on trials of M episodes (session 23's b512 hour, results/session23/
# hour2p_b.sh, with --n M), played at n = 25 and n = 10 on the 2000 MDPs and paired against session 23's b512
# hour (trained on n = 10):   bash results/session24/hour2p_n.sh 15
set -e
m=$1; shift
mkdir -p runs/s24
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n $m --phi transition --hidden 128 --shared --head state \
    --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 --kl-check last --trials-per-iter 512 \
    --minibatch 64 --eval-instances 2000 --no-baselines "$@" --out runs/s24/hour2p_n$m > runs/s24/hour2p_n$m.log 2>&1
for n in 10 25; do
  python rl2_mdp.py --n $n --eval-only --checkpoint runs/s24/hour2p_n$m/checkpoint.pt --eval-instances 2000 \
      --no-baselines > runs/s24/hour2p_n${m}_at_n$n.log 2>&1 &
done
wait
for n in 10 25; do
  python results/session18/paired.py $n results/session23/hour2p_b512/checkpoint.pt \
      runs/s24/hour2p_n$m/checkpoint.pt > runs/s24/hour2p_n${m}_paired_n$n.txt 2>&1 &
done
wait
