#!/bin/bash
# Session 25: the n = 10 policy played for 25 episodes stops exploring as if the trial ended after episode 10
# (its training objective gives information no worth after the trial's last step). --trial-end truncate trains on
# the same n = 10 trials but bootstraps the last step from the value of the next episode's first step, as if the
# trial went on: a policy for longer trials at the n = 10 trial's cost per step.
# 12 minutes each from scratch, one process each, side by side, session 24's ab_n.sh recipe (512 trials per
# iteration in minibatches of 128); played at n = 10 and 25 on the 2000 MDPs and paired against session 24's n10 arm.
#   usage: bash results/session25/ab_trunc.sh NAME [extra flags]   (two of them side by side)
set -e
name=$1; shift
mkdir -p runs/s25
R="--phi transition --hidden 128 --shared --head state --aux reward --kl-check last --trials-per-iter 512
   --minibatch 128 --minutes 12 --total-timesteps 1000000000 --eval-instances 2000 --no-baselines"
python rl2_mdp.py --n 10 $R "$@" --out runs/s25/ab_$name > runs/s25/ab_$name.log 2>&1
python rl2_mdp.py --n 25 --eval-only --checkpoint runs/s25/ab_$name/checkpoint.pt --eval-instances 2000 \
    --no-baselines > runs/s25/ab_${name}_at_n25.log 2>&1
for n in 10 25; do
  python results/session18/paired.py $n runs/s24/ab_n10/checkpoint.pt runs/s25/ab_$name/checkpoint.pt \
      > runs/s25/ab_${name}_paired_n$n.txt 2>&1
done
