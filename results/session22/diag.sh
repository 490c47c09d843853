#!/bin/bash
# Session 22, diagnostic (not a goal run): does a short n = 25 stage at a lower step size help session 21's
# two-core hour policy (443.76 at n = 25)? Two arms side by side, one process each, 10 minutes at n = 25 from
# results/session21/hour2p_n10_60min, --aux reward kept, the step size decayed to 0 over the stage; then each
# played on the 2000 evaluation MDPs and paired against the starting policy.
set -e
mkdir -p runs/s22
C="--n 25 --phi transition --hidden 128 --shared --head state --minibatch 64 --trials-per-iter 256 --aux reward \
   --total-timesteps 1000000000 --minutes 10 --anneal-lr 1.0 --eval-instances 2000 --no-baselines \
   --init-from results/session21/hour2p_n10_60min/checkpoint.pt"
python rl2_mdp.py $C --lr 1e-3 --out runs/s22/diag_lr1e-3 > runs/s22/diag_lr1e-3.log 2>&1 &
python rl2_mdp.py $C --lr 3e-3 --out runs/s22/diag_lr3e-3 > runs/s22/diag_lr3e-3.log 2>&1
wait
for a in 1e-3 3e-3; do
  python results/session18/paired.py 25 results/session21/hour2p_n10_60min/checkpoint.pt \
      runs/s22/diag_lr$a/checkpoint.pt > runs/s22/diag_lr${a}_paired.txt 2>&1 &
done
wait
