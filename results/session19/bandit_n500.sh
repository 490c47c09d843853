#!/bin/bash
# Session 19: session 13's best n = 100 recipe rerun from scratch on this machine (both cores, seed 0),
# then the n = 100 policies played unchanged for 500 pulls (the k = 50 finding: RL at n = 500 lowers it),
# every baseline on the same 1000 instances. Run from the repository root.
set -e -o pipefail
mkdir -p runs/s19
for k in ${@:-10 5}; do   # bash results/session19/bandit_n500.sh 10  runs k = 10 only
  torchrun --standalone --nproc_per_node 2 -- rl2_bandit.py --k $k --n 10 --phi pair --total-timesteps 1500000 \
      --max-kl 0.02 --hidden 64 --minibatch 64 --out runs/s19/k${k}n10_pair
  steps=$([ $k = 10 ] && echo 32000000 || echo 31000000)
  torchrun --standalone --nproc_per_node 2 -- rl2_bandit.py --k $k --n 100 --phi pair --lr 0.01 --lam 0.9 --minibatch 32 \
      --trials-per-iter 250 --total-timesteps $steps --anneal-lr 0.75 --init-from runs/s19/k${k}n10_pair/checkpoint.pt \
      --eval-instances 20000 --out runs/s19/k${k}n100
  python rl2_bandit.py --k $k --n 500 --eval-only --checkpoint runs/s19/k${k}n100/checkpoint.pt 2>&1 | tee runs/s19/k${k}n500_zeroshot.txt
done
