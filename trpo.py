"""First-order TRPO with GAE over whole trials, as RL² ran it (paper §2.4, reference card).

RL²'s outer loop ("slow RL") maximises the expected total discounted reward of a *trial*: n
episodes on one sampled MDP, with the GRU state carried across episodes. Two things follow:

1. GAE(gamma, lambda) (Schulman et al. 2016) runs across episode boundaries inside a trial and
   stops only where the trial ends (`trial_end`). Cutting it at episode ends is the most common
   bug in public RL² code: it removes the reward for exploring in episode 1 and exploiting in 2.
2. The policy is updated the way the authors' "first-order TRPO" did: a clipped-ratio surrogate
   (clip 0.1) optimised with Adam for several epochs over minibatches of whole trials (so the
   recurrent state is replayed from each trial's true start), keeping the best iterate whose mean
   KL to the old policy is <= delta; if no epoch stayed inside the trust region, backtrack on the
   line between old and new parameters (ratio 0.5, at most 10 tries) until mean KL <= delta.
   The trust-region constraint of TRPO (Schulman et al. 2015, eq. 12) is thus enforced on the
   whole batch, while the search direction comes from first-order steps.

A recurrent value baseline is fitted by regression on the GAE returns in the same minibatch steps.

Two variance reductions beyond the paper, both leaving the policy gradient unbiased (the scripts' flags):
- Task baseline (--trials-per-task K, task_baseline below): K trials of the batch play the same task, and
  each trial's advantages lose the mean of the other K - 1 trials' at the same step.
- Expected rewards (--expected-rewards): a simulator knows E[r_t | s_t, a_t] (the MDP's R_mean[s, a], the
  bandit arm's p). The returns that multiply the score of an action a_u at u <= t contain r_t, and
  given everything up to (s_t, a_t), on which those scores depend, r_t's expectation is that mean; so
  replacing the sampled r_t by it in the returns changes no expectation, only removes the reward noise
  (variance 1 per step in the MDPs). The policy still observes the sampled r_t in phi: what it learns
  from the noise (it must estimate the means) is credited through the later returns, which stay exact.

The agent is any module called as `agent(obs, h0, reset, need_value)` -> (logits (T,B,A),
values (T,B) or None, h_T) over whole sequences; see gru.RecurrentAgent.

    python trpo.py        # checks GAE against a naive loop and runs one update on a toy problem
"""
import csv
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn


def distributed():
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_mean(x):
    """Average a tensor over data-parallel processes (torchrun); identity in a single process.
    Each process holds an equal share of the trials, so the mean of means is the global mean."""
    if distributed():
        x = x.clone()
        dist.all_reduce(x)
        x /= dist.get_world_size()
    return x


def gae(rewards, values, trial_end, gamma, lam, last_value=None):
    """Generalised advantage estimation over (T, B) arrays of rewards and value predictions.

    trial_end[t, b] = 1 where step t is the last step of a trial: nothing flows back across it.
    Episode ends inside a trial are *not* cut (the objective is the whole trial's return).
    last_value (B,) bootstraps the step after T for trials still running when the buffer ends
    (0 where the buffer ends exactly at a trial's end). Returns (advantages, returns)."""
    T = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[0]) if last_value is None else last_value
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(T)):
        not_end = 1.0 - trial_end[t].to(rewards.dtype)
        delta = rewards[t] + gamma * next_value * not_end - values[t]
        running = delta + gamma * lam * not_end * running
        adv[t] = running
        next_value = values[t]
    return adv, adv + values


