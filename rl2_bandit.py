"""RL² on Bernoulli multi-armed bandits (Duan et al. 2016, §3.1, Table 1), end to end.

A trial is one bandit with k arms, p_i ~ U(0, 1), played for n pulls; each pull is an episode of
length 1, so a trial is n steps. The GRU policy sees phi = (one-hot previous arm, previous reward,
previous done flag) and keeps its state across the n pulls, so whatever it learns about the arms
lives in its hidden state: the "fast" RL algorithm. First-order TRPO (trpo.py) is the "slow" one.

    python rl2_bandit.py --k 10 --n 100                  # train, evaluate, print the Table 1 row
    python rl2_bandit.py --k 5 --n 10 --total-timesteps 2000000 --out runs/k5n10
    python rl2_bandit.py --k 5 --n 10 --eval-only --checkpoint runs/k5n10/checkpoint.pt
    python rl2_bandit.py --k 5 --n 10 --resume runs/k5n10  # continue an interrupted run

Outputs under --out: progress.csv (one row per iteration), checkpoint.pt, results.json,
learning_curve.png (normalised as the paper's Figure 2: random = 0, Gittins = 1).
"""
import argparse
import csv
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch

import baselines
import trpo
from gru import RecurrentAgent

EXPERIMENT = "bandit"

# Defaults per n: (total env steps, trials per iteration, Adam step size), chosen so that
# `python rl2_bandit.py --k K --n N` finishes on a 2-core laptop CPU in at most ~30 minutes. Long
# trials want bigger batches and smaller steps: at n = 100, 100 trials per batch with lr 3e-3
# collapsed the policy's entropy early (measured; see README).
DEFAULT_BUDGET = {10: (1_500_000, 250, 3e-3), 100: (4_000_000, 250, 1e-3), 500: (5_000_000, 50, 1e-3)}


