"""Per-episode reward within an n = 25 trial: RL2 policies vs myopic, BEB, PSRL, oracle (2000 eval MDPs).
Run from the repository root: python results/session14/mdp_probes/per_episode.py"""
import os, sys, math, numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))  # the repository root
import rl2_mdp, gru, baselines as b
torch.set_num_threads(1)
n, T = 25, 10
P, R = b.sample_mdps(2000, np.random.default_rng(1_000_003), 10, 5)
Pt, Rt = (torch.as_tensor(x, dtype=torch.float32) for x in (P, R))
out = {}
for name, path in [("RL2 n25 (s11)", "runs/s11/n25_2p_shared/checkpoint.pt"), ("RL2 n10 policy (s12)", "runs/s12/n10_2p_shared128_cool/checkpoint.pt")]:
    ck = torch.load(path, weights_only=True)
    ag = gru.make_agent("gru", rl2_mdp.n_inputs(ck["phi"]), 5, ck["hidden"], shared=ck.get("shared", False)); ag.load_state_dict(ck["agent"])
    gen = torch.Generator().manual_seed(1_000_003)
    with torch.no_grad():
        r = rl2_mdp.play(ag, Pt, Rt, n, gen, transition=True).numpy()
    out[name] = r.reshape(n, T, -1).sum(1)
out["BEB b=2"] = b.mdp_run_method(P, R, n, T, "BEB", 2.0, "tabularl", np.random.default_rng(5), per_episode=True)
out["PSRL"] = b.mdp_run_method(P, R, n, T, "PSRL", None, "tabularl", np.random.default_rng(5), per_episode=True)
out["myopic"] = b.mdp_myopic(P, R, n, T, rng=np.random.default_rng(0), per_episode=True)
Q, V = b.mdp_backward_induction(P, R, T); out["oracle"] = np.repeat(V[None, :, 0, 0], n, 0)
names = list(out)
print("episode " + " ".join(f"{k:>21}" for k in names))
for e in range(n):
    print(f"{e+1:7d} " + " ".join(f"{out[k][e].mean():21.2f}" for k in names))
print("total   " + " ".join(f"{out[k].sum(0).mean():21.2f}" for k in names))
for k in names: print(k, "episodes 1-10:", f"{out[k][:10].sum(0).mean():.2f}", "11-25:", f"{out[k][10:].sum(0).mean():.2f}")
