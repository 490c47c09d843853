#!/bin/bash
# Session 16 (issue 7): the k = 50, n = 500 bandit cell on one GPU, with the paper's batch of 250,000 steps
# per iteration at n = 100 and n = 500, plus CUDA smoke runs of the MDP and maze scripts. One call of the
# device tool (~9 minutes): curriculum n = 10 -> 100 -> 500 with --phi pair and a GRU-128, each stage on a
# wall-clock budget (--minutes) so the step-size cool-down fits the time there is.
#   bash results/session16/gpu_k50.sh                       # on the GPU machine ($OUT gets gpu.tar.gz)
#   DEV=cpu MIN_A=0.1 MIN_B=0.1 MIN_C=0.1 bash results/session16/gpu_k50.sh   # dry run of the plumbing
set -u
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
DEV=${DEV:-cuda}
MIN_A=${MIN_A:-0.6}; MIN_B=${MIN_B:-3.2}; MIN_C=${MIN_C:-3.0}
OUTDIR=${OUT:-/tmp/s16out}
R=runs/s16
rm -rf $R; mkdir -p $R $OUTDIR
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
DEADLINE=${DEADLINE:-570}  # seconds: everything is packed before the device call's limit
# a stage's hard limit: its budget + 90 s, never past the deadline (SIGINT: it finishes the iteration and saves)
limit() { python3 -c "import time; print(max(20, min(int($1*60+90), $DEADLINE - 25 - (int(time.time()) - $T0))))"; }
pack() { tar czf $OUTDIR/gpu.tar.gz $R 2>/dev/null; }
stamp "start"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -3
lscpu | grep -m1 'Model name'
$PY -c "import sys, torch, numpy; print('python', sys.version.split()[0], 'torch', torch.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"

# 1. the fused GRU (cuDNN) against the hand-written loop on this device, float32, and their speed
$PY - "$DEV" <<'PYEOF' 2>&1 | tee $R/fused_check.txt
import sys, time, torch
from gru import GRU
dev = sys.argv[1]
torch.manual_seed(0)
g = GRU(101, 128).to(dev)
x, h0 = torch.randn(500, 125, 101, device=dev), torch.zeros(125, 128, device=dev)
res, times = [], {}
for fused in (False, True):
    g.zero_grad()
    out, hT = g(x, h0, torch.zeros(500, 125, device=dev), fused=fused)
    (out.square().mean() + hT.sum()).backward()
    res.append([out.detach(), hT.detach()] + [p.grad.clone() for p in g.parameters()])
    for _ in range(2):
        if dev == "cuda": torch.cuda.synchronize()
        t = time.perf_counter()
        out, _ = g(x, h0, fused=fused); out.square().mean().backward()
        if dev == "cuda": torch.cuda.synchronize()
        times[fused] = time.perf_counter() - t
rel = max(((a - b).abs().max() / b.abs().max().clamp(min=1e-12)).item() for a, b in zip(*res))
print(f"fused vs loop on {dev}, T=500 B=125 H=128: max relative difference {rel:.2e}; forward+backward "
      f"loop {times[False]*1000:.1f} ms, fused {times[True]*1000:.1f} ms")
PYEOF
stamp "fused check done"

# 2. CUDA smoke runs of the other two scripts and torchrun (nccl, one process), in the background
(
  set -x
  $PY rl2_mdp.py --n 2 --trials-per-iter 80 --total-timesteps 3200 --hidden 16 --eval-instances 20 --no-baselines --device $DEV --out $R/smoke_mdp
  $PY rl2_mdp.py --n 2 --trials-per-iter 80 --total-timesteps 3200 --hidden 16 --eval-instances 20 --no-baselines --device $DEV --shared --phi transition --out $R/smoke_mdp_shared
  $PY rl2_maze.py --obs local --n 2 --num-trials 8 --rollout-steps 32 --total-timesteps 512 --hidden 8 --embed 8 --eval-mazes 4 --device $DEV --out $R/smoke_maze
  torchrun --standalone --nproc_per_node 1 -- rl2_bandit.py --k 3 --n 10 --trials-per-iter 200 --total-timesteps 4000 --hidden 16 --eval-instances 20 --no-baselines --device $DEV --out $R/smoke_torchrun
) > $R/smoke.log 2>&1 &
SMOKE=$!

COMMON="--k 50 --phi pair --hidden 128 --max-kl 0.02 --total-timesteps 2000000000 --device $DEV --eval-instances 1000 --no-baselines --checkpoint-every 5"
# 3. stage A, n = 10 (CPU recipe: 1.5M steps, 250 trials; here 1000 trials per batch on a time budget)
stamp "stage A"
pack; timeout -k 15 -s INT $(limit $MIN_A) $PY rl2_bandit.py $COMMON --n 10 --trials-per-iter 1000 --minibatch 128 \
    --minutes $MIN_A --out $R/k50n10 2>&1 | tee -a $R/stages.log | grep -v "^iter" ; tail -3 $R/k50n10/progress.csv
# 4. stage B, n = 100: the session-14 recipe (lr 5e-3, lambda 0.9, cool-down over the last 75%) with the paper's batch
stamp "stage B"
pack; timeout -k 15 -s INT $(limit $MIN_B) $PY rl2_bandit.py $COMMON --n 100 --init-from $R/k50n10/checkpoint.pt \
    --lr 5e-3 --lam 0.9 --trials-per-iter 2500 --minibatch 250 --anneal-lr 0.75 --minutes $MIN_B --out $R/k50n100 2>&1 | tee -a $R/stages.log | grep -v "^iter" ; tail -3 $R/k50n100/progress.csv
# 5. stage C, n = 500: RL at the full horizon from the n = 100 policy, the paper's 500 trials per batch
stamp "stage C"
pack; timeout -k 15 -s INT $(limit $MIN_C) $PY rl2_bandit.py $COMMON --n 500 --init-from $R/k50n100/checkpoint.pt \
    --lr 1e-3 --lam 0.9 --trials-per-iter 500 --minibatch 125 --anneal-lr 0.5 --minutes $MIN_C --out $R/k50n500 2>&1 | tee -a $R/stages.log | grep -v "^iter" ; tail -3 $R/k50n500/progress.csv
stamp "stages done"
kill $SMOKE 2>/dev/null; wait $SMOKE 2>/dev/null
grep -E 'RL2|error|Error|wrote|\+ ' $R/smoke.log | head -40
nvidia-smi --query-gpu=memory.used --format=csv 2>&1 | tail -1
pack
stamp "end"
