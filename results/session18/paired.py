"""Paired difference of two rl2_mdp.py checkpoints on the 2000 evaluation MDPs of the README tables
(seed 0: rl2_mdp.evaluate's MDPs and random numbers), so both policies meet the same MDPs and draws.
Any phi / head / shared setting (the session-15 script predates --head and --phi value).

    python results/session18/paired.py N CKPT_A CKPT_B      # prints both means and B - A, paired
"""
import argparse, math, os, sys
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import rl2_mdp

torch.set_num_threads(1)
n = int(sys.argv[1])
P, R = rl2_mdp.baselines.sample_mdps(2000, np.random.default_rng(1_000_003), 10, 5)
Pt, Rt = (torch.as_tensor(x, dtype=torch.float32) for x in (P, R))
tots = []
for path in sys.argv[2:4]:
    ck = torch.load(path, weights_only=True)
    a = argparse.Namespace(policy=None, phi=None, head=None, resume=None, imitate=None, hidden=ck["hidden"])
    rl2_mdp.checkpoint_policy(ck, a, path)
    ag = rl2_mdp.new_agent(a, "cpu")
    ag.load_state_dict(ck["agent"])
    gen = torch.Generator().manual_seed(1_000_003)
    tot = rl2_mdp.play(ag, Pt, Rt, n, gen, transition=a.phi == "transition", value_phi=a.phi == "value")
    tots.append(tot.sum(0).numpy().astype(np.float64))
    print(path, f"{tots[-1].mean():.2f} ± {tots[-1].std(ddof=1) / math.sqrt(len(tots[-1])):.2f}")
d = tots[1] - tots[0]
print(f"difference B - A {d.mean():.2f} ± {d.std(ddof=1) / math.sqrt(len(d)):.2f} (paired)")
