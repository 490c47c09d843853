"""Probe (session 15): can the GRU policy of our best n = 10 recipe *represent* a policy at or above the
paper's RL² (156.2)? Train it by DAgger on the myopic yardstick (baselines.mdp_myopic: in every state
the action with the highest posterior-mean reward, prior N(1, 1), updated every step; 159.69 on the
2000 evaluation MDPs) instead of by RL, then evaluate it like RL².

    python results/session15/dagger_probe.py --minutes 20 --out runs/s15/dagger

DAgger (Ross et al. 2011): the policy plays its own trials; at every state it reaches, the label is
the myopic action given the history so far (uniform over tied arms), and the policy is fitted by
cross-entropy on whole trials (minibatches of whole trials from h = 0, as trpo.update replays them).
The numbers in the README came from this loop; `rl2_mdp.py --imitate myopic` now runs the same training
(rl2_mdp.play(targets=True) and trpo.imitation_step) and is what the README's commands use.
"""
import argparse, csv, math, os, sys, time
import numpy as np
import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import baselines, rl2_mdp, trpo
from gru import make_agent

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=10)
p.add_argument("--hidden", type=int, default=128)
p.add_argument("--trials-per-iter", type=int, default=256)
p.add_argument("--minibatch", type=int, default=32)
p.add_argument("--epochs", type=int, default=2)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--minutes", type=float, default=20)
p.add_argument("--eval-every", type=int, default=40)
p.add_argument("--eval-instances", type=int, default=2000)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--out", default="runs/s15/dagger")
args = p.parse_args()
torch.set_num_threads(1)
torch.manual_seed(args.seed)
S, A, T = rl2_mdp.N_STATES, rl2_mdp.N_ACTIONS, rl2_mdp.HORIZON
agent = make_agent("gru", rl2_mdp.n_inputs("transition"), A, args.hidden, shared=True)
opt = torch.optim.Adam(agent.parameters(), lr=args.lr)


@torch.no_grad()
def rollout(P, R_mean, gen):
    """The policy's own trials (as rl2_mdp.play, phi transition) with the myopic label at every step."""
    B = len(P)
    P_cum = P.cumsum(-1); P_cum[..., -1] = 1.0
    rows = torch.arange(B)
    h = agent.initial_state(B)
    s = torch.zeros(B, dtype=torch.long); a = torch.zeros(B, dtype=torch.long)
    r = torch.zeros(B); d = torch.zeros(B); s_prev = torch.full((B,), -1, dtype=torch.long)
    n_sa = torch.zeros(B, S, A); r_sum = torch.zeros(B, S, A)
    obs, targets, rewards = [], [], []
    for t in range(args.n * T):
        x = rl2_mdp.phi(s, a, r, d, S, A, prev_state=s_prev)
        mu = (1.0 + r_sum[rows, s]) / (1.0 + n_sa[rows, s])  # posterior mean, prior N(1, 1), unit noise
        best = (mu >= mu.max(-1, keepdim=True).values - 1e-6).float()
        targets.append(best / best.sum(-1, keepdim=True))
        obs.append(x)
        logits, _, h = agent(x.unsqueeze(0), h, None, need_value=False)
        u = torch.rand(B, 1, generator=gen)
        a = torch.searchsorted(torch.softmax(logits[0], -1).cumsum(-1), u).squeeze(-1).clamp_(max=A - 1)
        r = R_mean[rows, s, a] + torch.randn(B, generator=gen)
        n_sa[rows, s, a] += 1; r_sum[rows, s, a] += r
        u = torch.rand(B, 1, generator=gen)
        s_next = torch.searchsorted(P_cum[rows, s, a], u).squeeze(-1).clamp_(max=S - 1)
        episode_end = (t + 1) % T == 0
        d = torch.full((B,), float(episode_end))
        rewards.append(r)
        s_prev = s
        s = torch.zeros_like(s_next) if episode_end else s_next
    return torch.stack(obs), torch.stack(targets), torch.stack(rewards)


ev = argparse.Namespace(eval_instances=args.eval_instances, seed=0, n=args.n, phi="transition",
                        no_baselines=True, policy="gru")
os.makedirs(args.out, exist_ok=True)
log = open(os.path.join(args.out, "progress.csv"), "w", newline="")
w = csv.writer(log); w.writerow(["iteration", "steps", "seconds", "trial_reward", "ce_loss", "accuracy", "eval_mean", "eval_se"])
steps, seconds, it = 0, 0.0, 0
while seconds < args.minutes * 60:
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(trpo.seed_for(args.seed, 0, it))
    P, R_mean = rl2_mdp.sample_mdps(args.trials_per_iter, np.random.default_rng(trpo.seed_for(args.seed, 0, it)))
    obs, target, rew = rollout(P, R_mean, gen)
    B = obs.shape[1]; h0 = agent.initial_state(B)
    for epoch in range(args.epochs):
        perm = torch.randperm(B, generator=gen)
        ce = acc = 0.0; nb = 0
        for st in range(0, B, args.minibatch):
            mb = perm[st:st + args.minibatch]
            logits, _, _ = agent(obs[:, mb], h0[mb], None, need_value=False)
            loss = -(target[:, mb] * torch.log_softmax(logits, -1)).sum(-1).mean()
            opt.zero_grad(set_to_none=True); loss.backward()
            torch.nn.utils.clip_grad_norm_(agent.parameters(), 10.0); opt.step()
            with torch.no_grad():
                acc += (target[:, mb].gather(-1, logits.argmax(-1, keepdim=True)) > 0).float().mean().item()
            ce += loss.item(); nb += 1
    it += 1; steps += rew.numel(); seconds += time.perf_counter() - t0
    em = es = ""
    if it % args.eval_every == 0 or seconds >= args.minutes * 60:
        rows, _, _ = rl2_mdp.evaluate(agent, ev, "cpu")
        x = rows["RL2"]; em, es = round(float(x.mean()), 2), round(float(x.std(ddof=1) / math.sqrt(len(x))), 2)
        torch.save({"agent": agent.state_dict()}, os.path.join(args.out, "agent.pt"))
    w.writerow([it, steps, round(seconds, 1), round(rew.sum(0).mean().item(), 3), round(ce / nb, 4), round(acc / nb, 4), em, es]); log.flush()
    print(f"iter {it:4d} steps {steps:9d} {seconds:7.1f}s trial reward {rew.sum(0).mean().item():7.2f} "
          f"CE {ce / nb:.4f} acc {acc / nb:.3f}" + (f"  EVAL {em} ± {es}" if em != "" else ""), flush=True)
