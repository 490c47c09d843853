"""Evaluation at sampling temperature tau (logits / tau; tau -> 0 is argmax) on the 2000 evaluation MDPs, paired
against tau = 1. Run from the repository root: python results/session14/mdp_probes/temperature.py CKPT N"""
import os, sys, math, numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))  # the repository root
import rl2_mdp, gru
torch.set_num_threads(1)
n = int(sys.argv[2]); path = sys.argv[1]
P, R = rl2_mdp.baselines.sample_mdps(2000, np.random.default_rng(1_000_003), 10, 5)
Pt, Rt = (torch.as_tensor(x, dtype=torch.float32) for x in (P, R))
ck = torch.load(path, weights_only=True)
ag = gru.make_agent("gru", rl2_mdp.n_inputs(ck["phi"]), 5, ck["hidden"], shared=ck.get("shared", False)); ag.load_state_dict(ck["agent"])
class T(torch.nn.Module):
    def __init__(s, ag, tau): super().__init__(); s.ag, s.tau = ag, tau
    def initial_state(s, *a): return s.ag.initial_state(*a)
    def forward(s, *a, **k):
        l, v, h = s.ag(*a, **k); return l / s.tau, v, h
base = None
for tau in [1.0, 0.7, 0.5, 0.3, 0.1, 0.01]:
    gen = torch.Generator().manual_seed(1_000_003)
    with torch.no_grad():
        tot = rl2_mdp.play(T(ag, tau), Pt, Rt, n, gen, transition=True).sum(0).numpy().astype(np.float64)
    if base is None: base = tot
    d = tot - base
    print(f"tau {tau}: {tot.mean():.2f} ± {tot.std(ddof=1)/math.sqrt(2000):.2f}  paired diff {d.mean():+.2f} ± {d.std(ddof=1)/math.sqrt(2000):.2f}", flush=True)
