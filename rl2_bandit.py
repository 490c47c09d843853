"""RL² on Bernoulli multi-armed bandits (Duan et al. 2016, §3.1, Table 1), end to end.

A trial is one bandit with k arms, p_i ~ U(0, 1), played for n pulls; each pull is an episode of
length 1, so a trial is n steps. The GRU policy sees phi = (one-hot previous arm, previous reward,
previous done flag) and keeps its state across the n pulls, so whatever it learns about the arms
lives in its hidden state: the "fast" RL algorithm. First-order TRPO (trpo.py) is the "slow" one.

    python rl2_bandit.py --k 10 --n 100                  # train, evaluate, print the Table 1 row
    python rl2_bandit.py --k 5 --n 10 --total-timesteps 2000000 --out runs/k5n10
    python rl2_bandit.py --k 5 --n 10 --eval-only --checkpoint runs/k5n10/checkpoint.pt
    python rl2_bandit.py --k 5 --n 10 --resume runs/k5n10  # continue an interrupted run
    # n = 10 within 0.05 of Bayes-optimal in ~3.5 min on 2 cores (README): a smaller GRU than the paper's 256
    torchrun --standalone --nproc_per_node 2 -- rl2_bandit.py --k 10 --n 10 --total-timesteps 1500000 \
        --max-kl 0.02 --hidden 64 --minibatch 64

Beyond the paper (README): --imitate gittins trains the same GRU by behaviour cloning of the finite-horizon
Gittins policy (the paper's §3.1 ablation; --dagger labels the policy's own trials instead); --policy mlp is
the memoryless control (gru.MLPAgent); --analyse measures, per pull, how often the trained policy agrees
with Gittins / Thompson sampling and how well a linear probe decodes the Bayesian posterior from its state:

    python rl2_bandit.py --k 5 --n 10 --imitate gittins --total-timesteps 500000 --analyse
    python rl2_bandit.py --k 5 --n 10 --policy mlp
    python rl2_bandit.py --k 5 --n 10 --eval-only --checkpoint runs/k5n10/checkpoint.pt --analyse --out runs/an

--phi pair (beyond the paper) feeds the one-hot of the previous (arm, reward) pair instead of the paper's
phi; our best n = 100 and n = 500 scores use it with a curriculum over n (README, sessions 10, 12 and 13;
k = 10, n = 100: 0.951 of the way from random to Gittins with a cool-down of the step size):

    torchrun --standalone --nproc_per_node 2 -- rl2_bandit.py --k 10 --n 10 --phi pair --hidden 64 --minibatch 64 \
        --total-timesteps 1500000 --max-kl 0.02 --out runs/k10n10_pair
    torchrun --standalone --nproc_per_node 2 -- rl2_bandit.py --k 10 --n 100 --phi pair --lam 0.9 --lr 1e-2 \
        --minibatch 32 --init-from runs/k10n10_pair/checkpoint.pt --total-timesteps 32000000 --anneal-lr 0.75

Two variance reductions of the outer loop (beyond the paper, trpo.py's docstring): --expected-rewards scores the
advantages with the pulled arm's p instead of the 0/1 draw, --trials-per-task K plays each bandit K times per
batch with a leave-one-out baseline. With them and lambda = 1, RL at n = 500 raises the committed k = 10
n = 100 policy from 0.913 to 0.924 of the way to Gittins in 9M steps, and the k = 50 one from 0.906 to 0.920 in
20 minutes with --trials-per-iter 400 --minibatch 100 (README, session 20):

    python rl2_bandit.py --k 10 --n 500 --phi pair --init-from results/session19/k10n100/checkpoint.pt --lr 1e-3 \
        --lam 1.0 --max-kl 0.02 --trials-per-iter 100 --minibatch 25 --total-timesteps 9000000 \
        --expected-rewards --trials-per-task 4 --critic-sees-time

Outputs under --out: progress.csv (one row per iteration), checkpoint.pt, results.json,
learning_curve.png (normalised as the paper's Figure 2: random = 0, Gittins = 1); with --analyse also
analysis.png and an "analysis" section in results.json.
"""
import argparse
import csv
import json
import math
import os
import signal
import sys
import time
import warnings

import numpy as np
import torch

import baselines
import trpo
from gru import POLICIES, RecurrentAgent, load_widened, make_agent

EXPERIMENT = "bandit"
PHIS = ("paper", "pair")  # --phi: the input embedding (phi below)