def task_baseline(adv, trials_per_task):
    """Leave-one-out task baseline (beyond the paper): subtract from each trial's advantage at step t the
    mean advantage at step t of the other trials on the same task. Columns b of the (T, B) array are
    grouped by task: trials b = K*i, ..., K*i + K - 1 (K = trials_per_task) played the same MDP or bandit.

    Why: the value baseline sees only the trial's history, so early in a trial it cannot know whether
    this task is a rich one; that task-level luck enters every advantage as noise (session 16: at n = 500
    the bandit's baseline explains none of the return). The other trials on the same task carry the same
    luck and none of this trial's actions, so subtracting their mean is a valid baseline (it does not
    depend on this trial's action at t: the policy gradient stays unbiased) that removes the shared part.
    The same idea as the leave-one-out baselines of REINFORCE with several samples per input.
    K = 1 returns adv unchanged (the paper's estimator)."""
    K = int(trials_per_task)
    if K <= 1:
        return adv
    T, B = adv.shape
    if B % K:
        raise ValueError(f"{B} trials do not split into tasks of {K} trials each")
    grouped = adv.reshape(T, B // K, K)
    others = (grouped.sum(-1, keepdim=True) - grouped) / (K - 1)
    return (grouped - others).reshape(T, B)


def categorical_kl(logits_old, logits_new):
    """KL(pi_old || pi_new) per step, for categorical policies given as logits."""
    logp_old = torch.log_softmax(logits_old, -1)
    logp_new = torch.log_softmax(logits_new, -1)
    return (logp_old.exp() * (logp_old - logp_new)).sum(-1)


def entropy(logits):
    logp = torch.log_softmax(logits, -1)
    return -(logp.exp() * logp).sum(-1)


def explained_variance(pred, target):
    var = target.var()
    return float("nan") if var == 0 else (1 - (target - pred).var() / var).item()


def _flat(params):
    return torch.cat([p.detach().reshape(-1) for p in params])


def _assign(params, flat):
    i = 0
    with torch.no_grad():
        for p in params:
            p.copy_(flat[i:i + p.numel()].view_as(p))
            i += p.numel()


def average_gradients(agent):
    """Data parallel (torchrun): every process applies the same gradient, the mean over processes."""
    if not distributed():
        return
    grads = [p.grad for p in agent.parameters() if p.grad is not None]
    flat = all_mean(torch.cat([g.reshape(-1) for g in grads]))
    i = 0
    for g in grads:
        g.copy_(flat[i:i + g.numel()].view_as(g))
        i += g.numel()


def update(agent, optimizer, batch, policy_params=None, clip=0.1, epochs=5, trials_per_minibatch=32,
           max_kl=0.01, backtrack_ratio=0.5, max_backtracks=10, vf_coef=1.0, ent_coef=0.0,
           max_grad_norm=None, generator=None, aux_coef=1.0, kl_check="each"):
    """One outer-loop iteration of first-order TRPO on a batch of whole trials.

    batch: dict of tensors shaped (T, B, ...): obs, actions, logits (the rollout policy's logits),
    advantages, returns, reset; and h0 (B, ...), the recurrent state at t = 0 of each column.
    policy_params: the parameters that define the policy (the trust region and backtracking act on
    them); default all parameters, as for a network shared by policy and value. With a separate
    value network, pass only the policy's and the value network keeps its fitted weights.
    batch["aux_targets"] (T, B, M), optional (beyond the paper): what the agent's auxiliary head should
    predict (agent(..., need_aux=True)); aux_coef * 0.5 * its mean squared error joins the loss.
    kl_check: how the kept iterate is found. "each" (the authors' rule): measure every epoch's iterate on the
    whole batch and keep the one with the best surrogate among those inside the trust region. "last" (beyond
    the paper, --kl-check last): measure the last epoch's iterate first and walk back through the earlier
    epochs' iterates only while they are outside the trust region or do not improve the surrogate. The two
    keep the same iterate whenever the surrogate and the KL grow from epoch to epoch (what they do in
    practice); "last" then pays one whole-batch pass instead of one per epoch.
    Returns a dict of diagnostics."""
    params = list(agent.parameters()) if policy_params is None else list(policy_params)
    obs, actions, old_logits = batch["obs"], batch["actions"], batch["logits"]
    reset, h0, returns = batch["reset"], batch["h0"], batch["returns"]
    adv = batch["advantages"]
    moments = all_mean(torch.stack([adv.mean(), adv.square().mean()]))  # normalise with global statistics
    adv = (adv - moments[0]) / ((moments[1] - moments[0] ** 2).clamp(min=0).sqrt() + 1e-8)
    old_logp_all = torch.log_softmax(old_logits, -1)
    old_logp = old_logp_all.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    B = obs.shape[1]

    def evaluate_policy(need_value=False):
        """Mean KL to the old policy, the unclipped surrogate mean(ratio * A) and the entropy on the whole
        batch; with need_value also the baseline's values (for the explained variance of the kept iterate)."""
        with torch.no_grad():
            logits, values, _ = agent(obs, h0, reset, need_value=need_value)
            logp = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
            stats = all_mean(torch.stack([categorical_kl(old_logits, logits).mean(),
                                          (torch.exp(logp - old_logp) * adv).mean(), entropy(logits).mean()]))
            return stats[0].item(), stats[1].item(), stats[2].item(), values

    if kl_check not in ("each", "last"):
        raise ValueError(f"kl_check must be 'each' or 'last', not {kl_check!r}")
    theta_old = _flat(params)
    best_surr, best_theta, best_epoch = (all_mean(adv.mean()).item(), theta_old, 0)  # ratio = 1 at theta_old
    aux_targets = batch.get("aux_targets")
    stats = {"pg_loss": 0.0, "v_loss": 0.0, "clipfrac": 0.0, "aux_loss": 0.0}
    n_mb = 0
    iterates = []  # kl_check "last": each epoch's parameters, measured after the epochs
    kept = None  # the whole-batch pass at the kept parameters, if one was made (its numbers are exact)
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(B, generator=generator)
        for start in range(0, B, trials_per_minibatch):
            mb = perm[start:start + trials_per_minibatch]  # whole trials: columns of the (T, B) buffer
            if aux_targets is None:
                logits, values, _ = agent(obs[:, mb], h0[mb], reset[:, mb], need_value=True)
            else:
                logits, values, _, aux = agent(obs[:, mb], h0[mb], reset[:, mb], need_value=True, need_aux=True)
            logp = torch.log_softmax(logits, -1).gather(-1, actions[:, mb].unsqueeze(-1)).squeeze(-1)
            ratio = torch.exp(logp - old_logp[:, mb])
            a = adv[:, mb]
            pg_loss = -torch.min(ratio * a, torch.clamp(ratio, 1 - clip, 1 + clip) * a).mean()
            v_loss = 0.5 * ((values - returns[:, mb]) ** 2).mean()
            loss = pg_loss + vf_coef * v_loss
            if ent_coef:
                loss = loss - ent_coef * entropy(logits).mean()
            if aux_targets is not None:
                aux_loss = 0.5 * ((aux - aux_targets[:, mb]) ** 2).mean()
                loss = loss + aux_coef * aux_loss
                stats["aux_loss"] += aux_loss.item()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            average_gradients(agent)
            if max_grad_norm:
                nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
            optimizer.step()
            stats["pg_loss"] += pg_loss.item()
            stats["v_loss"] += v_loss.item()
            stats["clipfrac"] += ((ratio - 1).abs() > clip).float().mean().item()
            n_mb += 1
        if kl_check == "last":
            iterates.append(_flat(params))
            continue
        # The last epoch's pass also computes the values: if that iterate is kept, it is the final pass too.
        last = evaluate_policy(need_value=epoch == epochs)
        kl, surr = last[0], last[1]
        if kl <= max_kl and surr > best_surr:
            best_surr, best_theta, best_epoch = surr, _flat(params), epoch
            kept = last if epoch == epochs else None
    if kl_check == "last":  # from the last epoch's iterate back to the first one inside that improves
        for epoch in range(epochs, 0, -1):
            if epoch < epochs:
                _assign(params, iterates[epoch - 1])
            last = evaluate_policy(need_value=True)
            kl, surr = last[0], last[1]
            if kl <= max_kl and surr > best_surr:
                best_surr, best_theta, best_epoch, kept = surr, iterates[epoch - 1], epoch, last
                break
        else:
            _assign(params, iterates[-1])  # none inside: backtrack from the last iterate, as "each" does

    # Keep the best iterate inside the trust region; if none, backtrack from the last iterate.
    backtracks = 0
    if best_epoch == 0:
        theta_new = _flat(params)
        for backtracks in range(1, max_backtracks + 1):
            _assign(params, theta_old + backtrack_ratio ** backtracks * (theta_new - theta_old))
            kl, surr, _, _ = evaluate_policy()
            if kl <= max_kl:
                break
        else:
            _assign(params, theta_old)  # nothing inside the trust region: keep the old policy
            backtracks = max_backtracks + 1
    else:
        _assign(params, best_theta)
    if best_epoch and kept is not None:  # the parameters a pass above measured: its numbers are exact, no new pass
        kl, surr, ent, values = kept
    else:
        kl, surr, ent, values = evaluate_policy(need_value=True)
    return {"kl": kl, "entropy": ent, "surrogate": surr, "surrogate_old": all_mean(adv.mean()).item(),
            "epoch_kept": best_epoch, "backtracks": backtracks,
            "clipfrac": stats["clipfrac"] / n_mb, "pg_loss": stats["pg_loss"] / n_mb,
            "v_loss": stats["v_loss"] / n_mb, "aux_loss": stats["aux_loss"] / n_mb, "explained_variance": explained_variance(values, returns)}


def imitation_step(agent, optimizer, obs, target, epochs=5, trials_per_minibatch=32, generator=None,
                   max_grad_norm=10.0):
    """One iteration of behaviour cloning, the supervised counterpart of update() (the paper's §3.1
    ablation: "the same policy architecture [trained] with supervised learning" on an expert's trials).

    obs (T, B, I): what the policy saw at every step of B whole trials; target (T, B, A): the expert's
    action at each step as a distribution (uniform over tied actions: the expected one-hot label of an
    expert that breaks ties at random). Minimises the cross-entropy for `epochs` passes over
    minibatches of whole trials, the recurrent state replayed from each trial's start, as update()
    does; no trust region and no value baseline. Returns the mean cross-entropy, accuracy (the
    policy's most likely action is an expert action) and entropy of the last epoch's minibatches,
    in update()'s dict (its TRPO-only entries 0 or NaN)."""
    T, B, _ = obs.shape
    h0 = agent.initial_state(B, obs.device)
    params = agent.policy_parameters()
    for epoch in range(epochs):
        perm = torch.randperm(B, generator=generator)
        loss_sum, acc_sum, ent_sum, batches = 0.0, 0.0, 0.0, 0
        for start in range(0, B, trials_per_minibatch):
            mb = perm[start:start + trials_per_minibatch]
            logits, _, _ = agent(obs[:, mb], h0[mb], None, need_value=False)
            loss = -(target[:, mb] * torch.log_softmax(logits, -1)).sum(-1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            average_gradients(agent)
            nn.utils.clip_grad_norm_(params, max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                hit = target[:, mb].gather(-1, logits.argmax(-1, keepdim=True)) > 0
                ent_sum += entropy(logits).mean().item()
            loss_sum, acc_sum, batches = loss_sum + loss.item(), acc_sum + hit.float().mean().item(), batches + 1
    stats = all_mean(torch.tensor([loss_sum, acc_sum, ent_sum], device=obs.device) / batches).tolist()
    nan = float("nan")  # update()'s diagnostics that have no meaning here (the CSV leaves them empty)
    return {"ce_loss": stats[0], "accuracy": stats[1], "entropy": stats[2], "kl": 0.0, "pg_loss": stats[0],
            "v_loss": 0.0, "clipfrac": nan, "explained_variance": nan, "backtracks": 0, "epoch_kept": 0}


# ---- run bookkeeping shared by the rl2_*.py scripts: processes, seeds, checkpoints ----
def init_distributed(device):
    """Under torchrun (WORLD_SIZE > 1) join the process group: gloo on CPU, nccl on GPU, one GPU per
    local rank. Returns (world size, rank, torch.device). A plain `python script.py` is world 1."""
    world, rank = int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0))
    if world > 1:
        if device.startswith("cuda"):
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count()}"
            torch.cuda.set_device(torch.device(device))
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return world, rank, torch.device(device)


