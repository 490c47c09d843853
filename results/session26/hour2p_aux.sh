#!/bin/bash
# Session 26: session 23's b512 two-core hour (results/session23/hour2p_b.sh b512) with another --aux target:
#   bash results/session26/hour2p_aux.sh reward+q
#   bash results/session26/hour2p_aux.sh reward --aux-coef 3     (more flags join the run's name: hour2p_reward_auxcoef_3)
# Then played at n = 25 and paired against session 23's hour (--aux reward) and session 25's truncated hour.
set -e
aux=$1; shift
name=${aux/+/_}
for x in "$@"; do name=${name}_${x//-/}; done
mkdir -p runs/s26
torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
    --aux $aux --total-timesteps 1000000000 --minutes 60 --anneal-lr 0.25 --kl-check last --eval-instances 2000 \
    --no-baselines --trials-per-iter 512 --minibatch 64 "$@" --out runs/s26/hour2p_$name > runs/s26/hour2p_$name.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s26/hour2p_$name/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s26/hour2p_${name}_at_n25.log 2>&1
for n in 10 25; do
  python results/session18/paired.py $n runs/s26/hour2p_$name/checkpoint.pt results/session23/hour2p_b512/checkpoint.pt \
      > runs/s26/hour2p_${name}_paired_n$n.txt 2>&1 &
done
wait
python results/session18/paired.py 25 runs/s26/hour2p_$name/checkpoint.pt results/session25/hour2p_trunc/checkpoint.pt \
    > runs/s26/hour2p_${name}_vs_s25trunc_n25.txt 2>&1