# Defaults per n: (total env steps, trials per iteration, Adam step size), chosen so that
# `python rl2_bandit.py --k K --n N` finishes on a 2-core laptop CPU in at most ~30 minutes (measured:
# k = 10, n = 100 took 28.3 min of training in one process on the slowest machine we had). Long
# trials want bigger batches and smaller steps: at n = 100, 100 trials per batch with lr 3e-3
# collapsed the policy's entropy early (measured; see README).
DEFAULT_BUDGET = {10: (1_500_000, 250, 3e-3), 100: (2_500_000, 250, 1e-3), 500: (5_000_000, 50, 1e-3)}


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
    p.add_argument("--minibatch", type=int, default=32, help="trials per minibatch and process (authors: 32)")
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--lam", type=float, default=0.3, help="GAE lambda (paper, appendix A.1)")
    p.add_argument("--max-kl", type=float, default=0.01, help="trust region: mean KL per iteration")
    p.add_argument("--kl-check", choices=("each", "last"), default="each",
                   help="each: measure every epoch's iterate on the whole batch, keep the best inside the trust region "
                        "(the authors' rule); last (beyond the paper): the last epoch's iterate first, earlier ones "
                        "only while outside or not improving: one whole-batch pass per iteration instead of one per "
                        "epoch, the same iterate when surrogate and KL grow with the epochs (trpo.update)")
    p.add_argument("--clip", type=float, default=0.1)
    p.add_argument("--ent-coef", type=float, default=0.0)
    p.add_argument("--value-scale", type=float, default=0.0, metavar="S",
                   help="fit the value baseline to returns of (r - 0.5) / S instead of r (0: raw rewards); "
                        "the fitted advantages are the same (see value_rewards)")
    p.add_argument("--shared", action="store_true",
                   help="beyond the paper for bandits: a value head on the policy's GRU instead of a separate value "
                        "GRU (the paper's maze network; rl2_mdp.py's best recipe) (with --eval-only / --resume: the checkpoint's)")
    p.add_argument("--trial-end", choices=("terminal", "truncate"), default="terminal",
                   help="terminal: nothing is worth anything after a trial's last pull (the paper's objective for n "
                        "pulls); truncate (beyond the paper): the last pull's advantage bootstraps from the value of "
                        "pull n + 1, as if the trial went on, so a policy trained on n pulls keeps the exploration "
                        "worth it when more follow (for a policy to be played for more than n pulls)")
    p.add_argument("--critic-sees-time", action="store_true",
                   help="beyond the paper: the value baseline also reads the time in the trial, t/n and the discount "
                        "mass left 1 - gamma^(n - t) (the policy never does; see time_features)")
    p.add_argument("--expected-rewards", action="store_true",
                   help="beyond the paper: the advantages and value targets use each step's expected reward given the "
                        "state and action (known to the simulator) instead of the sampled one; the policy still sees "
                        "the sampled reward (unbiased: see trpo.py, 'expected rewards')")
    p.add_argument("--trials-per-task", type=int, default=1, metavar="K",
                   help="beyond the paper: play each sampled task in K trials of the batch and subtract from each "
                        "trial's advantages the mean of the other K - 1 (trpo.task_baseline; 1: the paper's estimator)")
    p.add_argument("--critic-sees-task", action="store_true",
                   help="beyond the paper: the value baseline also reads the arm means p (the policy never does; "
                        "see gru.RecurrentAgent)")
    p.add_argument("--anneal-lr", type=float, nargs="?", const=1.0, default=0.0, metavar="F",
                   help="decay the Adam step size linearly to 0 over the last fraction F of the budget "
                        "(alone: F = 1, the whole budget; 0.3: a cool-down over the last 30%%)")
    p.add_argument("--minutes", type=float, default=0.0, metavar="M",
                   help="also stop after M minutes of training (wall time; 0: no limit); --anneal-lr then decays "
                        "over the last fraction F of the M minutes, so a run on a faster machine simply takes more steps")
    p.add_argument("--init-from", default=None, metavar="CKPT",
                   help="start from the weights of a checkpoint with the same k and any n (a curriculum over n)")
    p.add_argument("--eval-instances", type=int, default=1000)
    p.add_argument("--no-baselines", action="store_true", help="evaluate RL² only")
    p.add_argument("--out", default=None, help="output folder (default runs/bandit_k{k}_n{n}_s{seed})")
    p.add_argument("--eval-only", action="store_true", help="evaluate --checkpoint, no training")
    p.add_argument("--checkpoint", default=None, help="checkpoint to evaluate (with --eval-only)")
    p.add_argument("--resume", default=None, help="output folder of an interrupted run to continue")
    p.add_argument("--checkpoint-every", type=int, default=10, help="iterations between checkpoints")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on small CPUs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--phi", choices=PHIS, default=None,
                   help="paper: phi of appendix A.1 (default); pair: beyond the paper, the one-hot of the previous "
                        "(arm, reward) pair, 2k + 1 inputs (see phi; with --eval-only / --resume: the checkpoint's)")
    p.add_argument("--policy", choices=POLICIES, default=None,
                   help="gru: RL² (default); mlp: the memoryless control, the same phi through a feed-forward "
                        "net (with --eval-only / --resume: the checkpoint's kind)")
    p.add_argument("--imitate", choices=["gittins"], default=None,
                   help="train by supervised learning on finite-horizon Gittins trajectories (the paper's "
                        "imitation ablation, §3.1) instead of TRPO; same budget, same evaluation")
    p.add_argument("--dagger", action="store_true",
                   help="with --imitate: train on the policy's own trials labelled with the Gittins action "
                        "(DAgger with beta = 0) instead of on Gittins' trials (the paper's behaviour cloning)")
    p.add_argument("--analyse", action="store_true",
                   help="after training (or with --eval-only): agreement with Gittins / Thompson sampling per "
                        "pull and a linear probe of the GRU state; writes analysis.png and results.json")
    p.add_argument("--bench-scaling", type=int, nargs="?", const=2, default=None, metavar="N",
                   help="train the given budget with 1 process, then with N (default 2) under torchrun; print "
                        "steps/s of each and the ratio, then exit")
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
    if a.value_scale < 0:
        p.error("--value-scale must be non-negative (0: raw rewards)")
    trpo.check_run_args(p, a, EXPERIMENT, {"k": a.k, "n": a.n})  # shared flags, checkpoints, --init-from
    if a.dagger and not a.imitate:
        p.error("--dagger needs --imitate gittins")
    if a.expected_rewards and a.imitate:
        p.error("--expected-rewards changes the TRPO advantages; --imitate has none")
    if a.critic_sees_task and a.imitate:
        p.error("--critic-sees-task changes the TRPO baseline; --imitate has none")
    if a.trial_end == "truncate" and a.imitate:
        p.error("--trial-end truncate changes the TRPO advantages; --imitate has none")
    if a.trial_end == "truncate" and a.critic_sees_time:
        p.error("--trial-end truncate and --critic-sees-time exclude each other: the time features end at pull n")
    if a.critic_sees_time and a.imitate:
        p.error("--critic-sees-time changes the TRPO baseline; --imitate has none")
    if a.shared and (a.critic_sees_task or a.critic_sees_time):
        p.error("--shared excludes --critic-sees-task / --critic-sees-time: the policy's GRU must not read them")
    if a.shared and a.policy == "mlp":
        p.error("--shared is for --policy gru (the MLP has its own value layers)")
    if not (a.eval_only or a.resume):  # otherwise the checkpoint says (checkpoint_policy)
        a.policy = a.policy or "gru"
        a.phi = a.phi or "paper"
    a.out = a.resume or a.out or f"runs/bandit_k{a.k}_n{a.n}_s{a.seed}"
    return a