def curriculum_shape(shape):
    """What an --init-from checkpoint must share with the run: everything but n, the trial length."""
    return {key: value for key, value in shape.items() if key != "n"}


def check_run_args(parser, a, experiment, shape):
    """Flags every rl2_*.py script shares: every float flag is finite, --seed >= 0, --eval-only
    needs an existing --checkpoint, --device is a usable device (auto picks cuda when present),
    --resume names a folder holding a checkpoint of this experiment and shape (e.g. {"k": 5, "n": 10}),
    --out can be created, --trials-per-task K (where the script has it) divides --trials-per-iter, --bench-scaling N >= 2, --minutes >= 0, --init-from (where the script has it: a
    curriculum over n) names a checkpoint of this experiment, the same shape apart from n and the same
    --policy, whose network size then becomes --hidden; in those scripts --eval-only's checkpoint may also
    differ in n (a policy learned on n-episode trials played for another number of episodes).
    Problems go to parser.error (one line, exit 2)."""
    for name, value in vars(a).items():
        if isinstance(value, float) and not math.isfinite(value):
            parser.error(f"--{name.replace('_', '-')} must be a finite number, not {value}")
    if a.seed < 0:
        parser.error("--seed must be non-negative")
    if getattr(a, "minutes", 0.0) < 0:
        parser.error("--minutes must be non-negative (0: no time limit)")
    if not 0 <= getattr(a, "anneal_lr", 0.0) <= 1:
        parser.error(f"--anneal-lr F decays over the last fraction F of the budget: F must lie in [0, 1] (0: off), not {a.anneal_lr}")
    per_task = getattr(a, "trials_per_task", 1)
    if per_task < 1:
        parser.error("--trials-per-task must be a positive integer (1: every trial on its own task)")
    if per_task > 1 and a.trials_per_iter % per_task:
        parser.error(f"--trials-per-iter {a.trials_per_iter} is not a multiple of --trials-per-task {per_task}")
    if per_task > 1 and getattr(a, "imitate", None):
        parser.error("--trials-per-task changes the TRPO baseline; --imitate has none")
    if a.bench_scaling is not None and a.bench_scaling < 2:
        parser.error("--bench-scaling N needs N >= 2 processes")
    if a.bench_scaling and (a.resume or a.eval_only):
        parser.error("--bench-scaling trains fresh runs: drop --resume and --eval-only")
    if a.eval_only and not a.checkpoint:
        parser.error("--eval-only needs --checkpoint PATH")
    if a.eval_only and not os.path.isfile(a.checkpoint):
        parser.error(f"--checkpoint {a.checkpoint}: no such file")
    if a.device == "auto":
        a.device = "cuda" if torch.cuda.is_available() else "cpu"
    if not re.fullmatch(r"cpu|cuda(:\d+)?", a.device):
        parser.error(f"--device must be cpu, cuda, cuda:N or auto, not {a.device!r}")
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda requested but no CUDA device is available")
    if a.device.startswith("cuda:") and int(a.device[5:]) >= torch.cuda.device_count():
        parser.error(f"--device {a.device}: only {torch.cuda.device_count()} CUDA device(s)")
    if a.resume and not os.path.isfile(os.path.join(a.resume, "checkpoint.pt")):
        parser.error(f"--resume {a.resume}: no checkpoint.pt there")
    # a checkpoint to resume or evaluate is checked now, before any slow set-up (exit 2 on a problem)
    if a.resume:
        load_checkpoint(os.path.join(a.resume, "checkpoint.pt"), experiment, shape)
    if a.eval_only:  # where a curriculum over n exists, a policy may also be played at another n
        load_checkpoint(a.checkpoint, experiment, curriculum_shape(shape) if hasattr(a, "init_from") else shape)
    if getattr(a, "init_from", None):
        if a.resume or a.eval_only:
            parser.error("--init-from starts a new run: drop --resume and --eval-only")
        init = load_checkpoint(a.init_from, experiment, curriculum_shape(shape))
        if init.get("policy", "gru") != (a.policy or "gru"):
            parser.error(f"--init-from {a.init_from} holds a --policy {init.get('policy', 'gru')} network")
        a.hidden = init["hidden"]
    if a.out:  # create it now: a bad path fails here, not after the training
        try:
            os.makedirs(a.out, exist_ok=True)
        except OSError as e:
            parser.error(f"--out {a.out}: cannot create a folder there ({e.strerror})")


