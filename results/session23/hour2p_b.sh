#!/bin/bash
# Session 23, the second hour on both cores: the first hour's command (hour2p.sh) with the batch shape that won
# ab_batch.sh, passed as arguments (per-process minibatch: half the one-process arm's), e.g.
#   bash results/session23/hour2p_b.sh b512 --trials-per-iter 512 --minibatch 64
# Then played at n = 25 and paired against session 21's hour.
set -e
name=$1; shift
mkdir -p runs/s23
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 --kl-check last --eval-instances 2000 \
    --no-baselines "$@" --out runs/s23/hour2p_$name > runs/s23/hour2p_$name.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s23/hour2p_$name/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s23/hour2p_${name}_at_n25.log 2>&1
for n in 10 25; do
  python results/session18/paired.py $n results/session21/hour2p_n10_60min/checkpoint.pt \
      runs/s23/hour2p_$name/checkpoint.pt > runs/s23/hour2p_${name}_paired_n$n.txt 2>&1 &
done
wait