# ---- the environment: B bandit trials at once (§3.1) ----
def sample_bandits(num, k, generator, device="cpu", per_task=1):
    """Arm means p_i ~ U(0, 1), the paper's task distribution rho_M. per_task = K > 1 (--trials-per-task):
    num / K bandits, each in K neighbouring rows (trpo.task_baseline)."""
    return torch.rand(num // per_task, k, generator=generator).to(device).repeat_interleave(per_task, 0)


def phi(prev_action, prev_reward, prev_done, k, pair=False):
    """Input embedding (appendix A.1): the state is a constant placeholder (stateless problem), so phi
    is the one-hot previous action, previous reward and previous done flag. At t = 0 they are the
    placeholders action 0, reward 0, done 0.

    pair=True (--phi pair, beyond the paper): the one-hot of the previous (arm, reward) pair instead,
    [one-hot(a) * r, one-hot(a) * (1 - r), done], 2k + 1 inputs carrying the same information. The
    Bayesian posterior is the per-arm success and failure counts; with the paper's phi the GRU must form
    the product "arm i AND success" itself before it can count it, with this phi each count is a sum of
    one input column (as --phi transition does for the MDP's (state, action) pairs). At t = 0 (done 0)
    both blocks are zero."""
    one_hot = torch.nn.functional.one_hot(prev_action, k).to(prev_reward.dtype)
    if pair:
        hit = one_hot * prev_done.unsqueeze(-1)  # no pair before the first pull
        r = prev_reward.unsqueeze(-1)
        return torch.cat([hit * r, hit * (1 - r), prev_done.unsqueeze(-1)], -1)
    return torch.cat([one_hot, prev_reward.unsqueeze(-1), prev_done.unsqueeze(-1)], -1)


def n_inputs(k, kind):
    """Width of phi: k + 2 (the paper's) or 2k + 1 (--phi pair)."""
    return 2 * k + 1 if kind == "pair" else k + 2


@torch.no_grad()
def play(agent, probs, n, generator, store=False, pair=False, critic_task=False, critic_time=None, bootstrap=False):
    """Play B = len(probs) trials of n pulls with the recurrent policy, all trials at once.
    The hidden state starts at zero for each trial and is carried across its n episodes.
    Returns rewards (n, B) and, with store=True, the rollout buffer for the TRPO update (with
    mean_rewards, the pulled arm's p at each step: --expected-rewards).
    With store=True, what only the baseline reads goes after phi: the arm means p (critic_task) and
    critic_time[t], an (n, m) table of per-step features (time_features).
    bootstrap=True (with store): the buffer also holds "last_value" (B,), the value of pull n + 1's input, as if
    the trial went on (--trial-end truncate; not with critic_time, whose table ends at n)."""
    B, k = probs.shape
    device = probs.device
    h = agent.initial_state(B, device)
    a = torch.zeros(B, dtype=torch.long, device=device)
    r = torch.zeros(B, device=device)
    d = torch.zeros(B, device=device)
    buf = {key: [] for key in ("obs", "actions", "logits", "rewards", "values", "mean_rewards")}
    rows = torch.arange(B, device=device)
    privileged = store and getattr(agent, "critic_extra", 0)

    def step_input(t):  # phi of pull t, from the loop's running a, r, d
        x = phi(a, r, d, k, pair)
        if privileged:  # --critic-sees-task / -time: the baseline also reads these; the policy slices them off
            extra = ([probs] if critic_task else []) + ([critic_time[t].expand(B, -1)] if critic_time is not None else [])
            x = torch.cat([x] + extra, -1)
        return x

    for t in range(n):
        x = step_input(t)
        logits, value, h = agent(x.unsqueeze(0), h, None, need_value=store)
        logits = logits[0]
        u = torch.rand(B, 1, generator=generator).to(device)
        a = torch.searchsorted(torch.softmax(logits, -1).cumsum(-1), u).squeeze(-1).clamp_(max=k - 1)
        r_mean = probs[rows, a]
        r = (torch.rand(B, generator=generator).to(device) < r_mean).float()
        d = torch.ones(B, device=device)  # every pull ends an episode; the trial goes on
        if store:
            buf["obs"].append(x)
            buf["logits"].append(logits)
            buf["values"].append(value[0])
            buf["actions"].append(a)
            buf["mean_rewards"].append(r_mean)
        buf["rewards"].append(r)
    rewards = torch.stack(buf["rewards"])
    if not store:
        return rewards
    batch = {key: torch.stack(v) for key, v in buf.items()}
    if bootstrap:  # the input pull n + 1 would see; only its value is read
        batch["last_value"] = agent(step_input(n).unsqueeze(0), h, None)[1][0]
    return rewards, batch


def evaluate(agent, args, device, gittins_ref=None):
    """Table 1 row: RL² and every baseline on the same eval instances (a seed stream disjoint
    from training), paired significance marks, paper values in their own column."""
    gen = torch.Generator().manual_seed(args.seed + 1_000_003)
    probs = sample_bandits(args.eval_instances, args.k, gen)
    pair = getattr(args, "phi", "paper") == "pair"  # args without phi: the paper's
    rl2 = play(agent, probs.to(device), args.n, gen, pair=pair).sum(0).cpu().numpy().astype(np.float64)
    rows = {row_name(args): rl2}  # RL2, RL2-MLP, Imitation or Imitation-MLP
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
    for m in ["Random", "Gittins", "TS", "OTS", "UCB1", "eps-greedy", "Greedy", row_name(args)]:
        if m not in rows:
            continue
        x = rows[m]
        se = x.std(ddof=1) / math.sqrt(len(x))
        pv = f"{paper[m]:7.1f}" if m in paper else "      -"
        print(f"  {m:12s} {x.mean():10.3f} ± {se:5.3f} {'*' if m in best else ' '} {pv}  {hyper.get(m, '')}")
    if {"Random", "Gittins"} <= set(rows):
        score, se = baselines.normalised_score(rows[row_name(args)], rows["Random"], rows["Gittins"])
        print(f"  {row_name(args)} normalised (random = 0, Gittins = 1, as Figure 2): {score:.3f} ± {se:.3f}")
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
    plt.plot(steps, score, label=row_name(args))
    plt.axhline(1.0, color="k", ls="--", lw=0.8, label="Gittins")
    plt.axhline(0.0, color="gray", ls=":", lw=0.8, label="random")
    plt.xlabel("environment steps")
    plt.ylabel("normalised total reward")
    plt.title(f"{row_name(args)} bandit, k = {args.k}, n = {args.n}")
    plt.ylim(min(-0.1, min(score)), 1.15)
    plt.legend(loc="lower right")
    plt.tight_layout()
    plt.savefig(png_path, dpi=120)
    plt.close()


def value_rewards(rewards, args):
    """The rewards whose returns the value baseline regresses on: r (default, every run in the README unless
    it says --value-scale), or (r - 0.5) / S with --value-scale S. Every trial has exactly n steps, so the
    shift moves every trajectory's discounted return by the same constant and the fitted GAE advantages are
    unchanged (delta_t is invariant once V fits the shifted returns); the trust-region update normalises
    advantages, so the scale does not reach the policy either. What changes is the regression: raw returns
    grow from ~5 at n = 10 to 60-90 at n >= 100 (gamma = 0.99). Measured at k = 50, n = 100 (README,
    "Beyond the paper"): S = 100 and S = 10 fit the baseline better and train the policy worse than raw
    returns, so raw stays the default; the flag is kept for that ablation."""
    if not args.value_scale:
        return rewards
    return (rewards - 0.5) / args.value_scale


def checkpoint_policy(ckpt, args, path):
    """Adopt the checkpoint's network kind and training method (checkpoints from before --policy hold a
    GRU trained by TRPO). An explicit --policy or --imitate that contradicts it: one line, exit 2."""
    kind, imitate = ckpt.get("policy", "gru"), ckpt.get("imitate")
    if args.policy is not None and args.policy != kind:
        trpo.input_error(f"{path} holds a --policy {kind} network, not --policy {args.policy}")
    if args.resume and args.imitate and args.imitate != imitate:
        trpo.input_error(f"{path} was trained with {'--imitate ' + imitate if imitate else 'TRPO'}, "
                         f"not --imitate {args.imitate}")
    args.policy, args.imitate = kind, imitate
    args.phi = trpo.checkpoint_phi(ckpt, args.phi, path)
    args.dagger = bool(imitate) and (args.dagger or bool(ckpt.get("dagger")))
    args.critic_sees_task = bool(ckpt.get("critic_sees_task", False))  # the baseline's input width
    args.critic_sees_time = bool(ckpt.get("critic_sees_time", False))
    args.shared = bool(ckpt.get("shared", False))  # one GRU with two heads, or two GRUs


def critic_extra(args):
    """Width of what only the value baseline reads after phi: the k arm means with --critic-sees-task,
    then 2 time features with --critic-sees-time."""
    return (args.k if args.critic_sees_task else 0) + (2 if args.critic_sees_time else 0)


def time_features(n, gamma, device="cpu"):
    """(n, 2): t / n and 1 - gamma^(n - t) at each step t of the trial, for --critic-sees-time. The discounted
    return from step t is sum_{l < n - t} gamma^l r_{t+l}, so at a steady reward rate it is proportional to the
    second feature: a baseline that knows it need not count to n in its hidden state. Measured (README, session
    16): at n = 500 the baseline without it is off by -29 to +43 depending on t."""
    t = torch.arange(n, dtype=torch.float32, device=device)
    return torch.stack([t / n, 1 - gamma ** (n - t)], 1)


def write_results(out_dir, results, merge=False):
    """results.json, written atomically; merge=True keeps the keys of an existing file that results
    does not set (--eval-only --analyse adds its sections to a training run's results)."""
    path = os.path.join(out_dir, "results.json")
    if merge and os.path.isfile(path):
        with open(path) as f:
            results = dict(json.load(f), **results)
    os.makedirs(out_dir, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(results, f, indent=1)
    os.replace(path + ".tmp", path)


def row_name(args):
    """The Table 1 row of the trained network: RL2 (TRPO, GRU), RL2-MLP (TRPO, the memoryless control),
    Imitation / Imitation-MLP (behaviour cloning of Gittins, §3.1), Imitation-DAgger (--dagger)."""
    base = "RL2"
    if getattr(args, "imitate", None):
        base = "Imitation-DAgger" if getattr(args, "dagger", False) else "Imitation"
    return base + ("-MLP" if getattr(args, "policy", "gru") == "mlp" else "")


# ---- the imitation ablation (§3.1) and a look inside the learned algorithm ----
def gittins_targets(successes, failures, t, n):
    """The finite-horizon Gittins action as a distribution over arms (B, k): uniform over the arms whose
    index is maximal (the Gittins policy breaks ties uniformly at random, so this is the expected one-hot
    label; the cross-entropy on it is the expected cross-entropy on a randomly tie-broken action)."""
    index = baselines.gittins_index(n, t, successes, failures)
    is_max = index == index.max(axis=-1, keepdims=True)
    return is_max / is_max.sum(axis=-1, keepdims=True)


@torch.no_grad()
def bandit_histories(probs, n, rng, agent=None, generator=None, keep_hidden=False, pair=False):
    """Play B = len(probs) trials of n pulls, all at once, and keep the whole history in posterior terms.

    agent=None plays the finite-horizon Gittins policy (numpy, ties uniformly at random, rng); otherwise the
    agent samples its actions as in play() (torch generator). Rewards come from rng either way.
    pair: the policy's phi (--phi pair). Returns a dict: obs (n, B, k+2 or 2k+1) torch (phi_t, what the policy
    sees at step t), actions (n, B), rewards (n, B), successes / failures (n, B, k) per-arm counts *before* step t (posterior
    Beta(s+1, f+1)), and with keep_hidden the agent's policy state after reading phi_t, hidden (n, B, H)."""
    probs = np.asarray(probs, dtype=np.float64)
    B, k = probs.shape
    rows = np.arange(B)
    S, F = np.zeros((B, k), np.int64), np.zeros((B, k), np.int64)
    a, r, d = (torch.zeros(B, dtype=torch.long), torch.zeros(B), torch.zeros(B))
    h = None if agent is None else agent.initial_state(B)
    out = {key: [] for key in ("obs", "actions", "rewards", "successes", "failures", "hidden")}
    for t in range(n):
        x = phi(a, r, d, k, pair)
        out["obs"].append(x)
        out["successes"].append(S.copy())
        out["failures"].append(F.copy())
        if agent is None:
            act = baselines.bandit_policy_step("Gittins", S, F, t, n, rng)
        else:
            logits, _, h = agent(x.unsqueeze(0), h, None, need_value=False)
            if keep_hidden:
                out["hidden"].append(h[:, :agent.hidden_size].numpy().copy())
            u = torch.rand(B, 1, generator=generator)
            act = torch.searchsorted(torch.softmax(logits[0], -1).cumsum(-1), u).squeeze(-1).clamp_(max=k - 1)
            act = act.numpy()
        rew = rng.random(B) < probs[rows, act]
        S[rows, act] += rew
        F[rows, act] += ~rew
        out["actions"].append(act)
        out["rewards"].append(rew.astype(np.float32))
        a, r, d = torch.as_tensor(act, dtype=torch.long), torch.as_tensor(rew, dtype=torch.float32), torch.ones(B)
    res = {key: np.stack(v) for key, v in out.items() if v and key != "obs"}
    res["obs"] = torch.stack(out["obs"])
    return res


def imitation_step(agent, optimizer, hist, n, epochs, trials_per_minibatch, generator):
    """One iteration of behaviour cloning (§3.1: "the same policy architecture [trained] with supervised
    learning on Gittins' trajectories"): trpo.imitation_step on B whole trials labelled with the Gittins
    action at every step. Returns trpo.imitation_step's diagnostics (cross-entropy, accuracy: the
    policy's most likely arm is a Gittins arm, entropy)."""
    device = next(agent.parameters()).device
    obs = hist["obs"].to(device)
    target = torch.as_tensor(np.stack([gittins_targets(hist["successes"][t], hist["failures"][t], t, n)
                                       for t in range(obs.shape[0])]), dtype=torch.float32, device=device)
    return trpo.imitation_step(agent, optimizer, obs, target, epochs, trials_per_minibatch, generator)


def agreement(actions, successes, failures, n=None, ts_draws=128, rng=None):
    """How a policy's actions relate to the Bayesian algorithms on the same histories (pure numpy).

    actions (T, B) arms chosen at steps t = 0..T-1 of B trials; successes / failures (T, B, k) per-arm
    counts before each step (posterior Beta(s+1, f+1)); n the trial length (default T) for the
    finite-horizon Gittins index. Per step t (arrays of length T):
      gittins:        fraction of trials whose action is among the Gittins arms (argmax set: a tie counts
                      as agreement whichever tied arm was chosen, so the Gittins policy scores exactly 1);
      gittins_chance: the same for a uniformly random action (mean |argmax set| / k), the chance level;
      thompson:       mean probability that Thompson sampling would pick the same action given the same
                      posterior (Monte Carlo over ts_draws joint posterior draws; chance level 1/k);
      greedy:         fraction whose action is among the arms of highest posterior mean.
    """
    actions = np.asarray(actions)
    T, B = actions.shape
    k = successes.shape[-1]
    n = T if n is None else n
    rng = np.random.default_rng(0) if rng is None else rng
    rows = np.arange(B)
    res = {key: np.zeros(T) for key in ("gittins", "gittins_chance", "thompson", "greedy")}
    for t in range(T):
        s, f, act = successes[t], failures[t], actions[t]
        index = baselines.gittins_index(n, t, s, f)
        is_max = index == index.max(axis=1, keepdims=True)
        res["gittins"][t] = is_max[rows, act].mean()
        res["gittins_chance"][t] = is_max.sum(1).mean() / k
        mean = (s + 1.0) / (s + f + 2.0)
        res["greedy"][t] = (mean[rows, act] == mean.max(1)).mean()
        a32, b32 = (s + 1.0).astype(np.float32), (f + 1.0).astype(np.float32)
        draws = baselines._beta_sample(rng, np.broadcast_to(a32, (ts_draws, B, k)),
                                       np.broadcast_to(b32, (ts_draws, B, k)))
        res["thompson"][t] = (draws.argmax(-1) == act).mean()
    return res


def linear_probe(X_train, Y_train, X_test, Y_test, ridge=1e-3):
    """Ridge regression Y ~ X W + b fitted on (X_train, Y_train), scored on held-out (X_test, Y_test).

    X (N, d_x), Y (N, d_y). The intercept is not penalised (X and Y are centred on the training means).
    Returns a dict: r2 (d_y,) per output, 1 - SSE / SST on the test set (nan where the test target is
    constant), r2_mean (nanmean over outputs), weights W (d_x, d_y), bias b (d_y,)."""
    X_train, Y_train = np.asarray(X_train, np.float64), np.asarray(Y_train, np.float64)
    X_test, Y_test = np.asarray(X_test, np.float64), np.asarray(Y_test, np.float64)
    x_mean, y_mean = X_train.mean(0), Y_train.mean(0)
    Xc = X_train - x_mean
    W = np.linalg.solve(Xc.T @ Xc + ridge * np.eye(X_train.shape[1]), Xc.T @ (Y_train - y_mean))
    b = y_mean - x_mean @ W
    pred = X_test @ W + b
    sse = ((Y_test - pred) ** 2).sum(0)
    sst = ((Y_test - Y_test.mean(0)) ** 2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 1e-12 * len(Y_test), 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)
    r2_mean = float(np.nanmean(r2)) if np.isfinite(r2).any() else float("nan")
    return {"r2": r2, "r2_mean": r2_mean, "weights": W, "bias": b}


def posterior_targets(successes, failures):
    """The Bayesian belief the probe decodes: per-arm Beta posterior means (s+1)/(s+f+2), then pull
    counts s+f; (..., k) counts -> (..., 2k)."""
    pulls = successes + failures
    return np.concatenate([(successes + 1.0) / (pulls + 2.0), pulls.astype(np.float64)], -1)


def per_step_r2(probe, X, Y):
    """R² of a fitted probe at each time step: X (T, B, d_x), Y (T, B, d_y) -> (T, d_y) (nan where a target
    is constant across the B trials at that step, e.g. every count at t = 0)."""
    T = X.shape[0]
    out = np.full((T, Y.shape[-1]), np.nan)
    for t in range(T):
        pred = X[t] @ probe["weights"] + probe["bias"]
        sse = ((Y[t] - pred) ** 2).sum(0)
        sst = ((Y[t] - Y[t].mean(0)) ** 2).sum(0)
        ok = sst > 1e-9
        out[t, ok] = 1.0 - sse[ok] / sst[ok]
    return out


def analyse(agent, args, out_dir, probe_trials=2000, ridge=1e-2):
    """--analyse: on held-out trials played by the trained policy (seeds disjoint from training, evaluation
    and the Gittins reference), (1) agreement of its actions with Gittins, Thompson sampling and greedy,
    per time step t; (2) a linear probe from the GRU's policy state (after reading phi_t) to the Bayesian
    posterior (per-arm Beta means and pull counts), fitted on probe_trials trials and scored per t on
    args.eval_instances others, beside the same probe from phi_t alone (what a memoryless policy sees).
    Writes analysis.png into out_dir and returns the "analysis" section of results.json."""
    k, n = args.k, args.n
    is_gru = isinstance(agent, RecurrentAgent)
    seeds = {"test": args.seed + 3_000_003, "train": args.seed + 4_000_003}
    hist = {}
    for part, count in (("test", args.eval_instances), ("train", probe_trials)):
        gen = torch.Generator().manual_seed(seeds[part])
        probs = sample_bandits(count, k, gen).numpy()
        hist[part] = bandit_histories(probs, n, np.random.default_rng(seeds[part]), agent, gen, keep_hidden=is_gru,
                                        pair=getattr(args, "phi", "paper") == "pair")  # args without phi: the paper's
    test = hist["test"]
    agree = agreement(test["actions"], test["successes"], test["failures"], n, rng=np.random.default_rng(seeds["test"]))
    res = {"trials": args.eval_instances, "policy_total_reward": float(test["rewards"].sum(0).mean()),
           "agreement_per_t": {key: [round(float(v), 4) for v in curve] for key, curve in agree.items()},
           "agreement_mean": {key: round(float(curve.mean()), 4) for key, curve in agree.items()}}
    probe = None
    if is_gru:
        Y = {p: posterior_targets(hist[p]["successes"], hist[p]["failures"]) for p in hist}
        probe = {}
        for name, X in (("hidden", {p: hist[p]["hidden"] for p in hist}),
                        ("input", {p: hist[p]["obs"].numpy() for p in hist})):
            fit = linear_probe(X["train"].reshape(-1, X["train"].shape[-1]), Y["train"].reshape(-1, 2 * k),
                               X["test"].reshape(-1, X["test"].shape[-1]), Y["test"].reshape(-1, 2 * k), ridge)
            r2_t = per_step_r2(fit, X["test"], Y["test"])
            with warnings.catch_warnings():  # all-nan rows (t = 0: every target is constant) stay nan
                warnings.simplefilter("ignore", RuntimeWarning)
                means_t, counts_t = np.nanmean(r2_t[:, :k], 1), np.nanmean(r2_t[:, k:], 1)
            probe[name] = {"r2_means": round(float(np.nanmean(fit["r2"][:k])), 4),
                           "r2_counts": round(float(np.nanmean(fit["r2"][k:])), 4),
                           "r2_means_per_t": [None if not np.isfinite(v) else round(float(v), 4) for v in means_t],
                           "r2_counts_per_t": [None if not np.isfinite(v) else round(float(v), 4) for v in counts_t]}
        res["probe"] = dict(probe, ridge=ridge, train_trials=probe_trials,
                            target="per-arm Beta posterior means (s+1)/(s+f+2) and pull counts s+f")
    plot_analysis(agree, probe, args, os.path.join(out_dir, "analysis.png"))
    res["figure"] = "analysis.png"
    m = res["agreement_mean"]
    print(f"\nanalysis ({args.eval_instances} held-out trials, {row_name(args)}, mean total reward "
          f"{res['policy_total_reward']:.3f}): agrees with Gittins {m['gittins']:.3f} (chance "
          f"{m['gittins_chance']:.3f}), Thompson {m['thompson']:.3f} (chance {1 / k:.3f}), greedy {m['greedy']:.3f}")
    third = max(1, n // 3)
    for key in ("gittins", "thompson"):
        c = agree[key]
        print(f"  {key:8s} agreement, first third of the trial {c[:third].mean():.3f}, last third {c[-third:].mean():.3f}")
    if probe:
        for name in ("hidden", "input"):
            print(f"  linear probe from the {'GRU state' if name == 'hidden' else 'input phi_t'}: R² posterior means "
                  f"{probe[name]['r2_means']:.3f}, pull counts {probe[name]['r2_counts']:.3f}")
    return res


def plot_analysis(agree, probe, args, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = np.arange(1, args.n + 1)
    fig, axes = plt.subplots(1, 2 if probe else 1, figsize=(10 if probe else 5, 3.8), squeeze=False)
    ax = axes[0, 0]
    ax.plot(t, agree["gittins"], label="Gittins")
    ax.plot(t, agree["thompson"], label="Thompson sampling")
    ax.plot(t, agree["greedy"], label="greedy", alpha=0.7)
    ax.plot(t, agree["gittins_chance"], color="gray", ls=":", label="chance (Gittins)")
    ax.axhline(1 / args.k, color="gray", ls="--", lw=0.8, label="chance (TS) = 1/k")
    ax.set_xlabel("pull t within the trial")
    ax.set_ylabel("agreement with the policy's action")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{row_name(args)} actions, k = {args.k}, n = {args.n}")
    ax.legend(loc="lower right", fontsize=8)
    if probe:
        ax = axes[0, 1]
        for name, style in (("hidden", "-"), ("input", ":")):
            lab = "GRU state" if name == "hidden" else "input phi_t only"
            for key, color in (("r2_means_per_t", "C0"), ("r2_counts_per_t", "C1")):
                y = [np.nan if v is None else v for v in probe[name][key]]
                ax.plot(t, y, style, color=color, label=f"{lab}: {'posterior means' if 'means' in key else 'pull counts'}")
        ax.set_xlabel("pull t within the trial")
        ax.set_ylabel("held-out R²")
        ax.set_ylim(-0.05, 1.02)
        ax.set_title("linear probe: hidden state -> Bayesian posterior")
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(png_path) or ".", exist_ok=True)
    fig.savefig(png_path, dpi=120)
    plt.close(fig)


CSV_FIELDS = ["iteration", "steps", "seconds", "steps_per_s", "trial_reward", "normalized", "kl", "entropy",
              "clipfrac", "explained_variance", "backtracks", "epoch_kept", "v_loss"]


if __name__ == "__main__":
    args = parse_args()
    if args.bench_scaling:  # 1 vs N processes, side by side (trpo.bench_scaling)
        trpo.bench_scaling(os.path.abspath(__file__), sys.argv[1:], args.bench_scaling,
                           ["--no-baselines", "--eval-instances", "2"])
        sys.exit(0)
    torch.set_num_threads(args.threads)
    # Data parallel under torchrun (gloo on CPU, nccl on GPU): every process collects its share of
    # the trials, trpo.update averages gradients and statistics, so parameters stay identical.
    world, rank, device = trpo.init_distributed(args.device)
    if args.trials_per_iter % world:
        trpo.input_error(f"--trials-per-iter {args.trials_per_iter} is not divisible by {world} processes")
    if (args.trials_per_iter // world) % args.trials_per_task:
        trpo.input_error(f"--trials-per-iter {args.trials_per_iter} gives {args.trials_per_iter // world} trials per "
                         f"process, not a multiple of --trials-per-task {args.trials_per_task}")
    torch.manual_seed(args.seed)  # same initial parameters in every process
    agent = make_agent(args.policy or "gru", n_inputs(args.k, args.phi), args.k, args.hidden, shared=args.shared, critic_extra=critic_extra(args)).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)
    if args.imitate and world > 1:
        trpo.input_error("--imitate runs in one process (no torchrun)")

    if args.eval_only:
        ckpt = trpo.load_checkpoint(args.checkpoint, EXPERIMENT, {"k": args.k})
        checkpoint_policy(ckpt, args, args.checkpoint)
        if ckpt["n"] != args.n:  # the algorithm learned on n-pull trials, played for another number of pulls
            print(f"evaluating a policy trained on n = {ckpt['n']} pull trials at n = {args.n}")
        agent = make_agent(args.policy, n_inputs(args.k, args.phi), args.k, ckpt["hidden"], shared=args.shared, critic_extra=critic_extra(args)).to(device)
        agent.load_state_dict(ckpt["agent"])
        rows, hyper, _ = evaluate(agent, args, device)
        best = print_row(rows, args, hyper)
        if args.analyse:  # rows and the analysis into --out/results.json, beside a training run's own keys
            analysis = analyse(agent.cpu(), args, args.out)
            write_results(args.out, {"experiment": EXPERIMENT, "k": args.k, "n": args.n, "policy": args.policy,
                                     "imitate": args.imitate, "checkpoint": args.checkpoint,
                                     "checkpoint_steps": ckpt["steps"], "eval_instances": args.eval_instances,
                                     "rows": {m: {"mean": float(x.mean()),
                                                  "stderr": float(x.std(ddof=1) / math.sqrt(len(x)))}
                                              for m, x in rows.items()},
                                     "best_or_not_significantly_worse": sorted(best), "analysis": analysis},
                          merge=True)
            print(f"wrote {args.out}/results.json, analysis.png")
        sys.exit(0)

    log = rank == 0  # only rank 0 prints and writes files
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    csv_path = os.path.join(args.out, "progress.csv")
    # Gittins' mean on reference instances (disjoint seed) normalises progress as the paper's Fig. 2.
    ref_probs = sample_bandits(2000, args.k, torch.Generator().manual_seed(args.seed + 2_000_003)).numpy()
    random_ref = args.n / 2
    gittins_ref = float(baselines.run_bandit_baselines(ref_probs.astype(np.float64), args.n, seed=args.seed,
                                                       tune=False, methods=["Gittins"])[0]["Gittins"].mean()) if log else 0.0
    iteration, steps, seconds = 0, 0, 0.0
    kept = []
    if args.resume:
        ckpt = trpo.load_checkpoint(ckpt_path, EXPERIMENT, {"k": args.k, "n": args.n})
        checkpoint_policy(ckpt, args, ckpt_path)
        args.hidden = ckpt["hidden"]
        agent = make_agent(args.policy, n_inputs(args.k, args.phi), args.k, args.hidden, shared=args.shared, critic_extra=critic_extra(args)).to(device)
        optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)
        agent.load_state_dict(ckpt["agent"])
        optimizer.load_state_dict(ckpt["optimizer"])
        iteration, steps, seconds = ckpt["iteration"], ckpt["steps"], ckpt["seconds"]
        # the baseline was fitted to one kind of target: keep it (old checkpoints have no flag: raw)
        args.value_scale = float(ckpt.get("args", {}).get("value_scale", 0.0))
        if log and os.path.isfile(csv_path):  # drop rows logged after the checkpoint: none is duplicated
            with open(csv_path) as f:
                kept = [r for r in csv.DictReader(f) if int(r["iteration"]) <= iteration]
            print(f"resuming {args.out} at iteration {iteration}, {steps} steps")
    elif args.init_from:  # curriculum over n: the algorithm learned on short trials is the starting point
        init = trpo.load_checkpoint(args.init_from, EXPERIMENT, {"k": args.k})
        trpo.checkpoint_phi(init, args.phi, args.init_from)  # the same phi, or the weights mean nothing
        if bool(init.get("shared", False)) != args.shared:
            trpo.input_error(f"{args.init_from} holds a {'shared' if init.get('shared') else 'separate'} value network: "
                             f"{'add' if init.get('shared') else 'drop'} --shared")
        had = (bool(init.get("critic_sees_task")), bool(init.get("critic_sees_time")))
        if any(had) and had != (args.critic_sees_task, args.critic_sees_time):  # extra inputs are only appended
            trpo.input_error(f"{args.init_from} was trained with {'' if had[0] else 'no '}--critic-sees-task and "
                             f"{'' if had[1] else 'no '}--critic-sees-time: use the same flags "
                             f"(a plain checkpoint can gain either)")
        load_widened(agent, init["agent"])  # a plain baseline gains zero-initialised columns for p
        if log:
            print(f"starting from the weights of {args.init_from}")
    if log:
        os.makedirs(args.out, exist_ok=True)
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, CSV_FIELDS)
            w.writeheader()
            w.writerows(kept)

    def state():
        return {"experiment": EXPERIMENT, "k": args.k, "n": args.n, "hidden": args.hidden,
                "policy": args.policy, "imitate": args.imitate, "dagger": args.dagger,
                "critic_sees_task": args.critic_sees_task, "critic_sees_time": args.critic_sees_time, "phi": args.phi,
                "shared": args.shared, "agent": agent.state_dict(), "optimizer": optimizer.state_dict(),
                "iteration": iteration, "steps": steps, "seconds": seconds,
                "args": {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}}

    interrupted = []
    signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))  # finish the iteration, then save
    signal.signal(signal.SIGTERM, lambda *_: interrupted.append(True))
    B = args.trials_per_iter // world
    pair = args.phi == "pair"
    if log:
        print(f"{row_name(args)} bandit k={args.k} n={args.n}: {args.total_timesteps} steps, {args.trials_per_iter} "
              f"trials ({args.trials_per_iter * args.n} steps) per iteration, {args.policy.upper()} {args.hidden}, "
              f"phi {args.phi}, device {device}, "
              f"{world} process(es) x {args.threads} thread(s); Gittins reference {gittins_ref:.3f}, "
              f"random {random_ref:.3f}", flush=True)
    trial_end = torch.zeros(args.n, B, device=device)
    trial_end[-1] = args.trial_end == "terminal"  # GAE runs across the n episodes and stops only at the trial's end
    # (--trial-end truncate: not even there; play's last_value stands for what would follow)
    reset = torch.zeros(args.n, B, device=device)
    while steps < args.total_timesteps:
        if trpo.start_iteration(optimizer, args, steps, seconds, interrupted, device):  # all processes together
            break
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(trpo.seed_for(args.seed, rank, iteration))
        probs = sample_bandits(B, args.k, gen, device, per_task=args.trials_per_task)
        if args.imitate:  # §3.1's ablation: behaviour cloning on B Gittins trials (the budget counts their steps)
            rng = np.random.default_rng(trpo.seed_for(args.seed, rank, iteration, 1))
            if args.dagger:  # the policy's own trials, Gittins' action as the label at every state they reach
                hist = bandit_histories(probs.cpu().numpy(), args.n, rng, agent.cpu(), gen, pair=pair)
                agent.to(device)
                rewards = torch.as_tensor(hist["rewards"], device=device)
            else:
                hist = bandit_histories(probs.cpu().numpy(), args.n, rng, pair=pair)
            info = imitation_step(agent, optimizer, hist, args.n, args.epochs, args.minibatch, gen)
            if not args.dagger:
                rewards = play(agent, probs, args.n, gen, pair=pair)  # the policy's own trials, only to measure trial_reward
        else:
            rewards, batch = play(agent, probs, args.n, gen, store=True, pair=pair, critic_task=args.critic_sees_task,
                                  critic_time=time_features(args.n, args.gamma, device) if args.critic_sees_time else None,
                                  bootstrap=args.trial_end == "truncate")
            scored = batch["mean_rewards"] if args.expected_rewards else rewards  # the same expected gradient
            adv, ret = trpo.gae(value_rewards(scored, args), batch["values"], trial_end, args.gamma, args.lam,
                                last_value=batch.pop("last_value", None))
            adv = trpo.task_baseline(adv, args.trials_per_task)  # the same bandit's other trials (1: no-op)
            batch.update(advantages=adv, returns=ret, reset=reset, h0=agent.initial_state(B, device))
            info = trpo.update(agent, optimizer, batch, policy_params=agent.policy_parameters(), clip=args.clip,
                               epochs=args.epochs, trials_per_minibatch=args.minibatch, max_kl=args.max_kl,
                               ent_coef=args.ent_coef, generator=gen, kl_check=args.kl_check)
        trpo.stop_if_not_finite(info, agent, iteration + 1, ckpt_path)  # before anything is saved
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
        if args.imitate:  # no trust region and no value baseline: those columns stay empty
            row.update({key: "" for key in ("kl", "clipfrac", "explained_variance", "backtracks", "epoch_kept",
                                            "v_loss")})
        with open(csv_path, "a", newline="") as f:
            csv.DictWriter(f, CSV_FIELDS).writerow(row)
        if args.imitate:
            print(f"iter {iteration:4d}  steps {steps:9d}  {row['steps_per_s']:6d} steps/s  trial reward "
                  f"{trial_reward:8.3f}  normalised {row['normalized']:6.3f}  cross-entropy {info['ce_loss']:.4f}  "
                  f"accuracy {info['accuracy']:.3f}  entropy {info['entropy']:.3f}", flush=True)
        else:
            print(f"iter {iteration:4d}  steps {steps:9d}  {row['steps_per_s']:6d} steps/s  trial reward "
                  f"{trial_reward:8.3f}  normalised {row['normalized']:6.3f}  KL {info['kl']:.4f}  "
                  f"entropy {info['entropy']:.3f}  EV {info['explained_variance']:.2f}  bt {info['backtracks']}",
                  flush=True)
        if iteration % args.checkpoint_every == 0:
            trpo.save_checkpoint(ckpt_path, state())
    trpo.check_identical(agent, log)  # under torchrun: every process ends with the same parameters
    if log:
        trpo.save_checkpoint(ckpt_path, state())
    trpo.close_distributed()  # all processes leave together, once rank 0 has saved
    if not log:
        trpo.worker_exit()
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
               "paper": dict(baselines.PAPER_TABLE1.get((args.n, args.k), {})),
               "policy": args.policy, "imitate": args.imitate, "dagger": args.dagger, "gittins_reference": gittins_ref,
               "critic_sees_task": args.critic_sees_task, "critic_sees_time": args.critic_sees_time, "phi": args.phi,
               "shared": args.shared}
    if args.analyse:
        results["analysis"] = analyse(agent.cpu(), args, args.out)
    write_results(args.out, results)
    print(f"wrote {args.out}/results.json, progress.csv, learning_curve.png, checkpoint.pt"
          + (", analysis.png" if args.analyse else ""))