def learning_rate(lr, steps, total, anneal=0.0):
    """Adam step size after `steps` of a `total`-step budget. anneal = 0: constant. anneal = F in (0, 1]:
    constant, then linear decay to 0 over the last fraction F of the budget (F = 1: the whole run, as
    CleanRL's anneal_lr; F < 1: warm-stable-decay). Late small steps average out the batch noise that
    keeps a constant step size bouncing around its plateau (measured: README, "cool-down")."""
    if anneal <= 0:
        return lr
    return lr * min(1.0, max(0.0, (total - steps) / (anneal * total)))


def start_iteration(optimizer, args, steps, seconds, interrupted, device):
    """Top of an outer-loop iteration: True to stop (an interrupt in any process, or the --minutes budget
    spent), else set this iteration's Adam step size (--anneal-lr over the steps, or over the clock when
    --minutes is set). Under torchrun every process decides on the same numbers: the interrupt flags are
    summed and the clock is rank 0's, so the parameters stay identical."""
    world = dist.get_world_size() if distributed() else 1
    rank0 = not distributed() or dist.get_rank() == 0
    flags = torch.tensor([float(bool(interrupted)), seconds if rank0 else 0.0], dtype=torch.float64, device=device)
    stop, clock = (all_mean(flags) * world).tolist()
    budget = args.minutes * 60
    if stop > 0 or (budget and clock >= budget):
        return True
    for group in optimizer.param_groups:  # --anneal-lr: smaller steps late average out the batch noise
        group["lr"] = (learning_rate(args.lr, clock, budget, args.anneal_lr) if budget else
                       learning_rate(args.lr, steps, args.total_timesteps, args.anneal_lr))
    return False


