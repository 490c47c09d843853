import os, sys, math, numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))  # the repository root
import rl2_mdp, gru
torch.set_num_threads(1)
P, R = rl2_mdp.baselines.sample_mdps(2000, np.random.default_rng(1_000_003), 10, 5)
Pt, Rt = (torch.as_tensor(x, dtype=torch.float32) for x in (P, R))
tots = []
for path in sys.argv[1:]:
    ck = torch.load(path, weights_only=True)
    ag = gru.make_agent("gru", rl2_mdp.n_inputs(ck["phi"]), 5, ck["hidden"], shared=ck.get("shared", False)); ag.load_state_dict(ck["agent"])
    gen = torch.Generator().manual_seed(1_000_003)
    with torch.no_grad():
        tots.append(rl2_mdp.play(ag, Pt, Rt, 10, gen, transition=True).sum(0).numpy().astype(np.float64))
    print(path, f"{tots[-1].mean():.2f} ± {tots[-1].std(ddof=1)/math.sqrt(2000):.2f}")
d = tots[1] - tots[0]
print(f"difference {d.mean():.2f} ± {d.std(ddof=1)/math.sqrt(len(d)):.2f} (paired)")
