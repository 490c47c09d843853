"""Where does RL at n = 500 lose? Per-pull diagnostics of two k = 50 policies played for 500 pulls on the
1000 evaluation instances: the n = 100 policy unchanged (session 16's best, 0.906) and the same policy after
40M steps of RL at n = 500 (0.867). Per block of 50 pulls: mean reward per pull, regret per pull against the
best arm, the policy's entropy, pulls of arms never tried before, and the separate value baseline's fit to
the discounted return it is trained on (gamma = 0.99): explained variance and mean error. Checkpoints
trained with --critic-sees-time are played with the time features their baseline reads.

    python results/session16/n500_diagnostics.py runs/s16/k50n100/checkpoint.pt runs/s16/k50n500/checkpoint.pt
"""
import sys

import numpy as np
import torch

sys.path.insert(0, ".")
import rl2_bandit  # noqa: E402
from gru import make_agent  # noqa: E402

K, N, GAMMA, BLOCK = 50, 500, 0.99, 50
torch.set_num_threads(1)


def diagnose(path):
    ckpt = torch.load(path, weights_only=True, map_location="cpu")
    sees_time = bool(ckpt.get("critic_sees_time"))  # --critic-sees-time: the baseline also reads the time
    agent = make_agent("gru", rl2_bandit.n_inputs(K, "pair"), K, ckpt["hidden"], critic_extra=2 * sees_time)
    agent.load_state_dict(ckpt["agent"])
    gen = torch.Generator().manual_seed(0 + 1_000_003)  # the evaluation instances of rl2_bandit.evaluate, seed 0
    probs = rl2_bandit.sample_bandits(1000, K, gen)
    rewards, batch = rl2_bandit.play(agent, probs, N, gen, store=True, pair=True,
                                     critic_time=rl2_bandit.time_features(N, GAMMA) if sees_time else None)
    acts, logits, values = batch["actions"], batch["logits"], batch["values"]
    ret = torch.zeros_like(rewards)  # discounted return from each pull to the trial's end
    g = torch.zeros(rewards.shape[1])
    for t in reversed(range(N)):
        g = rewards[t] + GAMMA * g
        ret[t] = g
    p = torch.softmax(logits, -1)
    ent = -(p * torch.log(p.clamp(min=1e-12))).sum(-1)
    tried = torch.zeros(rewards.shape[1], K, dtype=torch.bool)
    new = torch.zeros_like(rewards)
    for t in range(N):
        new[t] = (~tried[torch.arange(rewards.shape[1]), acts[t]]).float()
        tried[torch.arange(rewards.shape[1]), acts[t]] = True
    regret = probs.max(1).values.unsqueeze(0) - probs.gather(1, acts.t()).t()
    rows = []
    for b in range(0, N, BLOCK):
        s = slice(b, b + BLOCK)
        err = values[s] - ret[s]
        ev = 1 - err.var() / ret[s].var()
        rows.append((b, rewards[s].mean().item(), regret[s].mean().item(), ent[s].mean().item(),
                     new[s].sum(0).mean().item(), ev.item(), err.mean().item()))
    err = values - ret
    rows.append(("all", rewards.mean().item(), regret.mean().item(), ent.mean().item(), new.sum(0).mean().item(),
                 (1 - err.var() / ret.var()).item(), err.mean().item()))
    return rewards.sum(0).mean().item(), tried.sum(1).float().mean().item(), rows


if __name__ == "__main__":
    for path in sys.argv[1:]:
        total, arms, rows = diagnose(path)
        print(f"{path}: total {total:.2f}, arms tried per trial {arms:.1f} of {K}")
        print("  pulls      reward/pull  regret/pull  entropy  new arms  value EV  value bias")
        for b, r, reg, e, nw, ev, bias in rows:
            label = f"{b:3d}-{b + BLOCK - 1:3d}" if b != "all" else "    all"
            print(f"  {label}   {r:10.4f}  {reg:11.4f}  {e:7.3f}  {nw:8.2f}  {ev:8.3f}  {bias:+10.3f}")