def seed_for(*keys):
    """A seed per (run seed, rank, iteration): each iteration's randomness is a function of its
    index alone, so a resumed run continues exactly as an uninterrupted one would, and each
    torchrun process collects different trials."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


def polyak(average, agent, decay):
    """One step of an exponential moving average of the weights (Polyak-Ruppert averaging; beyond the
    paper): average <- decay * average + (1 - decay) * weights, for every tensor of agent.state_dict().
    The average of the last ~1 / (1 - decay) iterates carries less of the last batches' noise than the
    last iterate alone; it is only evaluated, never trained (rl2_mdp.py --ema)."""
    with torch.no_grad():
        for name, w in agent.state_dict().items():
            average[name].mul_(decay).add_(w, alpha=1.0 - decay)


def save_checkpoint(path, state):
    """Write to a temporary file, then rename: an interrupt or crash mid-write leaves the previous
    checkpoint intact (os.replace is atomic on POSIX)."""
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def input_error(msg):
    """A bad input found after argument parsing (a checkpoint, a process count): one line on
    stderr and exit code 2, as argparse's errors."""
    print(f"{os.path.basename(sys.argv[0])}: error: {msg}", file=sys.stderr)
    sys.exit(2)


def checkpoint_phi(ckpt, wanted, path):
    """The input embedding (--phi) a checkpoint was trained with: "paper" for checkpoints from before the
    flag. An explicit --phi (wanted; None: take the checkpoint's) that contradicts it: one line, exit 2."""
    kind = ckpt.get("phi", "paper")
    if wanted is not None and wanted != kind:
        input_error(f"{path} was trained with --phi {kind}, not --phi {wanted}")
    return kind


