#!/bin/bash
# Session 27: session 23's b512 two-core hour (results/session23/hour2p_b.sh b512: --aux reward) that also keeps
# exponential moving averages of the weights (--ema, beyond the paper) with three decays per iteration
# (~2.2 s per iteration here: horizons of ~100, ~200 and ~500 iterations = ~4, ~7 and ~18 minutes):
#   bash results/session27/hour2p_ema.sh
# Then the last iterate and each average are played at n = 10 and n = 25 on the same 2000 MDPs and paired
# (the run's own evaluation at n = 10 is the last iterate's).
set -e
out=runs/s27/hour2p_ema
mkdir -p runs/s27
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --aux reward --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 --kl-check last --eval-instances 2000 \
    --no-baselines --trials-per-iter 512 --minibatch 64 --ema 0.99 0.995 0.998 --out $out > $out.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint $out/checkpoint.pt --eval-instances 2000 --no-baselines \
    > ${out}_at_n25.log 2>&1
for n in 25 10; do  # paired.py N A B prints B - A: here average - last iterate, and last iterate - session 23
  python results/session18/paired.py $n $out/checkpoint.pt $out/checkpoint_ema0.99.pt > ${out}_ema0.99_vs_last_n$n.txt 2>&1 &
  python results/session18/paired.py $n $out/checkpoint.pt $out/checkpoint_ema0.995.pt > ${out}_ema0.995_vs_last_n$n.txt 2>&1
  wait
  python results/session18/paired.py $n $out/checkpoint.pt $out/checkpoint_ema0.998.pt > ${out}_ema0.998_vs_last_n$n.txt 2>&1 &
  python results/session18/paired.py $n results/session23/hour2p_b512/checkpoint.pt $out/checkpoint.pt > ${out}_last_vs_s23_n$n.txt 2>&1
  wait
done
