#!/bin/bash
# Session 26: session 23's b512 two-core hour (results/session23/hour2p_b.sh b512) with a wider GRU, to test
# whether the n = 25 plateau of the GRU-128 hours (441-444 from 54M to 81M steps) is the network's capacity:
#   bash results/session26/hour2p_h.sh 192
# Then played at n = 25 and paired against session 23's hour and session 25's same-recipe control hour.
set -e
h=$1; shift
mkdir -p runs/s26
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden $h --shared --head state \
    --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 --kl-check last --eval-instances 2000 \
    --no-baselines --trials-per-iter 512 --minibatch 64 "$@" --out runs/s26/hour2p_h$h > runs/s26/hour2p_h$h.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s26/hour2p_h$h/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s26/hour2p_h${h}_at_n25.log 2>&1
for n in 10 25; do
  python results/session18/paired.py $n runs/s26/hour2p_h$h/checkpoint.pt results/session23/hour2p_b512/checkpoint.pt \
      > runs/s26/hour2p_h${h}_paired_n$n.txt 2>&1 &
done
wait
python results/session18/paired.py 25 runs/s26/hour2p_h$h/checkpoint.pt results/session25/hour2p_trunc/checkpoint.pt \
    > runs/s26/hour2p_h${h}_vs_s25trunc_n25.txt 2>&1