def load_checkpoint(path, experiment, shape):
    """Load with weights_only=True (no pickled code runs) and check it belongs to this experiment
    and shape (e.g. {"k": 5, "n": 10}); any problem exits with a one-line message and code 2."""
    if not os.path.isfile(path):
        input_error(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, corrupted or not a torch file at all
        msg = (str(e).strip().splitlines() or [""])[0].split(". ")[0][:120]
        input_error(f"cannot read checkpoint {path} ({type(e).__name__}: {msg})")
    if not isinstance(ckpt, dict) or ckpt.get("experiment") != experiment:
        other = ckpt.get("experiment") if isinstance(ckpt, dict) else None
        input_error(f"{path} is not an RL² {experiment} checkpoint (it says experiment {other!r})")
    theirs = {key: ckpt.get(key) for key in shape}
    if theirs != shape:
        have = " ".join(f"--{k} {v}" for k, v in theirs.items())
        want = " ".join(f"--{k} {v}" for k, v in shape.items())
        input_error(f"{path} was trained with {have}, not {want}")
    return ckpt


def all_finite(info, agent):
    """True when the update's losses and every parameter are finite, in every process (a NaN
    reaches all of them through the averaged gradients; the vote keeps them stopping together)."""
    ok = all(math.isfinite(info.get(key, 0.0)) for key in ("kl", "pg_loss", "v_loss", "loss"))
    ok = ok and all(bool(torch.isfinite(p).all()) for p in agent.parameters())
    device = next(agent.parameters()).device
    return all_mean(torch.tensor(float(ok), device=device)).item() == 1.0


def stop_if_not_finite(info, agent, iteration, ckpt_path):
    """Stop the run (exit 1, one line naming the iteration) when an update left a non-finite loss
    or parameter; called before anything is saved, so the last good checkpoint stays."""
    if not all_finite(info, agent):
        sys.exit(f"error: non-finite loss or parameter at iteration {iteration}; not saved, the last good "
                 f"checkpoint stays: {ckpt_path if os.path.isfile(ckpt_path) else 'none written yet'}")


def check_identical(agent, log):
    """Under torchrun, at the end of training: every parameter must be bitwise equal in all processes
    (element-wise max and min over processes coincide). Rank 0 prints one line; a mismatch exits."""
    if not distributed():
        return
    flat = torch.cat([p.detach().reshape(-1).double() for p in agent.parameters()])
    hi, lo = flat.clone(), flat.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    same = torch.equal(hi, lo)
    if log:
        print(f"parameters identical across {dist.get_world_size()} processes: {'yes' if same else 'NO'}", flush=True)
    if not same:
        sys.exit(f"error: parameters differ across processes (max difference {(hi - lo).max().item():.3g})")


def close_distributed():
    """Under torchrun, leave the process group together: a barrier first, so that no process tears
    its connections down (and exits) while another still holds them. Without it, a worker that
    finished first was seen to abort on exit (SIGABRT, "terminate called without an active
    exception") in 2 of ~14 two-process runs on the loaded machine."""
    if distributed():
        dist.barrier()
        dist.destroy_process_group()


def worker_exit():
    """A process of rank > 0 is done once rank 0 has saved. It leaves with os._exit: at normal
    interpreter teardown gloo's background threads occasionally abort the process (SIGABRT,
    "terminate called without an active exception") after all the work is done, and torchrun then
    reports the whole run as failed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def bench_scaling(script, argv, nproc, extra=()):
    """Training steps/s of the same run with 1 process and then with nproc under torchrun, one after
    the other on this machine; each reads the training time from its progress.csv (the last row's
    steps / seconds: start-up and evaluation excluded). argv: the script's flags, minus --bench-scaling."""
    flags, skip = [], False
    for token in argv:
        if skip and token.isdigit():
            skip = False
            continue
        skip = token == "--bench-scaling"
        if not token.startswith("--bench-scaling"):
            flags.append(token)
    rates = {}
    for procs in (1, nproc):
        with tempfile.TemporaryDirectory() as out:
            launcher = [sys.executable] if procs == 1 else [
                sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs), "--"]
            cmd = launcher + [script, *flags, *extra, "--out", out]
            shown = ["python"] + cmd[1:] if procs == 1 else ["torchrun"] + cmd[3:]
            print("$ " + " ".join(shown).replace(out, "TMP").replace(script, os.path.basename(script)), flush=True)
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0 or not os.path.isfile(os.path.join(out, "progress.csv")):
                sys.exit(f"error: the {procs}-process run failed: {(p.stderr.strip().splitlines() or [''])[-1]}")
            with open(os.path.join(out, "progress.csv")) as f:
                last = list(csv.DictReader(f))[-1]
            rates[procs] = int(last["steps"]) / float(last["seconds"])
            print(f"  {procs} process(es): {int(last['steps'])} steps in {float(last['seconds']):.1f} s of training "
                  f"= {rates[procs]:.0f} steps/s ({time.perf_counter() - t0:.0f} s wall with start-up and eval)",
                  flush=True)
    print(f"scaling 1 -> {nproc} processes: {rates[nproc] / rates[1]:.2f}x "
          f"({rates[1]:.0f} -> {rates[nproc]:.0f} steps/s)")
    return rates


if __name__ == "__main__":
    torch.set_num_threads(1)
    torch.manual_seed(0)
    T, B = 6, 4
    r, v = torch.randn(T, B), torch.randn(T, B)
    end = torch.zeros(T, B)
    end[2, 0] = 1
    end[-1] = 1
    a, _ = gae(r, v, end, 0.99, 0.3)
    naive = torch.zeros(T, B)
    for b in range(B):
        for t in range(T):
            discount, s = 1.0, t
            while True:
                nv = 0.0 if end[s, b] else v[s + 1, b]
                naive[t, b] += discount * (r[s, b] + 0.99 * nv - v[s, b])
                if end[s, b]:
                    break
                discount *= 0.99 * 0.3
                s += 1
    print(f"GAE vs naive loop: max abs difference {(a - naive).abs().max().item():.1e}")