def one_line_error(parser, msg):
    """Bad input: one line on stderr and exit code 2 (argparse would add a usage block)."""
    print(f"{parser.prog}: error: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    p.error = lambda msg: one_line_error(p, msg)
    p.add_argument("--k", type=int, default=5, help="arms per bandit")
    p.add_argument("--n", type=int, default=10, help="pulls (episodes) per trial")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--total-timesteps", type=int, default=None, help="env steps to train (default per n)")
    p.add_argument("--trials-per-iter", type=int, default=None, help="trials per TRPO batch (default per n)")
    p.add_argument("--hidden", type=int, default=256, help="GRU units (paper: 256)")
    p.add_argument("--lr", type=float, default=None, help="Adam step size (default per n)")
    p.add_argument("--epochs", type=int, default=5, help="surrogate epochs per iteration (authors: >= 5)")
    p.add_argument("--minibatch", type=int, default=32, help="trials per minibatch (authors: 32)")
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--lam", type=float, default=0.3, help="GAE lambda (paper, appendix A.1)")
    p.add_argument("--max-kl", type=float, default=0.01, help="trust region: mean KL per iteration")
    p.add_argument("--clip", type=float, default=0.1)
    p.add_argument("--ent-coef", type=float, default=0.0)
    p.add_argument("--eval-instances", type=int, default=1000)
    p.add_argument("--no-baselines", action="store_true", help="evaluate RL² only")
    p.add_argument("--out", default=None, help="output folder (default runs/bandit_k{k}_n{n}_s{seed})")
    p.add_argument("--eval-only", action="store_true", help="evaluate --checkpoint, no training")
    p.add_argument("--checkpoint", default=None, help="checkpoint to evaluate (with --eval-only)")
    p.add_argument("--resume", default=None, help="output folder of an interrupted run to continue")
    p.add_argument("--checkpoint-every", type=int, default=10, help="iterations between checkpoints")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on small CPUs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    a = p.parse_args(argv)
    if a.k < 2:
        p.error("--k must be at least 2 arms")
    if a.n < 1:
        p.error("--n must be at least 1 pull")
    budget, trials, lr = DEFAULT_BUDGET[min(DEFAULT_BUDGET, key=lambda m: abs(math.log(m / a.n)))]
    a.lr = lr if a.lr is None else a.lr
    a.total_timesteps = budget if a.total_timesteps is None else a.total_timesteps
    a.trials_per_iter = trials if a.trials_per_iter is None else a.trials_per_iter
    for name in ("total_timesteps", "trials_per_iter", "hidden", "epochs", "minibatch", "eval_instances",
                 "checkpoint_every", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer")
    if a.eval_instances < 2:
        p.error("--eval-instances must be at least 2 (standard errors need two)")
    for name in ("lr", "max_kl", "clip"):
        if not getattr(a, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if not (0 <= a.gamma <= 1 and 0 <= a.lam <= 1):
        p.error("--gamma and --lam must lie in [0, 1]")
    if a.ent_coef < 0:
        p.error("--ent-coef must be non-negative")
    trpo.check_run_args(p, a)  # --eval-only/--checkpoint, --device, --resume
    a.out = a.resume or a.out or f"runs/bandit_k{a.k}_n{a.n}_s{a.seed}"
    return a


# ---- the environment: B bandit trials at once (§3.1) ----
def sample_bandits(num, k, generator, device="cpu"):
    """Arm means p_i ~ U(0, 1), the paper's task distribution rho_M."""
    return torch.rand(num, k, generator=generator).to(device)


def phi(prev_action, prev_reward, prev_done, k):
    """Input embedding (appendix A.1): the state is a constant placeholder (stateless problem), so phi
    is the one-hot previous action, previous reward and previous done flag. At t = 0 they are the
    placeholders action 0, reward 0, done 0."""
    one_hot = torch.nn.functional.one_hot(prev_action, k).to(prev_reward.dtype)
    return torch.cat([one_hot, prev_reward.unsqueeze(-1), prev_done.unsqueeze(-1)], -1)


@torch.no_grad()
def play(agent, probs, n, generator, store=False):
    """Play B = len(probs) trials of n pulls with the recurrent policy, all trials at once.
    The hidden state starts at zero for each trial and is carried across its n episodes.
    Returns rewards (n, B) and, with store=True, the rollout buffer for the TRPO update."""
    B, k = probs.shape
    device = probs.device
    h = agent.initial_state(B, device)
    a = torch.zeros(B, dtype=torch.long, device=device)
    r = torch.zeros(B, device=device)
    d = torch.zeros(B, device=device)
    buf = {key: [] for key in ("obs", "actions", "logits", "rewards", "values")}
    rows = torch.arange(B, device=device)
    for t in range(n):
        x = phi(a, r, d, k)
        logits, value, h = agent(x.unsqueeze(0), h, None, need_value=store)
        logits = logits[0]
        u = torch.rand(B, 1, generator=generator).to(device)
        a = torch.searchsorted(torch.softmax(logits, -1).cumsum(-1), u).squeeze(-1).clamp_(max=k - 1)
        r = (torch.rand(B, generator=generator).to(device) < probs[rows, a]).float()
        d = torch.ones(B, device=device)  # every pull ends an episode; the trial goes on
        if store:
            buf["obs"].append(x)
            buf["logits"].append(logits)
            buf["values"].append(value[0])
            buf["actions"].append(a)
        buf["rewards"].append(r)
    rewards = torch.stack(buf["rewards"])
    if not store:
        return rewards
    batch = {key: torch.stack(v) for key, v in buf.items()}
    return rewards, batch


def evaluate(agent, args, device, gittins_ref=None):
    """Table 1 row: RL² and every baseline on the same eval instances (a seed stream disjoint
    from training), paired significance marks, paper values in their own column."""
    gen = torch.Generator().manual_seed(args.seed + 1_000_003)
    probs = sample_bandits(args.eval_instances, args.k, gen)
    rl2 = play(agent, probs.to(device), args.n, gen).sum(0).cpu().numpy().astype(np.float64)
    rows = {"RL2": rl2}
    hyper = {}
    if not args.no_baselines:
        base, hyper = baselines.run_bandit_baselines(probs.numpy().astype(np.float64), args.n, seed=args.seed)
        rows.update(base)
    return rows, hyper, probs


def print_row(rows, args, hyper):
    best = baselines.paired_significance(rows)
    paper = baselines.PAPER_TABLE1.get((args.n, args.k), {})
    print(f"\nTable 1 row, n = {args.n}, k = {args.k}: total reward, mean ± SE over {args.eval_instances} "
          f"instances; * = best or not significantly worse (paired one-sided t-test, p = 0.05)")
    print(f"  {'method':12s} {'ours':>18s}   {'paper':>7s}  hyperparameters")
    for m in ["Random", "Gittins", "TS", "OTS", "UCB1", "eps-greedy", "Greedy", "RL2"]:
        if m not in rows:
            continue
        x = rows[m]
        se = x.std(ddof=1) / math.sqrt(len(x))
        pv = f"{paper[m]:7.1f}" if m in paper else "      -"
        print(f"  {m:12s} {x.mean():10.3f} ± {se:5.3f} {'*' if m in best else ' '} {pv}  {hyper.get(m, '')}")
    bo = baselines.bayes_optimal_bandit(args.k, args.n)
    if bo is not None:
        print(f"  {'Bayes-opt':12s} {bo:10.3f}  (exact dynamic programming: the ceiling)")
    print(f"  {'Oracle':12s} {baselines.oracle_bandit(args.k, args.n):10.3f}  (knows the p_i)")
    return best


def plot_curve(csv_path, png_path, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    steps = [int(r["steps"]) for r in rows]
    score = [float(r["normalized"]) for r in rows]
    plt.figure(figsize=(5, 3.5))
    plt.plot(steps, score, label="RL²")
    plt.axhline(1.0, color="k", ls="--", lw=0.8, label="Gittins")
    plt.axhline(0.0, color="gray", ls=":", lw=0.8, label="random")
    plt.xlabel("environment steps")
    plt.ylabel("normalised total reward")
    plt.title(f"RL² bandit, k = {args.k}, n = {args.n}")
    plt.ylim(min(-0.1, min(score)), 1.15)
    plt.legend(loc="lower right")
    plt.tight_layout()
    plt.savefig(png_path, dpi=120)
    plt.close()


CSV_FIELDS = ["iteration", "steps", "seconds", "steps_per_s", "trial_reward", "normalized", "kl", "entropy",
              "clipfrac", "explained_variance", "backtracks", "epoch_kept", "v_loss"]


if __name__ == "__main__":
    args = parse_args()
    torch.set_num_threads(args.threads)
    # Data parallel under torchrun (gloo on CPU, nccl on GPU): every process collects its share of
    # the trials, trpo.update averages gradients and statistics, so parameters stay identical.
    world, rank, device = trpo.init_distributed(args.device)
    if args.trials_per_iter % world:
        sys.exit(f"error: --trials-per-iter {args.trials_per_iter} is not divisible by {world} processes")
    torch.manual_seed(args.seed)  # same initial parameters in every process
    agent = RecurrentAgent(args.k + 2, args.k, args.hidden).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)

    if args.eval_only:
        ckpt = trpo.load_checkpoint(args.checkpoint, EXPERIMENT, {"k": args.k, "n": args.n})
        agent = RecurrentAgent(args.k + 2, args.k, ckpt["hidden"]).to(device)
        agent.load_state_dict(ckpt["agent"])
        rows, hyper, _ = evaluate(agent, args, device)
        print_row(rows, args, hyper)
        sys.exit(0)

    log = rank == 0  # only rank 0 prints and writes files
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    csv_path = os.path.join(args.out, "progress.csv")
    # Gittins' mean on reference instances (disjoint seed) normalises progress as the paper's Fig. 2.
    ref_probs = sample_bandits(2000, args.k, torch.Generator().manual_seed(args.seed + 2_000_003)).numpy()
    random_ref = args.n / 2
    gittins_ref = float(baselines.run_bandit_baselines(ref_probs.astype(np.float64), args.n, seed=args.seed,
                                                       tune=False)[0]["Gittins"].mean()) if log else 0.0
    iteration, steps, seconds = 0, 0, 0.0
    kept = []
    if args.resume:
        ckpt = trpo.load_checkpoint(ckpt_path, EXPERIMENT, {"k": args.k, "n": args.n})
        args.hidden = ckpt["hidden"]
        agent = RecurrentAgent(args.k + 2, args.k, args.hidden).to(device)
        optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)
        agent.load_state_dict(ckpt["agent"])
        optimizer.load_state_dict(ckpt["optimizer"])
        iteration, steps, seconds = ckpt["iteration"], ckpt["steps"], ckpt["seconds"]
        if log and os.path.isfile(csv_path):  # drop rows logged after the checkpoint: none is duplicated
            with open(csv_path) as f:
                kept = [r for r in csv.DictReader(f) if int(r["iteration"]) <= iteration]
            print(f"resuming {args.out} at iteration {iteration}, {steps} steps")
    if log:
        os.makedirs(args.out, exist_ok=True)
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, CSV_FIELDS)
            w.writeheader()
            w.writerows(kept)

    def state():
        return {"experiment": EXPERIMENT, "k": args.k, "n": args.n, "hidden": args.hidden,
                "agent": agent.state_dict(), "optimizer": optimizer.state_dict(),
                "iteration": iteration, "steps": steps, "seconds": seconds,
                "args": {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}}

    interrupted = []
    signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))  # finish the iteration, then save
    signal.signal(signal.SIGTERM, lambda *_: interrupted.append(True))
    B = args.trials_per_iter // world
    if log:
        print(f"RL² bandit k={args.k} n={args.n}: {args.total_timesteps} steps, {args.trials_per_iter} trials "
              f"({args.trials_per_iter * args.n} steps) per iteration, GRU {args.hidden}, device {device}, "
              f"{world} process(es) x {args.threads} thread(s); Gittins reference {gittins_ref:.3f}, "
              f"random {random_ref:.3f}", flush=True)
    trial_end = torch.zeros(args.n, B, device=device)
    trial_end[-1] = 1  # GAE runs across the n episodes and stops only at the trial's end
    reset = torch.zeros(args.n, B, device=device)
    while steps < args.total_timesteps:
        stop = trpo.all_mean(torch.tensor(float(bool(interrupted)), device=device)).item() > 0  # all stop together
        if stop:
            break
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(trpo.seed_for(args.seed, rank, iteration))
        probs = sample_bandits(B, args.k, gen, device)
        rewards, batch = play(agent, probs, args.n, gen, store=True)
        adv, ret = trpo.gae(rewards, batch["values"], trial_end, args.gamma, args.lam)
        batch.update(advantages=adv, returns=ret, reset=reset, h0=agent.initial_state(B, device))
        info = trpo.update(agent, optimizer, batch, policy_params=agent.policy_parameters(), clip=args.clip,
                           epochs=args.epochs, trials_per_minibatch=args.minibatch, max_kl=args.max_kl,
                           ent_coef=args.ent_coef, generator=gen)
        if not all(math.isfinite(info[key]) for key in ("kl", "pg_loss", "v_loss")):
            sys.exit(f"error: non-finite loss at iteration {iteration + 1}; last good checkpoint: {ckpt_path}")
        iteration += 1
        steps += rewards.numel() * world
        dt = time.perf_counter() - t0
        seconds += dt
        trial_reward = trpo.all_mean(rewards.sum(0).mean()).item()
        if not log:
            continue
        row = {"iteration": iteration, "steps": steps, "seconds": round(seconds, 2),
               "steps_per_s": round(rewards.numel() * world / dt), "trial_reward": round(trial_reward, 4),
               "normalized": round((trial_reward - random_ref) / (gittins_ref - random_ref), 4),
               "kl": round(info["kl"], 5), "entropy": round(info["entropy"], 4),
               "clipfrac": round(info["clipfrac"], 4), "explained_variance": round(info["explained_variance"], 4),
               "backtracks": info["backtracks"], "epoch_kept": info["epoch_kept"], "v_loss": round(info["v_loss"], 5)}
        with open(csv_path, "a", newline="") as f:
            csv.DictWriter(f, CSV_FIELDS).writerow(row)
        print(f"iter {iteration:4d}  steps {steps:9d}  {row['steps_per_s']:6d} steps/s  trial reward "
              f"{trial_reward:8.3f}  normalised {row['normalized']:6.3f}  KL {info['kl']:.4f}  "
              f"entropy {info['entropy']:.3f}  EV {info['explained_variance']:.2f}  bt {info['backtracks']}",
              flush=True)
        if iteration % args.checkpoint_every == 0:
            trpo.save_checkpoint(ckpt_path, state())
    if not log:
        torch.distributed.destroy_process_group()
        sys.exit(0)
    trpo.save_checkpoint(ckpt_path, state())
    if world > 1:
        torch.distributed.destroy_process_group()
    if interrupted:
        sys.exit(f"interrupted at iteration {iteration}; resume with: python rl2_bandit.py --k {args.k} "
                 f"--n {args.n} --resume {args.out}")
    plot_curve(csv_path, os.path.join(args.out, "learning_curve.png"), args)

    rows, hyper, _ = evaluate(agent, args, device)
    best = print_row(rows, args, hyper)
    results = {"experiment": EXPERIMENT, "k": args.k, "n": args.n, "seed": args.seed, "steps": steps,
               "iterations": iteration, "seconds": round(seconds, 1), "device": str(device), "processes": world,
               "threads": args.threads, "eval_instances": args.eval_instances,
               "rows": {m: {"mean": float(x.mean()), "stderr": float(x.std(ddof=1) / math.sqrt(len(x)))}
                        for m, x in rows.items()},
               "best_or_not_significantly_worse": sorted(best),
               "hyperparameters": {m: str(v) for m, v in hyper.items()},
               "bayes_optimal": baselines.bayes_optimal_bandit(args.k, args.n),
               "paper": dict(baselines.PAPER_TABLE1.get((args.n, args.k), {}))}
    tmp = os.path.join(args.out, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, os.path.join(args.out, "results.json"))
    print(f"wrote {args.out}/results.json, progress.csv, learning_curve.png, checkpoint.pt")
