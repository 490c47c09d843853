"""Per-episode reward within an n = 25 trial on the 2000 evaluation MDPs of the README tables: RL² checkpoints
beside BEB (β = 2, TabulaRL prior), the myopic yardstick and the oracle (session 14's probe, any checkpoint).
Run from the repository root:
    python results/session24/per_episode.py NAME=CKPT [NAME=CKPT ...]
"""
import argparse, os, sys
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import rl2_mdp, baselines as b

torch.set_num_threads(1)
n, T = 25, 10
P, R = b.sample_mdps(2000, np.random.default_rng(1_000_003), 10, 5)
Pt, Rt = (torch.as_tensor(x, dtype=torch.float32) for x in (P, R))
out = {}
for spec in sys.argv[1:]:
    name, path = spec.split("=", 1)
    ck = torch.load(path, weights_only=True)
    a = argparse.Namespace(policy=None, phi=None, head=None, resume=None, imitate=None, hidden=ck["hidden"])
    rl2_mdp.checkpoint_policy(ck, a, path)
    ag = rl2_mdp.new_agent(a, "cpu")
    ag.load_state_dict(ck["agent"])
    gen = torch.Generator().manual_seed(1_000_003)  # the same random numbers as rl2_mdp.evaluate
    r = rl2_mdp.play(ag, Pt, Rt, n, gen, transition=a.phi == "transition", value_phi=a.phi == "value").numpy()
    out[name] = r.reshape(n, T, -1).sum(1)
out["BEB b=2"] = b.mdp_run_method(P, R, n, T, "BEB", 2.0, "tabularl", np.random.default_rng(5), per_episode=True)
out["myopic"] = b.mdp_myopic(P, R, n, T, rng=np.random.default_rng(0), per_episode=True)
Q, V = b.mdp_backward_induction(P, R, T)
out["oracle"] = np.repeat(V[None, :, 0, 0], n, 0)
names = list(out)
print("episode " + " ".join(f"{k:>14}" for k in names))
for e in range(n):
    print(f"{e + 1:7d} " + " ".join(f"{out[k][e].mean():14.2f}" for k in names))
print("total   " + " ".join(f"{out[k].sum(0).mean():14.2f}" for k in names))
for k in names:
    print(f"{k}: episodes 1-10 {out[k][:10].sum(0).mean():.2f}, 11-25 {out[k][10:].sum(0).mean():.2f}")
