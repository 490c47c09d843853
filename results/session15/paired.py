"""Paired difference of two rl2_mdp.py checkpoints on the 2000 evaluation MDPs of the README tables
(seed 0: rl2_mdp.evaluate's MDPs and random numbers), so each policy meets the same MDPs and draws.

    python results/session15/paired.py N CKPT_A CKPT_B      # prints both means and B - A, paired
"""
import math, os, sys
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import gru, rl2_mdp

torch.set_num_threads(1)
n = int(sys.argv[1])
P, R = rl2_mdp.baselines.sample_mdps(2000, np.random.default_rng(1_000_003), 10, 5)
Pt, Rt = (torch.as_tensor(x, dtype=torch.float32) for x in (P, R))
tots = []
for path in sys.argv[2:4]:
    ck = torch.load(path, weights_only=True)
    ag = gru.make_agent(ck.get("policy", "gru"), rl2_mdp.n_inputs(ck["phi"]), 5, ck["hidden"], shared=ck.get("shared", False))
    ag.load_state_dict(ck["agent"])
    gen = torch.Generator().manual_seed(1_000_003)
    tots.append(rl2_mdp.play(ag, Pt, Rt, n, gen, transition=ck["phi"] == "transition").sum(0).numpy().astype(np.float64))
    print(path, f"{tots[-1].mean():.2f} ± {tots[-1].std(ddof=1) / math.sqrt(len(tots[-1])):.2f}")
d = tots[1] - tots[0]
print(f"difference B - A {d.mean():.2f} ± {d.std(ddof=1) / math.sqrt(len(d)):.2f} (paired)")
