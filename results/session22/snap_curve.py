"""RL² at n = N along a training run: each checkpoint snapshot played on the 2000 evaluation MDPs of the README
tables (the same MDPs and draws as results/session18/paired.py), each paired against the last one given.

    python results/session22/snap_curve.py 25 runs/s22/snap/ckpt_30min.pt ... runs/s22/hour2p_n10_60min/checkpoint.pt
"""
import argparse, math, os, sys
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import rl2_mdp

torch.set_num_threads(1)
n = int(sys.argv[1])
P, R = rl2_mdp.baselines.sample_mdps(2000, np.random.default_rng(1_000_003), 10, 5)
Pt, Rt = (torch.as_tensor(x, dtype=torch.float32) for x in (P, R))


def totals(path):
    ck = torch.load(path, weights_only=True)
    a = argparse.Namespace(policy=None, phi=None, head=None, resume=None, imitate=None, hidden=ck["hidden"])
    rl2_mdp.checkpoint_policy(ck, a, path)
    ag = rl2_mdp.new_agent(a, "cpu")
    ag.load_state_dict(ck["agent"])
    gen = torch.Generator().manual_seed(1_000_003)
    tot = rl2_mdp.play(ag, Pt, Rt, n, gen, transition=a.phi == "transition", value_phi=a.phi == "value")
    return ck["steps"], tot.sum(0).numpy().astype(np.float64)


last_steps, last = totals(sys.argv[-1])
for path in sys.argv[2:]:
    steps, t = totals(path) if path != sys.argv[-1] else (last_steps, last)
    d = t - last
    print(f"{path}  {steps / 1e6:6.2f}M steps  {t.mean():.2f} ± {t.std(ddof=1) / math.sqrt(len(t)):.2f}"
          f"  paired vs the last {d.mean():+.2f} ± {d.std(ddof=1) / math.sqrt(len(d)):.2f}", flush=True)
