"""Diagnostic for --aux checkpoints: what the auxiliary head knows, played as a policy. On the 2000 evaluation
MDPs of the README tables (as results/session18/paired.py), the GRU reads its own trajectory and acts either by
sampling its policy (the RL² row) or greedily on the auxiliary head's prediction for the current state,
argmax_a head(h_t)[s_t, a] (--aux q: the estimated optimal action values for the steps left, E[Q_k | history];
--aux reward: the estimated mean rewards, i.e. a learned myopic rule). Not RL² and not a Table 2 row: it says
whether the representation the auxiliary loss shapes holds a better decision rule than the policy found.

    python results/session21/aux_greedy.py N CKPT
"""
import argparse, math, os, sys
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import rl2_mdp

torch.set_num_threads(1)
n, path = int(sys.argv[1]), sys.argv[2]
S, A, T = rl2_mdp.N_STATES, rl2_mdp.N_ACTIONS, rl2_mdp.HORIZON
P, R = rl2_mdp.baselines.sample_mdps(2000, np.random.default_rng(1_000_003), S, A)
P, R = (torch.as_tensor(x, dtype=torch.float32) for x in (P, R))
ck = torch.load(path, weights_only=True)
a = argparse.Namespace(policy=None, phi=None, head=None, resume=None, imitate=None, aux=None, hidden=ck["hidden"])
rl2_mdp.checkpoint_policy(ck, a, path)
agent = rl2_mdp.new_agent(a, "cpu")
agent.load_state_dict(ck["agent"])
assert agent.aux_head is not None, f"{path} has no --aux head"
B, rows = len(P), torch.arange(len(P))
P_cum = P.cumsum(-1)
P_cum[..., -1] = 1.0
for rule in ("policy", "greedy on the aux head"):
    gen = torch.Generator().manual_seed(1_000_003)
    h = agent.initial_state(B)
    s, act, r, d = torch.zeros(B, dtype=torch.long), torch.zeros(B, dtype=torch.long), torch.zeros(B), torch.zeros(B)
    s_prev = torch.full((B,), -1, dtype=torch.long)
    total = torch.zeros(B, dtype=torch.float64)
    with torch.no_grad():
        for t in range(n * T):
            x = rl2_mdp.phi(s, act, r, d, S, A, prev_state=s_prev if a.phi == "transition" else None)
            logits, _, h, aux = agent(x.unsqueeze(0), h, None, need_value=False, need_aux=True)
            u = torch.rand(B, 1, generator=gen)
            if rule == "policy":
                act = torch.searchsorted(torch.softmax(logits[0], -1).cumsum(-1), u).squeeze(-1).clamp_(max=A - 1)
            else:
                act = aux[0].view(B, S, A)[rows, s].argmax(-1)
            r = R[rows, s, act] + torch.randn(B, generator=gen)
            total += r.double()
            u = torch.rand(B, 1, generator=gen)
            s_next = torch.searchsorted(P_cum[rows, s, act], u).squeeze(-1).clamp_(max=S - 1)
            end = (t + 1) % T == 0
            d = torch.full((B,), float(end))
            s_prev, s = s, (torch.zeros_like(s_next) if end else s_next)
    print(f"{path} n={n} {rule}: {total.mean():.2f} ± {total.std() / math.sqrt(B):.2f}")
