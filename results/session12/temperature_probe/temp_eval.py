"""Evaluation at sampling temperature tau (logits / tau; tau = 0.01 is argmax play), from the repository root:
    python results/session12/temperature_probe/temp_eval.py mdp CKPT 2000 1.0 0.5 0.01      (paired against the first tau)
    python results/session12/temperature_probe/temp_eval.py bandit CKPT 5000 1.0 0.5 0.01"""
import os, sys, math, numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))  # the repository root
import rl2_mdp, rl2_bandit, trpo, gru
torch.set_num_threads(1)
class Temp(torch.nn.Module):
    def __init__(s, a, tau): super().__init__(); s.a, s.tau = a, tau
    def initial_state(s, B, d): return s.a.initial_state(B, d)
    def forward(s, x, h, reset=None, need_value=True):
        l, v, h = s.a(x, h, reset, need_value=need_value); return l / s.tau, v, h
which, path, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
taus = [float(t) for t in sys.argv[4:]]
if which == "mdp":
    ck = torch.load(path, weights_only=True)
    ag = gru.make_agent("gru", rl2_mdp.n_inputs(ck["phi"]), rl2_mdp.N_ACTIONS, ck["hidden"], shared=ck.get("shared", False))
    ag.load_state_dict(ck["agent"])
    P, R = rl2_mdp.baselines.sample_mdps(N, np.random.default_rng(1_000_003), 10, 5)
    Pt, Rt = (torch.as_tensor(x, dtype=torch.float32) for x in (P, R))
    first = None
    for tau in taus:
        gen = torch.Generator().manual_seed(1_000_003)
        with torch.no_grad():
            tot = rl2_mdp.play(Temp(ag, tau), Pt, Rt, ck["args"]["n"], gen, transition=ck["phi"] == "transition").sum(0).numpy().astype(np.float64)
        first = tot if first is None else first
        d = tot - first  # paired: the same MDPs and random numbers as the first tau
        print(f"tau {tau}: {tot.mean():.2f} ± {tot.std(ddof=1)/math.sqrt(N):.2f}  paired diff {d.mean():+.2f} ± {d.std(ddof=1)/math.sqrt(N):.2f}", flush=True)
else:
    ck = torch.load(path, weights_only=True)
    k, n = ck["args"]["k"], ck["args"]["n"]
    ag = gru.make_agent("gru", rl2_bandit.n_inputs(k, ck["phi"]), k, ck["hidden"])
    ag.load_state_dict(ck["agent"])
    gen = torch.Generator().manual_seed(1_000_003)
    probs = rl2_bandit.sample_bandits(N, k, gen)
    g = rl2_bandit.baselines.run_bandit_baselines(probs.numpy().astype(np.float64), n, seed=0)[0]
    print({m: round(float(v.mean()),3) for m, v in g.items()})
    for tau in taus:
        gen = torch.Generator().manual_seed(1_000_003); torch.rand(1)
        with torch.no_grad():
            tot = rl2_bandit.play(Temp(ag, tau), probs, n, gen, pair=ck["phi"] == "pair").sum(0).numpy().astype(np.float64)
        norm = rl2_bandit.baselines.normalised_score(tot, g["Random"], g["Gittins"])
        print(f"tau {tau}: {tot.mean():.3f} ± {tot.std(ddof=1)/math.sqrt(N):.3f} normalised {norm}", flush=True)
