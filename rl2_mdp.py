"""RL² on random tabular MDPs (Duan et al. 2016, §3.2, Table 2), end to end.

A trial is n episodes on one MDP with |S| = 10 states and |A| = 5 actions, drawn from the paper's
distribution (transitions ~ flat Dirichlet, mean rewards ~ N(1, 1), rewards N(R_mean[s, a], 1));
every episode lasts T = 10 steps and starts in state 0, so a trial is n * T steps. The GRU policy
sees phi = (one-hot state, one-hot previous action, previous reward, previous done flag) and keeps
its state across the n episodes, so what it learns about this MDP lives in its hidden state: the
"fast" RL algorithm. First-order TRPO (trpo.py) is the "slow" one.

    python rl2_mdp.py --n 10                            # train, evaluate, print the Table 2 row
    python rl2_mdp.py --n 25 --total-timesteps 5000000 --out runs/n25
    python rl2_mdp.py --n 25 --eval-only --checkpoint runs/n25/checkpoint.pt
    python rl2_mdp.py --n 25 --resume runs/n25          # continue an interrupted run
    python rl2_mdp.py --n 25 --init-from runs/mdp_n10_s0/checkpoint.pt   # curriculum: start from n = 10
    python rl2_mdp.py --n 10 --policy mlp               # the memoryless control (gru.MLPAgent): row RL2-MLP
    python rl2_mdp.py --n 10 --phi transition --hidden 128 --minibatch 64 --trials-per-iter 256 \
        --total-timesteps 16000000                      # beyond the paper: 140.4 in 36 min (README)
    torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared \
        --minibatch 32 --trials-per-iter 256 --total-timesteps 66000000 --anneal-lr 0.25   # 155.0 in 60 min (README); add --head state: 156.7
    python rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state --minibatch 64 \
        --trials-per-iter 256 --minutes 12 --total-timesteps 1000000000   # beyond the paper: 143.4 in 12 min (README)
    python rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --imitate myopic --epochs 2 \
        --total-timesteps 15000000      # beyond the paper: DAgger on the myopic yardstick instead of RL (README)
    python rl2_mdp.py --n 25 --phi value --hidden 128 --shared --head state --minibatch 64 --trials-per-iter 256 \
        --init-from results/session18/ab_transition/checkpoint.pt --minutes 12 --total-timesteps 1000000000
                                        # beyond the paper: phi also carries V of the state each pair led to (no gain measured)
    python rl2_mdp.py --n 25 --phi transition --hidden 128 --shared --head state --minibatch 64 --trials-per-iter 256 \
        --init-from results/session17/n10_60min_2p/checkpoint.pt --total-timesteps 7000000 --expected-rewards \
        --trials-per-task 4   # beyond the paper: R_mean[s, a] in the advantages, 4 trials per MDP (no gain measured)
    python rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state --minibatch 64 --trials-per-iter 256 \
        --aux reward --minutes 12 --total-timesteps 1000000000   # beyond the paper: a head regresses the MDP's mean
                                        # rewards beside the TRPO loss: +2.1 +- 0.6 over the same 12 minutes without;
                                        # 60 minutes: 158.2 at n = 10, 436.5 played at n = 25 (README)
    torchrun --standalone --nproc_per_node 2 -- rl2_mdp.py --n 10 --phi transition --hidden 128 --shared --head state \
        --aux reward --kl-check last --trials-per-iter 512 --minibatch 64 --anneal-lr 0.25 --minutes 60 \
        --total-timesteps 1000000000    # beyond the paper: both cores, 60 min: 159.4 at n = 10, 443.3 at n = 25 (README)

Outputs under --out: progress.csv (one row per iteration), checkpoint.pt, results.json,
learning_curve.png (normalised as the paper's Figure 3: random = 0, OPSRL = 1).
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
from gru import POLICIES, load_widened, make_agent

EXPERIMENT = "mdp"
PHIS = ("paper", "transition", "value")  # --phi: the input embedding (phi below)
HEADS = ("linear", "state")  # --head: one output layer, or one per current state (beyond the paper)
AUX_TARGETS = ("q", "reward", "model", "reward+q")  # --aux: what the auxiliary head regresses (aux_targets below)
N_STATES, N_ACTIONS, HORIZON = 10, 5, 10  # |S|, |A|, T of §3.2
# The value baseline is fitted to returns of (r - REWARD_SHIFT) / REWARD_SCALE, not of r. Every trial
# has exactly n * T steps, so a constant shift changes every trajectory's discounted return by the
# same amount and a positive scale only rescales it: the policy's objective (and its normalised
# advantages) are unchanged. What changes is the value regression: raw returns from step t are about
# sum_{k < nT - t} 0.99^k (up to ~63 at n = 10), a function of the time step that the GRU baseline
# would first have to learn to count, and far outside the range an Adam step moves a weight-normed
# output layer (measured: explained variance ~0 for the first 250k steps). Centred on the task
# distribution's mean reward (E[R_mean] = 1) and scaled to O(1) they are learnt within a few
# iterations. rllab, the authors' code base, standardised its baselines' regression targets too.
REWARD_SHIFT, REWARD_SCALE = 1.0, 10.0

# Defaults per n: (total env steps, trials per iteration). Chosen so that `python rl2_mdp.py --n N`
# finishes on a 2-core CPU in about an hour. Measured with hidden 256 and 1 thread on a shared 2-core
# machine: 1,300-2,300 steps/s at n = 10 depending on the other load (update ~95% of it, rollout ~5%),
# ~15% fewer at n = 100; plus 10 s (n = 10) to ~3 min (n = 100) for the OPSRL reference, the
# baselines' grid search and the evaluation. Trials per iteration are multiples of the 32-trial
# minibatch. The paper used 250k steps per iteration and up to 2.5G steps per n on a cluster
# (reference card): expect far less than its RL² column from these budgets.
DEFAULT_BUDGET = {10: (6_000_000, 128), 25: (6_000_000, 64), 50: (5_000_000, 32),
                  75: (5_000_000, 32), 100: (4_500_000, 32)}


def one_line_error(parser, msg):
    """Bad input: one line on stderr and exit code 2 (argparse would add a usage block)."""
    print(f"{parser.prog}: error: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    p.error = lambda msg: one_line_error(p, msg)
    p.add_argument("--n", type=int, default=10, help="episodes per trial")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--total-timesteps", type=int, default=None, help="env steps to train (default per n)")
    p.add_argument("--trials-per-iter", type=int, default=None, help="trials per TRPO batch (default per n)")
    p.add_argument("--hidden", type=int, default=256, help="GRU units (paper: 256)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam step size")
    p.add_argument("--epochs", type=int, default=5, help="surrogate epochs per iteration (authors: >= 5)")
    p.add_argument("--minibatch", type=int, default=32, help="trials per minibatch and process (authors: 32)")
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--lam", type=float, default=0.3, help="GAE lambda (paper, appendix A.2)")
    p.add_argument("--max-kl", type=float, default=0.01, help="trust region: mean KL per iteration")
    p.add_argument("--kl-check", choices=("each", "last"), default="each",
                   help="each: measure every epoch's iterate on the whole batch, keep the best inside the trust region "
                        "(the authors' rule); last (beyond the paper): the last epoch's iterate first, earlier ones "
                        "only while outside or not improving: one whole-batch pass per iteration instead of one per "
                        "epoch, the same iterate when surrogate and KL grow with the epochs (trpo.update)")
    p.add_argument("--clip", type=float, default=0.1)
    p.add_argument("--ent-coef", type=float, default=0.0)
    p.add_argument("--vf-coef", type=float, default=1.0,
                   help="weight of the value loss beside the surrogate (with --shared it also trains the policy's GRU)")
    p.add_argument("--expected-rewards", action="store_true",
                   help="beyond the paper: the advantages and value targets use each step's expected reward given the "
                        "state and action (known to the simulator) instead of the sampled one; the policy still sees "
                        "the sampled reward (unbiased: see trpo.py, 'expected rewards')")
    p.add_argument("--trial-end", choices=("terminal", "truncate"), default="terminal",
                   help="terminal: nothing is worth anything after a trial's last step (the paper's objective for n "
                        "episodes); truncate (beyond the paper): the last step's advantage bootstraps from the value of "
                        "the step after it, as if the trial went on, so the policy trained on n episodes keeps the "
                        "exploration worth it when more follow (for a policy to be played for more than n episodes)")
    p.add_argument("--trials-per-task", type=int, default=1, metavar="K",
                   help="beyond the paper: play each sampled task in K trials of the batch and subtract from each "
                        "trial's advantages the mean of the other K - 1 (trpo.task_baseline; 1: the paper's estimator)")
    p.add_argument("--aux", choices=AUX_TARGETS, default=None,
                   help="beyond the paper: a linear head on the policy's GRU regresses, at every step, a fact about the "
                        "MDP for all 50 (state, action) pairs beside the TRPO loss; q: the true MDP's optimal action "
                        "values for the steps left in the episode, per step; reward: its mean rewards; model: its mean "
                        "rewards and its transition probabilities (S*A*S more outputs); reward+q: both of those. The policy never "
                        "reads the head (aux_targets; with --eval-only / --resume: the checkpoint's)")
    p.add_argument("--aux-coef", type=float, default=1.0, help="weight of the --aux regression loss")
    p.add_argument("--critic-sees-task", action="store_true",
                   help="beyond the paper: the value baseline also reads the MDP (R_mean and P); the policy never "
                        "does (gru.RecurrentAgent)")
    p.add_argument("--shared", action="store_true",
                   help="a value head on the policy's GRU instead of a separate value GRU (the paper's maze network, "
                        "appendix A.3): half the compute per step (with --eval-only / --resume: the checkpoint's)")
    p.add_argument("--head", choices=HEADS, default=None,
                   help="linear: the paper's output layer (default); state: beyond the paper, one output layer per "
                        "current state, logits = W[s] h (gru.RecurrentAgent head_states; with --eval-only / --resume: "
                        "the checkpoint's)")
    p.add_argument("--phi", choices=PHIS, default=None,
                   help="paper: phi of appendix A.2 (default); transition: beyond the paper, phi also spells out the "
                        "previous (state, action) pair and its reward; value: transition plus the pair times the agent's "
                        "own value of the state it led to (needs --head state) (with --eval-only / --resume: the checkpoint's)")
    p.add_argument("--anneal-lr", type=float, nargs="?", const=1.0, default=0.0, metavar="F",
                   help="decay the Adam step size linearly to 0 over the last fraction F of the budget "
                        "(alone: F = 1, the whole budget; 0.3: a cool-down over the last 30%%)")
    p.add_argument("--minutes", type=float, default=0.0, metavar="M",
                   help="also stop after M minutes of training (wall time; 0: no limit); --anneal-lr then decays "
                        "over the last fraction F of the M minutes, so a run on a faster machine simply takes more steps")
    p.add_argument("--ema", type=float, nargs="+", default=[], metavar="D",
                   help="beyond the paper: also keep an exponential moving average of the weights with decay D per "
                        "iteration (one or more D in [0, 1)), written as checkpoint_ema<D>.pt beside checkpoint.pt "
                        "for --eval-only (trpo.polyak)")
    p.add_argument("--init-from", default=None, metavar="CKPT",
                   help="start from the weights of an MDP checkpoint with any n (a curriculum over n)")
    p.add_argument("--eval-instances", type=int, default=1000)
    p.add_argument("--no-baselines", action="store_true", help="evaluate RL² (and the oracle) only")
    p.add_argument("--prior", choices=sorted(baselines.MDP_PRIORS), default="tabularl",
                   help="prior of the Bayesian baselines: TabulaRL's defaults as the paper (tabularl) "
                        "or the task distribution's own (true)")
    p.add_argument("--out", default=None, help="output folder (default runs/mdp_n{n}_s{seed})")
    p.add_argument("--eval-only", action="store_true", help="evaluate --checkpoint, no training")
    p.add_argument("--checkpoint", default=None, help="checkpoint to evaluate (with --eval-only)")
    p.add_argument("--resume", default=None, help="output folder of an interrupted run to continue")
    p.add_argument("--checkpoint-every", type=int, default=10, help="iterations between checkpoints")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on small CPUs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--policy", choices=POLICIES, default=None,
                   help="gru: RL² (default); mlp: the memoryless control, the same phi through a feed-forward "
                        "net (with --eval-only / --resume: the checkpoint's kind)")
    p.add_argument("--imitate", choices=["myopic"], default=None,
                   help="beyond the paper: train the same network by DAgger instead of TRPO, its own trials "
                        "labelled with the myopic yardstick's action (baselines.mdp_myopic); same evaluation. "
                        "Its checkpoint can start TRPO with --init-from")
    p.add_argument("--bench-scaling", type=int, nargs="?", const=2, default=None, metavar="N",
                   help="train the given budget with 1 process, then with N (default 2) under torchrun; print "
                        "steps/s of each and the ratio, then exit")
    a = p.parse_args(argv)
    if a.n < 1:
        p.error("--n must be at least 1 episode")
    budget, trials = DEFAULT_BUDGET[min(DEFAULT_BUDGET, key=lambda m: abs(math.log(m / a.n)))]
    a.total_timesteps = budget if a.total_timesteps is None else a.total_timesteps
    a.trials_per_iter = trials if a.trials_per_iter is None else a.trials_per_iter
    for name in ("total_timesteps", "trials_per_iter", "hidden", "epochs", "minibatch", "eval_instances",
                 "checkpoint_every", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer")
    if a.eval_instances < 2:
        p.error("--eval-instances must be at least 2 (standard errors need two)")
    if a.seed < 0:
        p.error("--seed must be non-negative")
    for name in ("lr", "max_kl", "clip"):
        if not getattr(a, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if not (0 <= a.gamma <= 1 and 0 <= a.lam <= 1):
        p.error("--gamma and --lam must lie in [0, 1]")
    if a.vf_coef < 0:
        p.error("--vf-coef must be non-negative")
    if a.ent_coef < 0:
        p.error("--ent-coef must be non-negative")
    if a.shared and a.critic_sees_task:
        p.error("--shared and --critic-sees-task exclude each other: the policy must not read the task")
    if a.expected_rewards and a.imitate:
        p.error("--expected-rewards changes the TRPO advantages; --imitate has none")
    if a.trial_end == "truncate" and a.imitate:
        p.error("--trial-end truncate changes the TRPO advantages; --imitate has none")
    if a.aux and a.imitate:
        p.error("--aux joins the TRPO loss; --imitate has none")
    if a.aux and a.policy == "mlp":
        p.error("--aux is for --policy gru (it shapes the GRU's state)")
    if not all(0 <= d < 1 for d in a.ema):
        p.error("--ema decays must lie in [0, 1)")
    if not a.aux_coef > 0:
        p.error("--aux-coef must be positive")
    if a.critic_sees_task and a.imitate:
        p.error("--critic-sees-task changes the TRPO baseline; --imitate has none")
    if a.shared and a.policy == "mlp":
        p.error("--shared is for --policy gru (the MLP has its own value layers)")
    if a.head == "state" and a.policy == "mlp":
        p.error("--head state is for --policy gru (the MLP reads the state in its first layer)")
    if a.phi == "value" and a.head != "state" and not (a.eval_only or a.resume):
        p.error("--phi value reads the per-state value head: add --head state")
    trpo.check_run_args(p, a, EXPERIMENT, {"n": a.n})  # shared flags, checkpoints, --init-from
    if not (a.eval_only or a.resume):  # otherwise the checkpoint says (checkpoint_policy)
        a.policy = a.policy or "gru"
        a.phi = a.phi or "paper"
        a.head = a.head or "linear"
    a.out = a.resume or a.out or f"runs/mdp_n{a.n}_s{a.seed}"
    return a


def row_name(args):
    """The Table 2 row of the trained network: RL2 (TRPO, GRU), RL2-MLP (TRPO, the memoryless control),
    Imitation-DAgger (--imitate myopic) and Imitation-DAgger-MLP."""
    base = "Imitation-DAgger" if getattr(args, "imitate", None) else "RL2"
    return base + ("-MLP" if getattr(args, "policy", "gru") == "mlp" else "")


def checkpoint_policy(ckpt, args, path):
    """Adopt the checkpoint's network kind and training method (checkpoints from before --policy hold a
    GRU trained by TRPO); an explicit --policy, or --imitate on --resume, that contradicts it: one line,
    exit 2."""
    kind, imitate = ckpt.get("policy", "gru"), ckpt.get("imitate")
    if args.policy is not None and args.policy != kind:
        trpo.input_error(f"{path} holds a --policy {kind} network, not --policy {args.policy}")
    if args.resume and args.imitate and args.imitate != imitate:
        trpo.input_error(f"{path} was trained with {'--imitate ' + imitate if imitate else 'TRPO'}, "
                         f"not --imitate {args.imitate}")
    args.policy, args.imitate = kind, imitate
    args.critic_sees_task = bool(ckpt.get("critic_sees_task", False))  # the baseline's input width
    args.shared = bool(ckpt.get("shared", False))  # one GRU with two heads, or two GRUs
    head = ckpt.get("head", "linear")  # checkpoints from before --head have the paper's output layer
    if args.head is not None and args.head != head:
        trpo.input_error(f"{path} holds a network with --head {head}, not --head {args.head}")
    args.head = head
    aux = ckpt.get("aux")  # the head's width must match to load; it plays no part in acting
    if args.resume and args.aux is not None and args.aux != aux:
        trpo.input_error(f"{path} was trained with {'--aux ' + aux if aux else 'no --aux'}, not --aux {args.aux}")
    args.aux = aux
    args.phi = trpo.checkpoint_phi(ckpt, args.phi, path)


def new_agent(args, device):
    """The network the flags (or the checkpoint, via checkpoint_policy) describe."""
    return make_agent(args.policy or "gru", n_inputs(args.phi), N_ACTIONS, args.hidden, shared=args.shared,
                      critic_extra=critic_extra(args), head_states=N_STATES if args.head == "state" else 0,
                      aux_outputs=aux_width(getattr(args, "aux", None))).to(device)


def aux_width(kind):
    """Outputs of the --aux head: one per (state, action) pair, one more per (state, action, next state) for model,
    two per pair for reward+q."""
    per_pair = {None: 0, "q": 1, "reward": 1, "model": 1 + N_STATES, "reward+q": 2}[kind]
    return N_STATES * N_ACTIONS * per_pair


def critic_extra(args):
    """Width of what only the value baseline reads after phi with --critic-sees-task: the MDP itself."""
    return N_STATES * N_ACTIONS * (1 + N_STATES) if args.critic_sees_task else 0


def task_features(P, R_mean):
    """--critic-sees-task: the MDP as the baseline reads it, (B, S*A + S*A*S): centred mean rewards and
    the transition probabilities."""
    return torch.cat([R_mean.flatten(1) - 1.0, P.flatten(1)], 1)


def aux_targets(kind, P, R_mean, n, horizon=HORIZON):
    """--aux: the regression targets (n * horizon, B, S * A) of the auxiliary head at every step of B trials.
    reward: R_mean[s, a] - 1 for every pair (centred on the prior mean), the same at every step.
    q: the true MDP's optimal action values for the k = horizon - (t mod horizon) steps left in the current
    episode, Q_k(s, a) / k - 1 for every pair (per step, centred), by backward induction
    (baselines.mdp_backward_induction). Regressed on the history, the head's best estimate is E[Q_k | history]:
    the task-inference signal of meta-RL work after the paper; the policy itself still learns from reward alone.
    model: the mean rewards and the transition probabilities P[s, a, s'], (n * horizon, B, S*A + S*A*S), the whole
    MDP (a belief over the model, as in VariBAD-style task inference). Scaled so the two parts weigh alike: each
    P[s, a, :] is standardised by its prior standard deviation under the flat Dirichlet and divided by sqrt(S), so
    its S entries carry one reward's prior variance, and both parts are multiplied by sqrt(1 + S) so the reward
    part weighs in trpo.update's mean over S*A*(1 + S) outputs as much as --aux reward's over S*A.
    reward+q: both, (n * horizon, B, 2 * S*A), each multiplied by sqrt(2) so that each weighs in the mean over
    2 * S*A outputs as much as it does alone: the head's loss is then the reward loss plus the q loss."""
    B, S, A = R_mean.shape
    if kind == "reward+q":
        return 2 ** 0.5 * torch.cat([aux_targets("reward", P, R_mean, n, horizon),
                                     aux_targets("q", P, R_mean, n, horizon)], -1)
    if kind == "reward":
        return (R_mean - 1.0).flatten(1).expand(n * horizon, B, S * A)
    if kind == "model":
        prior_sd = ((S - 1) / (S * S * (S + 1))) ** 0.5  # sd of one entry of Dirichlet(1, ..., 1) over S states
        rewards = (R_mean - 1.0).flatten(1)
        transitions = (P - 1.0 / S).flatten(1) / (prior_sd * S ** 0.5)
        return ((1 + S) ** 0.5 * torch.cat([rewards, transitions], 1)).expand(n * horizon, B, S * A * (1 + S))
    per_step, V = [], R_mean.new_zeros(B, S)
    for k in range(1, horizon + 1):  # Q_k = R + P V_{k-1}, V_k = max_a Q_k
        Q = R_mean + (P @ V.unsqueeze(1).unsqueeze(-1)).squeeze(-1)
        per_step.append((Q / k - 1.0).flatten(1))
        V = Q.max(-1).values
    t = torch.arange(n * horizon)
    return torch.stack(per_step)[horizon - 1 - t % horizon]


# ---- the environment: B MDP trials at once (§3.2) ----
def sample_mdps(num, rng, device="cpu", per_task=1):
    """num MDPs from the Table 2 distribution (baselines.sample_mdps, the single source of truth,
    drawn with the numpy Generator rng) as torch tensors: P (num, S, A, S), R_mean (num, S, A).
    per_task = K > 1 (--trials-per-task): num / K MDPs, each in K neighbouring rows (trpo.task_baseline)."""
    P, R_mean = baselines.sample_mdps(num // per_task, rng, N_STATES, N_ACTIONS)
    return (torch.as_tensor(P, dtype=torch.float32, device=device).repeat_interleave(per_task, 0),
            torch.as_tensor(R_mean, dtype=torch.float32, device=device).repeat_interleave(per_task, 0))


def phi(state, prev_action, prev_reward, prev_done, n_states=N_STATES, n_actions=N_ACTIONS, prev_state=None,
        next_value=None):
    """Input embedding (appendix A.2): one-hot current state, one-hot previous action, previous
    reward and previous done flag. At a trial's first step the placeholders are action 0, r = 0,
    d = 0; at the first step of a later episode they are the last step of the episode before
    (d = 1 tells the policy the state was reset to 0).
    With prev_state (--phi transition, beyond the paper) two blocks follow: the one-hot of the
    previous (state, action) pair and the same one-hot times the previous reward. That is no new
    information (the GRU saw the previous state one step earlier), only the pair the reward belongs
    to spelled out, so that keeping per-(s, a) statistics needs no product of the previous state,
    the previous action and the reward inside the GRU. prev_state = -1 (a trial's first step): zeros.
    With next_value (B,) as well (--phi value, beyond the paper; needs --head state) a third block follows:
    the same one-hot times the agent's own value estimate of the state the pair led to, V(h_{t-1}, s_t),
    read from the per-state value head (gru.RecurrentAgent.state_values), and zero at an episode's first
    step (the pair's episode ended there, the reset state 0 is not where it led). Summed per pair, as the
    reward block is, it is a running estimate of E[V(s') | s, a], so the GRU can rank the actions of a state
    by reward plus where they lead (one step of planning, a TD backup) instead of by reward alone."""
    s = torch.nn.functional.one_hot(state, n_states).to(prev_reward.dtype)
    a = torch.nn.functional.one_hot(prev_action, n_actions).to(prev_reward.dtype)
    x = torch.cat([s, a, prev_reward.unsqueeze(-1), prev_done.unsqueeze(-1)], -1)
    if prev_state is None:
        return x
    pair = torch.nn.functional.one_hot((prev_state * n_actions + prev_action).clamp(min=0), n_states * n_actions)
    pair = pair.to(prev_reward.dtype) * (prev_state >= 0).to(prev_reward.dtype).unsqueeze(-1)
    x = torch.cat([x, pair, pair * prev_reward.unsqueeze(-1)], -1)
    if next_value is None:
        return x
    return torch.cat([x, pair * (next_value * (1 - prev_done)).unsqueeze(-1)], -1)


def n_inputs(kind):
    """Width of phi: the paper's 17, 117 with --phi transition, 167 with --phi value."""
    return N_STATES + N_ACTIONS + 2 + N_STATES * N_ACTIONS * {"transition": 2, "value": 3}.get(kind, 0)


def myopic_target(n_sa, r_sum, s):
    """--imitate myopic: the myopic yardstick's action in state s (B,) given per-trial counts n_sa and
    reward sums r_sum (B, S, A), as a distribution (B, A), uniform over tied actions. The yardstick
    (baselines.mdp_myopic) takes the action with the highest posterior-mean reward under the true prior
    N(1, 1) and unit reward noise, updated after every step, and ignores the transitions."""
    rows = torch.arange(len(s), device=s.device)
    prec = baselines.MDP_REWARD_PRECISION
    mu = (1.0 + prec * r_sum[rows, s]) / (1.0 + prec * n_sa[rows, s])
    best = (mu >= mu.max(-1, keepdim=True).values - 1e-6).to(mu.dtype)
    return best / best.sum(-1, keepdim=True)


@torch.no_grad()
def play(agent, P, R_mean, n, generator, store=False, horizon=HORIZON, transition=False, targets=False,
         value_phi=False, bootstrap=False):
    """Play B = len(P) trials of n episodes of `horizon` steps with the recurrent policy, all
    trials at once. Every episode starts in state 0; the hidden state starts at zero for each trial
    and is carried across its n episodes (never reset at an episode boundary, §2.2).
    Returns rewards (n * horizon, B) and, with store=True, the rollout buffer for the TRPO update
    (obs, actions, logits, values, states, dones, mean_rewards = R_mean[s, a] of each step; each (n * horizon, B, ...)).
    transition=True: phi with the previous (state, action) pair spelled out (--phi transition).
    value_phi=True (implies transition): also the pair times the agent's value of the state it led to (--phi value).
    targets=True (with store): the buffer also holds "targets" (n * horizon, B, A), the myopic yardstick's
    action at every state the policy reaches given the trial's history so far (DAgger's labels), and no
    "values" (DAgger fits no baseline, so the value network is not run).
    bootstrap=True (with store): the buffer also holds "last_value" (B,), the value of the step after the trial's
    last (the next episode's first, as if the trial went on), for --trial-end truncate."""
    B, S, A, _ = P.shape
    device = P.device
    P_cum = P.cumsum(-1)
    P_cum[..., -1] = 1.0  # float rounding must never let u exceed the last entry
    h = agent.initial_state(B, device)
    s = torch.zeros(B, dtype=torch.long, device=device)
    a = torch.zeros(B, dtype=torch.long, device=device)
    r = torch.zeros(B, device=device)
    d = torch.zeros(B, device=device)
    s_prev = torch.full((B,), -1, dtype=torch.long, device=device)  # no pair before the first step
    buf = {key: [] for key in ("obs", "actions", "logits", "rewards", "values", "states", "dones", "targets",
                              "mean_rewards")}
    if targets:
        n_sa, r_sum = torch.zeros(B, S, A, device=device), torch.zeros(B, S, A, device=device)
    rows = torch.arange(B, device=device)
    task = task_features(P, R_mean) if store and getattr(agent, "critic_extra", 0) else None

    def step_input():  # phi of the current step, from the loop's running s, a, r, d, s_prev and h
        v = agent.state_values(h)[rows, s] if value_phi else None  # V(h_{t-1}, s_t): the state's value before this step
        x = phi(s, a, r, d, S, A, prev_state=s_prev if transition or value_phi else None, next_value=v)
        if task is not None:  # --critic-sees-task: the baseline also reads the MDP; the policy slices it off
            x = torch.cat([x, task], -1)
        return x

    for t in range(n * horizon):
        x = step_input()
        logits, value, h = agent(x.unsqueeze(0), h, None, need_value=store and not targets)  # DAgger needs no baseline
        logits = logits[0]
        u = torch.rand(B, 1, generator=generator).to(device)
        a = torch.searchsorted(torch.softmax(logits, -1).cumsum(-1), u).squeeze(-1).clamp_(max=A - 1)
        r_mean = R_mean[rows, s, a]
        r = r_mean + torch.randn(B, generator=generator).to(device)
        if targets:  # the label is for the state s the action was taken in, before r is seen
            buf["targets"].append(myopic_target(n_sa, r_sum, s))
            n_sa[rows, s, a] += 1
            r_sum[rows, s, a] += r
        u = torch.rand(B, 1, generator=generator).to(device)
        s_next = torch.searchsorted(P_cum[rows, s, a], u).squeeze(-1).clamp_(max=S - 1)
        episode_end = (t + 1) % horizon == 0
        d = torch.full((B,), float(episode_end), device=device)  # the trial goes on past it
        if store:
            buf["obs"].append(x)
            buf["logits"].append(logits)
            if value is not None:
                buf["values"].append(value[0])
            buf["actions"].append(a)
            buf["states"].append(s)
            buf["mean_rewards"].append(r_mean)
            buf["dones"].append(d)
        buf["rewards"].append(r)
        s_prev = s
        s = torch.zeros_like(s_next) if episode_end else s_next  # each episode starts in state 0
    rewards = torch.stack(buf["rewards"])
    if not store:
        return rewards
    batch = {key: torch.stack(v) for key, v in buf.items() if v}
    if bootstrap:  # the input the (n + 1)-th episode's first step would see; only its value is read
        batch["last_value"] = agent(step_input().unsqueeze(0), h, None)[1][0]
    return rewards, batch


def reference_scores(args):
    """Normalisation of the progress line as the paper's Figure 3: random = 0, OPSRL = 1.
    Random's expectation is exact: mean rewards are N(1, 1) independent of the dynamics and a
    uniform policy cannot correlate with them, so it earns 1 per step, n * T per trial. OPSRL
    (TabulaRL's default of 10 posterior samples, no tuning) is measured on 1000 reference MDPs
    from a seed disjoint from training, evaluation and the baselines' tuning."""
    P, R_mean = baselines.sample_mdps(1000, np.random.default_rng(args.seed + 2_000_003), N_STATES, N_ACTIONS)
    opsrl = baselines.mdp_run_method(P, R_mean, args.n, HORIZON, "OPSRL", baselines.MDP_GRIDS["OPSRL"][2],
                                     args.prior, np.random.default_rng([args.seed + 2_000_003, 1]))
    return float(args.n * HORIZON), float(opsrl.mean())


def evaluate(agent, args, device):
    """Table 2 row: RL² and every baseline on the same eval MDPs (a seed disjoint from training),
    plus the oracle that knows each MDP. Returns (rows: method -> (N,) totals, hyper, oracle)."""
    P, R_mean = baselines.sample_mdps(args.eval_instances, np.random.default_rng(args.seed + 1_000_003),
                                      N_STATES, N_ACTIONS)
    gen = torch.Generator().manual_seed(args.seed + 1_000_003)
    Pt, Rt = (torch.as_tensor(x, dtype=torch.float32, device=device) for x in (P, R_mean))
    rl2 = play(agent, Pt, Rt, args.n, gen, transition=args.phi == "transition",
               value_phi=args.phi == "value").sum(0).cpu().numpy().astype(np.float64)
    rows = {row_name(args): rl2}  # RL2 or RL2-MLP
    hyper = {}
    if not args.no_baselines:
        base, hyper = baselines.run_mdp_baselines(P, R_mean, args.n, T=HORIZON, seed=args.seed, prior=args.prior)
        rows.update(base)
    sim, exact = baselines.oracle_mdp(P, R_mean, args.n, HORIZON, np.random.default_rng([args.seed, 99]))
    oracle = {"mean": float(exact.mean()), "stderr": float(exact.std(ddof=1) / math.sqrt(len(exact))),
              "simulated_mean": float(sim.mean()), "simulated_stderr": float(sim.std(ddof=1) / math.sqrt(len(sim)))}
    return rows, hyper, oracle


def print_row(rows, args, hyper, oracle):
    best = baselines.paired_significance(rows)
    paper = baselines.PAPER_TABLE2.get(args.n, {})
    print(f"\nTable 2 row, n = {args.n} (|S| = {N_STATES}, |A| = {N_ACTIONS}, T = {HORIZON}): total reward, "
          f"mean ± SE over {args.eval_instances} MDPs; * = best or not significantly worse (paired one-sided "
          f"t-test, p = 0.05); baselines' prior: {args.prior}")
    print(f"  {'method':12s} {'ours':>18s}   {'paper':>7s}  hyperparameters")
    hyper = dict(hyper, **{row_name(args): {"MLP" if args.policy == "mlp" else "GRU": args.hidden, "lr": args.lr}})
    for m in baselines.MDP_METHODS + [row_name(args)]:
        if m not in rows:
            continue
        x = rows[m]
        se = x.std(ddof=1) / math.sqrt(len(x))
        pv = f"{paper[m]:7.1f}" if m in paper else "      -"
        hp = " ".join(f"{k}={v:g}" for k, v in hyper.get(m, {}).items())
        print(f"  {m:12s} {x.mean():10.2f} ± {se:5.2f} {'*' if m in best else ' '} {pv}  {hp}")
    print(f"  {'Oracle':12s} {oracle['mean']:10.2f} ± {oracle['stderr']:5.2f}            exact expectation "
          f"(knows the MDP: the ceiling); simulated {oracle['simulated_mean']:.2f}")
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
    plt.axhline(1.0, color="k", ls="--", lw=0.8, label="OPSRL")
    plt.axhline(0.0, color="gray", ls=":", lw=0.8, label="random")
    plt.xlabel("environment steps")
    plt.ylabel("normalised total reward")
    plt.title(f"RL² tabular MDPs, n = {args.n}")
    plt.ylim(min(-0.1, min(score)), max(1.15, max(score) + 0.05))
    plt.legend(loc="best")
    plt.tight_layout()
    plt.savefig(png_path, dpi=120)
    plt.close()


CSV_FIELDS = ["iteration", "steps", "seconds", "steps_per_s", "trial_reward", "normalized", "kl", "entropy",
              "clipfrac", "explained_variance", "backtracks", "epoch_kept", "v_loss", "aux_loss"]


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
    agent = new_agent(args, device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)

    if args.eval_only:
        ckpt = trpo.load_checkpoint(args.checkpoint, EXPERIMENT, {})
        checkpoint_policy(ckpt, args, args.checkpoint)
        if ckpt["n"] != args.n:  # the algorithm learned on n-episode trials, played for another number of episodes
            print(f"evaluating a policy trained on n = {ckpt['n']} episode trials at n = {args.n}")
        args.hidden, args.lr = ckpt["hidden"], ckpt.get("args", {}).get("lr", args.lr)  # as trained
        agent = new_agent(args, device)
        agent.load_state_dict(ckpt["agent"])
        print(f"{args.checkpoint}: iteration {ckpt['iteration']}, {ckpt['steps']} steps, "
              f"{ckpt['seconds']:.0f} s of training")
        rows, hyper, oracle = evaluate(agent, args, device)
        print_row(rows, args, hyper, oracle)
        sys.exit(0)

    log = rank == 0  # only rank 0 prints and writes files
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    csv_path = os.path.join(args.out, "progress.csv")
    random_ref, opsrl_ref = reference_scores(args) if log else (0.0, 1.0)
    iteration, steps, seconds = 0, 0, 0.0
    kept = []
    if args.resume:
        ckpt = trpo.load_checkpoint(ckpt_path, EXPERIMENT, {"n": args.n})
        checkpoint_policy(ckpt, args, ckpt_path)
        args.hidden = ckpt["hidden"]
        agent = new_agent(args, device)
        optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)
        agent.load_state_dict(ckpt["agent"])
        optimizer.load_state_dict(ckpt["optimizer"])
        iteration, steps, seconds = ckpt["iteration"], ckpt["steps"], ckpt["seconds"]
        if args.ema and set(ckpt.get("ema", {})) != {str(d) for d in args.ema}:  # the averages go on as they were
            trpo.input_error(f"{ckpt_path} holds averages for --ema {' '.join(ckpt.get('ema', {})) or '(none)'}: "
                             f"resume without --ema or with the same decays")
        if log and os.path.isfile(csv_path):  # drop rows logged after the checkpoint: none is duplicated
            with open(csv_path) as f:
                kept = [r for r in csv.DictReader(f) if int(r["iteration"]) <= iteration]
            print(f"resuming {args.out} at iteration {iteration}, {steps} steps")
    elif args.init_from:  # curriculum over n: what was learned on shorter trials is the starting point
        init = trpo.load_checkpoint(args.init_from, EXPERIMENT, {})
        if bool(init.get("shared", False)) != args.shared:
            trpo.input_error(f"{args.init_from} holds a {'shared' if init.get('shared') else 'separate'} value network: "
                             f"{'add' if init.get('shared') else 'drop'} --shared")
        if init.get("critic_sees_task") and not args.critic_sees_task:
            trpo.input_error(f"{args.init_from} was trained with --critic-sees-task: add the flag")
        if not (args.phi == "value" and init.get("phi") == "transition"):  # value = transition + a block: widened
            trpo.checkpoint_phi(init, args.phi, args.init_from)  # the same phi, or the weights mean nothing
        if init.get("head", "linear") != args.head:
            trpo.input_error(f"{args.init_from} holds a network with --head {init.get('head', 'linear')}: "
                             f"start from it with --head {init.get('head', 'linear')}")
        aux_head = getattr(agent, "aux_head", None)
        weights = {k: v for k, v in init["agent"].items() if aux_head is not None or not k.startswith("aux_head.")}
        if aux_head is not None and not init.get("aux"):  # a new --aux head starts from its initialisation
            weights.update({k: v for k, v in agent.state_dict().items() if k.startswith("aux_head.")})
        elif aux_head is not None and init.get("aux") != args.aux:
            trpo.input_error(f"{args.init_from} has an --aux {init['aux']} head: start from it with --aux {init['aux']}")
        load_widened(agent, weights)  # zero-initialised input columns: the MDP (critic), --phi value's block
        if log:
            print(f"starting from the weights of {args.init_from}")
    if log:
        os.makedirs(args.out, exist_ok=True)
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, CSV_FIELDS)
            w.writeheader()
            w.writerows(kept)

    # --ema: averages of the weights, started from the weights training starts with (a resumed run: its own)
    ema = (ckpt.get("ema", {}) if args.resume else
           {str(d): {k: v.detach().clone() for k, v in agent.state_dict().items()} for d in args.ema})

    def state():
        return {"experiment": EXPERIMENT, "n": args.n, "hidden": args.hidden, "policy": args.policy,
                "critic_sees_task": args.critic_sees_task, "phi": args.phi, "shared": args.shared, "head": args.head,
                "imitate": args.imitate, "aux": args.aux, "agent": agent.state_dict(), "optimizer": optimizer.state_dict(),
                "iteration": iteration, "steps": steps, "seconds": seconds, "ema": ema,
                "args": {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}}

    interrupted = []
    signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))  # finish the iteration, then save
    signal.signal(signal.SIGTERM, lambda *_: interrupted.append(True))
    B = args.trials_per_iter // world
    L = args.n * HORIZON  # steps per trial
    if log:
        print(f"{'DAgger on the myopic yardstick' if args.imitate else 'RL²'} MDP n={args.n}: {args.total_timesteps} steps, {args.trials_per_iter} trials "
              f"({args.trials_per_iter * L} steps) per iteration, {args.policy.upper()} {args.hidden}, phi {args.phi}, head {args.head}, device {device}, "
              f"{world} process(es) x {args.threads} thread(s); OPSRL reference {opsrl_ref:.2f}, "
              f"random {random_ref:.2f}", flush=True)
    trial_end = torch.zeros(L, B, device=device)
    trial_end[-1] = args.trial_end == "terminal"  # GAE runs across the n episodes and stops only at the trial's end
    # (--trial-end truncate: not even there; play's last_value stands for what would follow)
    reset = torch.zeros(L, B, device=device)
    while steps < args.total_timesteps:
        if trpo.start_iteration(optimizer, args, steps, seconds, interrupted, device):  # all processes together
            break
        t0 = time.perf_counter()
        iter_seed = trpo.seed_for(args.seed, rank, iteration)  # exact resume (trpo.seed_for)
        gen = torch.Generator().manual_seed(iter_seed)
        P, R_mean = sample_mdps(B, np.random.default_rng(iter_seed), device, per_task=args.trials_per_task)
        rewards, batch = play(agent, P, R_mean, args.n, gen, store=True, transition=args.phi == "transition",
                              value_phi=args.phi == "value", targets=bool(args.imitate),
                              bootstrap=args.trial_end == "truncate" and not args.imitate)
        if args.imitate:  # DAgger: the policy's own trials, the myopic action as the label at every state
            info = trpo.imitation_step(agent, optimizer, batch["obs"], batch["targets"], args.epochs,
                                       args.minibatch, gen)
        else:
            scored = batch["mean_rewards"] if args.expected_rewards else rewards  # the same expected gradient
            adv, ret = trpo.gae((scored - REWARD_SHIFT) / REWARD_SCALE, batch["values"], trial_end, args.gamma,
                                args.lam, last_value=batch.pop("last_value", None))
            adv = trpo.task_baseline(adv, args.trials_per_task)  # the same MDP's other trials (1: no-op)
            batch.update(advantages=adv, returns=ret, reset=reset, h0=agent.initial_state(B, device))
            if args.aux:
                batch["aux_targets"] = aux_targets(args.aux, P, R_mean, args.n)
            info = trpo.update(agent, optimizer, batch, policy_params=agent.policy_parameters(), clip=args.clip,
                               epochs=args.epochs, trials_per_minibatch=args.minibatch, max_kl=args.max_kl,
                               vf_coef=args.vf_coef, ent_coef=args.ent_coef, generator=gen, aux_coef=args.aux_coef,
                               kl_check=args.kl_check)
        trpo.stop_if_not_finite(info, agent, iteration + 1, ckpt_path)  # before anything is saved
        for d, average in ema.items():
            trpo.polyak(average, agent, float(d))
        iteration += 1
        steps += rewards.numel() * world
        dt = time.perf_counter() - t0
        seconds += dt
        trial_reward = trpo.all_mean(rewards.sum(0).mean()).item()
        if not log:
            continue
        row = {"iteration": iteration, "steps": steps, "seconds": round(seconds, 2),
               "steps_per_s": round(rewards.numel() * world / dt), "trial_reward": round(trial_reward, 4),
               "normalized": round((trial_reward - random_ref) / (opsrl_ref - random_ref), 4),
               "kl": round(info["kl"], 5), "entropy": round(info["entropy"], 4),
               "clipfrac": round(info["clipfrac"], 4), "explained_variance": round(info["explained_variance"], 4),
               "backtracks": info["backtracks"], "epoch_kept": info["epoch_kept"], "v_loss": round(info["v_loss"], 5),
               "aux_loss": round(info["aux_loss"], 5) if args.aux else ""}
        if args.imitate:  # no trust region and no value baseline: those columns stay empty
            row.update({key: "" for key in ("kl", "clipfrac", "explained_variance", "backtracks", "epoch_kept",
                                            "v_loss", "aux_loss")})
        with open(csv_path, "a", newline="") as f:
            csv.DictWriter(f, CSV_FIELDS).writerow(row)
        if args.imitate:
            print(f"iter {iteration:4d}  steps {steps:9d}  {row['steps_per_s']:6d} steps/s  trial reward "
                  f"{trial_reward:8.2f}  normalised {row['normalized']:6.3f}  cross-entropy {info['ce_loss']:.4f}  "
                  f"accuracy {info['accuracy']:.3f}  entropy {info['entropy']:.3f}", flush=True)
        else:
            print(f"iter {iteration:4d}  steps {steps:9d}  {row['steps_per_s']:6d} steps/s  trial reward "
                  f"{trial_reward:8.2f}  normalised {row['normalized']:6.3f}  KL {info['kl']:.4f}  "
                  f"entropy {info['entropy']:.3f}  EV {info['explained_variance']:.2f}  bt {info['backtracks']}"
                  + (f"  aux {info['aux_loss']:.4f}" if args.aux else ""),
                  flush=True)
        if iteration % args.checkpoint_every == 0:
            trpo.save_checkpoint(ckpt_path, state())
    trpo.check_identical(agent, log)  # under torchrun: every process ends with the same parameters
    if log:
        trpo.save_checkpoint(ckpt_path, state())
        for d, average in ema.items():  # a plain checkpoint of the averaged weights: --eval-only, --init-from
            trpo.save_checkpoint(os.path.join(args.out, f"checkpoint_ema{d}.pt"),
                                 {**state(), "agent": average, "ema": {}})
    trpo.close_distributed()  # all processes leave together, once rank 0 has saved
    if not log:
        trpo.worker_exit()
    if interrupted:
        sys.exit(f"interrupted at iteration {iteration}; resume with: python rl2_mdp.py --n {args.n} "
                 f"--resume {args.out}")
    plot_curve(csv_path, os.path.join(args.out, "learning_curve.png"), args)

    rows, hyper, oracle = evaluate(agent, args, device)
    best = print_row(rows, args, hyper, oracle)
    results = {"experiment": EXPERIMENT, "n": args.n, "seed": args.seed, "steps": steps,
               "iterations": iteration, "seconds": round(seconds, 1), "device": str(device), "processes": world,
               "threads": args.threads, "eval_instances": args.eval_instances, "prior": args.prior,
               "rows": {m: {"mean": float(x.mean()), "stderr": float(x.std(ddof=1) / math.sqrt(len(x)))}
                        for m, x in rows.items()},
               "best_or_not_significantly_worse": sorted(best),
               "hyperparameters": {m: {k: v if isinstance(v, int) else float(v) for k, v in hp.items()}
                                   for m, hp in hyper.items()},
               "oracle": oracle,
               "reference": {"random": random_ref, "OPSRL": opsrl_ref},
               "paper": dict(baselines.PAPER_TABLE2.get(args.n, {})), "policy": args.policy,
               "critic_sees_task": args.critic_sees_task, "phi": args.phi, "shared": args.shared, "head": args.head,
               "imitate": args.imitate, "aux": args.aux}
    tmp = os.path.join(args.out, "results.json.tmp")
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, os.path.join(args.out, "results.json"))
    print(f"wrote {args.out}/results.json, progress.csv, learning_curve.png, checkpoint.pt")
