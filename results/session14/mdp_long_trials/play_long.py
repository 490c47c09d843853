"""RL² policies trained at n = 10 / 25 played unchanged for n = 50, 75, 100 episodes on the 1000 evaluation
MDPs of the Table 2 rows (seed 1_000_003, the MDPs and random stream `rl2_mdp.py --eval-only` uses).
Run from the repository root: python results/session14/mdp_long_trials/play_long.py CKPT [CKPT ...]"""
import os, sys, math, numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))  # the repository root
import rl2_mdp, gru, baselines
torch.set_num_threads(1)
P, R = baselines.sample_mdps(1000, np.random.default_rng(1_000_003), 10, 5)
Pt, Rt = (torch.as_tensor(x, dtype=torch.float32) for x in (P, R))
for path in sys.argv[1:]:
    ck = torch.load(path, weights_only=True)
    ag = gru.make_agent("gru", rl2_mdp.n_inputs(ck["phi"]), 5, ck["hidden"], shared=ck.get("shared", False))
    ag.load_state_dict(ck["agent"])
    for n in (10, 25, 50, 75, 100):
        gen = torch.Generator().manual_seed(1_000_003)
        with torch.no_grad():
            tot = rl2_mdp.play(ag, Pt, Rt, n, gen, transition=ck["phi"] == "transition").sum(0).numpy().astype(np.float64)
        print(f"{path} (trained at n = {ck['n']}, {ck['steps']} steps) played at n = {n}: "
              f"{tot.mean():.2f} ± {tot.std(ddof=1) / math.sqrt(len(tot)):.2f}", flush=True)
