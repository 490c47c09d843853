"""Paired comparison of rl2_bandit.py checkpoints on the evaluation instances of `--eval-only` (seed 0:
rl2_bandit.evaluate's instances and random numbers), so every policy meets the same bandits and draws.

    python results/session20/paired_bandit.py K N CKPT_A CKPT_B [CKPT_C ...]   # means, and each minus A, paired
"""
import argparse, math, os, sys
import numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import rl2_bandit

torch.set_num_threads(1)
k, n, paths = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
totals = []
for path in paths:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    a = argparse.Namespace(k=k, n=n, seed=0, eval_instances=1000, no_baselines=True, policy=None, phi=None,
                           resume=None, imitate=None, dagger=False, hidden=ckpt["hidden"])
    rl2_bandit.checkpoint_policy(ckpt, a, path)
    agent = rl2_bandit.make_agent(a.policy, rl2_bandit.n_inputs(k, a.phi), k, a.hidden, shared=a.shared,
                                  critic_extra=rl2_bandit.critic_extra(a))
    agent.load_state_dict(ckpt["agent"])
    rows, _, _ = rl2_bandit.evaluate(agent, a, "cpu")
    totals.append(next(iter(rows.values())))
    x = totals[-1]
    print(f"{path}: {x.mean():.2f} ± {x.std(ddof=1) / math.sqrt(len(x)):.2f}", flush=True)
for path, x in zip(paths[1:], totals[1:]):
    d = x - totals[0]
    print(f"{path} - {paths[0]}: {d.mean():+.2f} ± {d.std(ddof=1) / math.sqrt(len(d)):.2f} (paired)")
