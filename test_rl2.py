"""Tests for rl2: exact checks where they exist, statistics with standard-error tolerances,
short training runs that must beat random, and the scripts end to end in subprocesses.

    pytest -q test_rl2.py
"""
import contextlib
import importlib
import io
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest
import torch

import gru
import trpo

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)


def run_script(*argv, timeout=300):
    return subprocess.run([sys.executable, *argv], cwd=HERE, capture_output=True, text=True, timeout=timeout)


def bad_input(script, *argv):
    """A run that should stop on bad input, checked in this process when the script's parse_args stops it
    (what most bad inputs do, before any slow set-up) and in a subprocess otherwise: each subprocess costs
    ~2.5 s of imports. Returns what run_script would: returncode, stdout and stderr."""
    module = importlib.import_module(os.path.basename(script)[:-3])
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            module.parse_args(list(argv))
    except SystemExit as e:
        return types.SimpleNamespace(returncode=e.code, stdout="", stderr=err.getvalue())
    return run_script(script, *argv)


def one_line_error(proc):
    """Bad input: a non-zero exit and a single line on stderr, no traceback."""
    err = proc.stderr.strip().splitlines()
    return proc.returncode != 0 and "Traceback" not in proc.stderr and len(err) >= 1 and len(err[-1]) > 0


# ---- gru.py ----
def test_gru_matches_torch_float64():
    diffs = gru.check_against_torch(T=9, B=4, I=5, H=7, seed=1)
    assert max(diffs.values()) < 1e-10, diffs


def test_gru_matches_torch_float32_to_1e5():
    torch.manual_seed(0)
    ref = torch.nn.GRU(6, 32)
    ours = gru.GRU(6, 32, weight_norm=False)
    gru.copy_from_torch(ours, ref)
    x = torch.randn(20, 8, 6)
    h0 = torch.randn(8, 32)
    out1, h1 = ours(x, h0, fused=False)  # the hand-written loop (the default for T > 1 is PyTorch's kernel)
    out2, h2 = ref(x, h0.unsqueeze(0))
    assert (out1 - out2).abs().max() < 1e-5 and (h1 - h2[0]).abs().max() < 1e-5
    out1.square().sum().backward()
    out2.square().sum().backward()
    assert (ours.weight_hh.grad - ref.weight_hh_l0.grad).abs().max() < 1e-4
    assert (ours.weight_ih.grad - ref.weight_ih_l0.grad).abs().max() < 1e-4


def test_weight_norm_starts_at_the_plain_init_and_gets_gradients():
    torch.manual_seed(0)
    g = gru.GRU(3, 16, weight_norm=True)
    w_ih, w_hh = g.weights()
    assert torch.allclose(w_ih, g.weight_ih, atol=1e-6) and torch.allclose(w_hh, g.weight_hh, atol=1e-6)
    # orthogonal hidden-to-hidden blocks, zero biases (appendix A)
    block = g.weight_hh[:16]
    assert torch.allclose(block @ block.t(), torch.eye(16), atol=1e-5)
    assert g.bias_ih.abs().sum() == 0 and g.bias_hh.abs().sum() == 0
    out, _ = g(torch.randn(5, 2, 3), torch.zeros(2, 16))
    out.sum().backward()
    assert g.g_hh.grad is not None and g.g_hh.grad.abs().sum() > 0


def test_gru_sequence_equals_step_by_step_and_reset_zeroes_state():
    torch.manual_seed(0)
    g = gru.GRU(4, 8)
    x = torch.randn(6, 3, 4)
    h0 = torch.randn(3, 8)
    full, hT = g(x, h0)
    h, steps = h0, []
    for t in range(6):
        o, h = g(x[t:t + 1], h)
        steps.append(o[0])
    assert torch.allclose(full, torch.stack(steps), atol=1e-6) and torch.allclose(hT, h, atol=1e-6)
    reset = torch.zeros(6, 3)
    reset[3] = 1  # a new trial starts at t = 3: its outputs must not depend on t < 3
    with_reset, _ = g(x, h0, reset)
    fresh, _ = g(x[3:], torch.zeros(3, 8))
    assert torch.allclose(with_reset[3:], fresh, atol=1e-6)


def test_fused_gru_equals_the_loop_with_weight_norm_float64():
    """GRU.fused (PyTorch's own GRU kernel, the default for whole sequences) against the hand-written loop,
    weight norm on: outputs, last state and every gradient, with a zero reset tensor (as trpo.update passes);
    a reset inside the sequence must fall back to the loop. The default is the kernel for T > 1, the loop for
    single steps (rollouts)."""
    torch.manual_seed(0)
    g = gru.GRU(5, 7).double()
    with torch.no_grad():
        for p in (g.bias_ih, g.bias_hh, g.g_ih, g.g_hh):
            p.add_(torch.rand_like(p) - 0.5)
    x, h0 = torch.randn(9, 4, 5, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    w = torch.randn(9, 4, 7, dtype=torch.float64)
    results = []
    for fused in (False, True):
        g.zero_grad()
        xx, hh = x.clone().requires_grad_(), h0.clone().requires_grad_()
        out, h_T = g(xx, hh, torch.zeros(9, 4, dtype=torch.float64), fused=fused)
        ((out * w).sum() + h_T.square().sum()).backward()
        results.append([out.detach(), h_T.detach(), xx.grad, hh.grad] + [p.grad.clone() for p in g.parameters()])
    assert len(results[0]) == 4 + 6
    assert max((a - b).abs().max().item() for a, b in zip(*results)) < 1e-12
    reset = torch.zeros(9, 4, dtype=torch.float64)
    reset[4] = 1
    with torch.no_grad():
        assert torch.equal(g(x, h0, reset, fused=True)[0], g(x, h0, reset, fused=False)[0])
        assert not torch.allclose(g(x, h0, reset, fused=True)[0], g(x, h0, fused=True)[0])
    calls, kernel = [], g.fused
    g.fused = lambda *a: calls.append(len(a[0])) or kernel(*a)
    with torch.no_grad():
        g(x, h0), g(x, h0, torch.zeros(9, 4, dtype=torch.float64)), g(x, h0, reset), g(x[:1], h0)
    assert calls == [9, 9]


# ---- trpo.py ----
def naive_gae(r, v, end, gamma, lam):
    T, B = r.shape
    adv = np.zeros((T, B))
    for b in range(B):
        for t in range(T):
            s, w = t, 1.0
            while True:
                next_v = 0.0 if end[s, b] else v[s + 1, b]
                adv[t, b] += w * (r[s, b] + gamma * next_v - v[s, b])
                if end[s, b]:
                    break
                w *= gamma * lam
                s += 1
    return adv


def test_value_scale_leaves_fitted_advantages_unchanged():
    """rl2_bandit.value_rewards' claim: with rewards (r - c) / s and the value baseline shifted and scaled to
    match (V' = (V - c (1 - gamma^(n - t)) / (1 - gamma)) / s, what a baseline fitted to the new returns
    converges to), GAE gives exactly the old advantages / s, episode ends inside the trial or not."""
    import argparse
    import rl2_bandit
    torch.manual_seed(0)
    n, B, gamma, lam = 12, 7, 0.99, 0.3
    rewards, values = torch.rand(n, B, dtype=torch.float64).round(), torch.randn(n, B, dtype=torch.float64)
    trial_end = torch.zeros(n, B, dtype=torch.float64)
    trial_end[-1] = 1
    s = 7.0
    args = argparse.Namespace(value_scale=s)
    shifted = rl2_bandit.value_rewards(rewards, args)
    assert torch.allclose(shifted, (rewards - 0.5) / s)
    left = n - torch.arange(n, dtype=torch.float64).unsqueeze(1)  # steps from t to the trial's end
    values_new = (values - 0.5 * (1 - gamma ** left) / (1 - gamma)) / s
    adv, _ = trpo.gae(rewards, values, trial_end, gamma, lam)
    adv_new, _ = trpo.gae(shifted, values_new, trial_end, gamma, lam)
    assert torch.allclose(adv_new * s, adv, atol=1e-12)
    args.value_scale = 0.0
    assert rl2_bandit.value_rewards(rewards, args) is rewards


def test_gae_matches_naive_double_loop_and_ignores_episode_ends():
    rng = np.random.default_rng(0)
    T, B = 12, 5
    r, v = rng.normal(size=(T, B)), rng.normal(size=(T, B))
    end = np.zeros((T, B))
    end[-1] = 1
    end[4, 1] = end[7, 3] = 1  # two trials back to back in columns 1 and 3
    adv, ret = trpo.gae(torch.tensor(r), torch.tensor(v), torch.tensor(end), 0.99, 0.3)
    expected = naive_gae(r, v, end, 0.99, 0.3)
    assert np.abs(adv.numpy() - expected).max() < 1e-12
    assert np.abs(ret.numpy() - (expected + v)).max() < 1e-12
    # An episode end inside a trial must not cut the advantage: there is no such argument at all,
    # and a reward late in the trial reaches the first step.
    r2 = r.copy()
    r2[-1, 0] += 1.0
    adv2, _ = trpo.gae(torch.tensor(r2), torch.tensor(v), torch.tensor(end), 0.99, 0.3)
    assert adv2[0, 0] - adv[0, 0] == pytest.approx((0.99 * 0.3) ** (T - 1), rel=1e-9)


def test_task_baseline_matches_naive_leave_one_out_and_removes_what_a_task_shares():
    rng = np.random.default_rng(1)
    T, B, K = 6, 12, 3
    adv = torch.tensor(rng.normal(size=(T, B)))
    out = trpo.task_baseline(adv, K).numpy()
    a = adv.numpy()
    for t in range(T):
        for b in range(B):
            others = [a[t, j] for j in range(K * (b // K), K * (b // K) + K) if j != b]
            assert out[t, b] == pytest.approx(a[t, b] - sum(others) / len(others), abs=1e-12)
    # an offset shared by the trials of one task (a rich task, a lucky start) disappears; K = 1 changes nothing
    shared = np.repeat(rng.normal(size=(T, B // K)) * 100, K, axis=1)
    assert np.abs(trpo.task_baseline(adv + torch.tensor(shared), K).numpy() - out).max() < 1e-9
    assert torch.equal(trpo.task_baseline(adv, 1), adv)
    with pytest.raises(ValueError):
        trpo.task_baseline(adv, 5)


def test_task_baseline_keeps_the_policy_gradient_unbiased_and_cuts_its_variance():
    """A two-armed one-pull task whose rewards all carry the task's offset c ~ N(0, 10^2); arm 0 pays 1 more.
    With a uniform softmax policy the gradient of the expected reward wrt logit 0 is p0 (1 - p0) = 0.25.
    The score-function estimate stays unbiased (within 4 standard errors) with the leave-one-out baseline
    and its standard error falls by far more than half: the offset is what the trials of one task share."""
    rng = np.random.default_rng(0)
    tasks, K, p0 = 20000, 4, 0.5
    offset = np.repeat(rng.normal(0, 10, size=tasks), K)
    arm0 = rng.random(tasks * K) < p0
    reward = offset + arm0 + rng.normal(0, 1, size=tasks * K)
    score = arm0 - p0  # d log pi(a) / d logit_0
    plain = score * reward
    loo = score * trpo.task_baseline(torch.tensor(reward)[None], K)[0].numpy()
    for g in (plain, loo):
        # 5 SE: the leave-one-out terms of one task are slightly correlated (measured over 30 seeds: z-scores
        # with standard deviation 1.13, not 1); including the trial itself in the mean would be 23 SE off
        se = g.std(ddof=1) / math.sqrt(len(g))
        assert abs(g.mean() - 0.25) < 5 * se
    assert loo.std() < plain.std() / 5


@pytest.mark.parametrize("K", [1, 4])
def test_sampled_tasks_fill_k_neighbouring_columns(K):
    P, R = rl2_mdp.sample_mdps(8, np.random.default_rng(0), per_task=K)
    probs = rl2_bandit.sample_bandits(8, 3, torch.Generator().manual_seed(0), per_task=K)
    assert P.shape == (8, 10, 5, 10) and R.shape == (8, 10, 5) and probs.shape == (8, 3)
    for x in (P, R, probs):
        groups = x.reshape(8 // K, K, -1)
        assert torch.equal(groups, groups[:, :1].expand_as(groups))  # K copies of one task
        assert len({tuple(g[0].tolist()) for g in groups}) == 8 // K  # and different tasks between groups
    if K == 1:  # the paper's sampling is unchanged
        assert torch.equal(R, rl2_mdp.sample_mdps(8, np.random.default_rng(0))[1])


def test_trials_per_task_and_expected_rewards_run_end_to_end_and_bad_values_are_one_line_errors(tmp_path):
    for script, extra in (("rl2_mdp.py", ["--n", "2", "--total-timesteps", "160"]),
                          ("rl2_bandit.py", ["--k", "3", "--n", "4", "--total-timesteps", "64"])):
        common = [script, *extra, "--trials-per-iter", "8", "--hidden", "8", "--eval-instances", "10",
                  "--no-baselines"]
        p = run_script(*common, "--trials-per-task", "4", "--expected-rewards", "--out", str(tmp_path / script))
        assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
        saved = torch.load(tmp_path / script / "checkpoint.pt", weights_only=True)
        assert saved["args"]["trials_per_task"] == 4 and saved["args"]["expected_rewards"] is True
        # the flag reaches the update: the same first rollout (same seed, same trial reward), other weights after it
        runs = {}
        for flag in ([], ["--expected-rewards"]):
            out = tmp_path / f"{script}{len(flag)}"
            p = run_script(*common, *flag, "--out", str(out))
            assert p.returncode == 0, p.stderr
            runs[len(flag)] = ((out / "progress.csv").read_text().splitlines()[1].split(",")[4],
                               torch.load(out / "checkpoint.pt", weights_only=True)["agent"])
        assert runs[0][0] == runs[1][0]
        assert any(not torch.equal(runs[0][1][key], runs[1][1][key]) for key in runs[0][1])
        for bad in (["--trials-per-task", "3"], ["--trials-per-task", "0"]):
            p = bad_input(*common, *bad, "--out", str(tmp_path / "bad"))
            assert one_line_error(p) and p.returncode == 2 and "--trials-per-task" in p.stderr, (script, bad, p.stderr)
    for flag in (["--trials-per-task", "2"], ["--expected-rewards"]):
        p = bad_input("rl2_bandit.py", "--imitate", "gittins", *flag, "--out", str(tmp_path / "bad"))
        assert one_line_error(p) and "--imitate" in p.stderr


def test_expected_rewards_keep_the_gradient_unbiased_when_later_actions_read_the_noisy_reward():
    """--expected-rewards in a two-step task: arm 0 (mean 1) or arm 1 (mean 0) at step 1 (logit 0, p0 = 1/2),
    rewards N(mean, 1); at step 2 the agent stays on its arm if r1 > 0.5, else switches, so the noise of r1
    steers what follows. d/dlogit E[r1 + r2] = p0 (1 - p0) (E[G | arm 0] - E[G | arm 1]) = 0.25 * 1.
    The score-function estimate with r1 replaced by its mean (r2 kept) agrees within 5 SE, with less variance."""
    rng = np.random.default_rng(0)
    N, means = 400_000, np.array([1.0, 0.0])
    a1 = (rng.random(N) >= 0.5).astype(int)  # 0 with probability p0 = 1/2
    r1 = means[a1] + rng.normal(size=N)
    a2 = np.where(r1 > 0.5, a1, 1 - a1)
    r2 = means[a2] + rng.normal(size=N)
    score = (a1 == 0) - 0.5
    for g in (score * (r1 + r2), score * (means[a1] + r2)):
        assert abs(g.mean() - 0.25) < 5 * g.std(ddof=1) / math.sqrt(N)
    assert (score * (means[a1] + r2)).var() < 0.8 * (score * (r1 + r2)).var()


def test_rollouts_store_each_steps_expected_reward():
    torch.manual_seed(0)
    P, R = rl2_mdp.sample_mdps(64, np.random.default_rng(0))
    agent = gru.RecurrentAgent(rl2_mdp.n_inputs("paper"), rl2_mdp.N_ACTIONS, 8)
    rewards, batch = rl2_mdp.play(agent, P, R, 3, torch.Generator().manual_seed(1), store=True)
    cols = torch.arange(64).expand_as(batch["states"])
    assert torch.equal(batch["mean_rewards"], R[cols, batch["states"], batch["actions"]])
    noise = (rewards - batch["mean_rewards"]).flatten()  # what --expected-rewards takes out: N(0, 1) per step
    assert abs(noise.mean().item()) < 4 / math.sqrt(noise.numel()) and abs(noise.var().item() - 1) < 0.1
    probs = rl2_bandit.sample_bandits(500, 4, torch.Generator().manual_seed(0))
    agent = gru.RecurrentAgent(rl2_bandit.n_inputs(4, "paper"), 4, 8)
    rewards, batch = rl2_bandit.play(agent, probs, 20, torch.Generator().manual_seed(1), store=True)
    assert torch.equal(batch["mean_rewards"], probs[torch.arange(500), batch["actions"]])
    noise = rewards - batch["mean_rewards"]
    assert abs(noise.mean().item()) < 4 * noise.std().item() / math.sqrt(noise.numel())


def _toy_batch(seed=0, T=5, B=64, k=3, shared=False):
    """A recurrent agent on a bandit-like batch with advantages favouring action 0."""
    torch.manual_seed(seed)
    agent = gru.RecurrentAgent(k + 2, k, 16, shared=shared)
    obs = torch.randn(T, B, k + 2)
    with torch.no_grad():
        logits, values, _ = agent(obs, agent.initial_state(B))
    actions = torch.distributions.Categorical(logits=logits).sample()
    adv = (actions == 0).float() - 0.3 + 0.1 * torch.randn(T, B)
    return agent, {"obs": obs, "actions": actions, "logits": logits, "advantages": adv,
                   "returns": values + adv, "reset": torch.zeros(T, B), "h0": agent.initial_state(B)}


@pytest.mark.parametrize("lr", [1e-3, 0.3])  # 0.3: every epoch leaves the trust region -> backtracking
def test_trpo_update_respects_trust_region_and_improves_surrogate(lr):
    agent, batch = _toy_batch()
    opt = torch.optim.Adam(agent.parameters(), lr=lr)
    info = trpo.update(agent, opt, batch, policy_params=agent.policy_parameters(), max_kl=0.01,
                       trials_per_minibatch=16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, _, _ = agent(batch["obs"], batch["h0"])
    kl = trpo.categorical_kl(batch["logits"], logits).mean().item()
    assert kl <= 0.01 + 1e-6 and info["kl"] == pytest.approx(kl, abs=1e-6)
    assert info["surrogate"] >= info["surrogate_old"] - 1e-7
    if lr == 0.3:
        assert info["epoch_kept"] == 0 and info["backtracks"] >= 1
    else:
        assert info["surrogate"] > info["surrogate_old"]  # it did move, inside the region


@pytest.mark.parametrize("shared", [False, True])
def test_trpo_update_reports_the_parameters_it_keeps(shared):
    """kl, entropy and explained variance describe the iterate update() keeps, whichever it is: the last
    epoch's (its pass is reused, no new one), an earlier epoch's, or a backtracked point."""
    kept = set()
    for lr in (1e-3, 3e-3, 0.3):
        agent, batch = _toy_batch(seed=2, shared=shared)
        opt = torch.optim.Adam(agent.parameters(), lr=lr)
        info = trpo.update(agent, opt, batch, policy_params=agent.policy_parameters(), max_kl=0.01, epochs=4,
                           trials_per_minibatch=16, generator=torch.Generator().manual_seed(0))
        kept.add("last" if info["epoch_kept"] == 4 else "earlier" if info["epoch_kept"] else "backtracked")
        with torch.no_grad():
            logits, values, _ = agent(batch["obs"], batch["h0"])
        assert info["kl"] == pytest.approx(trpo.categorical_kl(batch["logits"], logits).mean().item(), abs=1e-6)
        assert info["entropy"] == pytest.approx(trpo.entropy(logits).mean().item(), abs=1e-6)
        assert info["explained_variance"] == pytest.approx(trpo.explained_variance(values, batch["returns"]), abs=1e-6)
    assert kept == {"last", "earlier", "backtracked"}


@pytest.mark.parametrize("shared", [False, True])
def test_trpo_kl_check_last_keeps_the_last_good_iterate_with_one_pass(shared):
    """kl_check="last" measures the last epoch's iterate first and walks back only while an iterate is outside
    the trust region or does not improve: the same parameters as the authors' rule ("each") when that keeps
    the last epoch or backtracks, else a later epoch inside the region; one whole-batch pass when the last
    epoch is kept. Its statistics describe the parameters it keeps."""
    seen = set()
    for lr in (1e-3, 3e-3, 0.3):
        result = {}
        for check in ("each", "last"):
            agent, batch = _toy_batch(seed=2, shared=shared)
            passes, forward = [], agent.forward
            agent.forward = lambda x, *a, **k: passes.append(x.shape[1] == 64 and not torch.is_grad_enabled()) or forward(x, *a, **k)
            opt = torch.optim.Adam(agent.parameters(), lr=lr)
            info = trpo.update(agent, opt, batch, policy_params=agent.policy_parameters(), max_kl=0.01, epochs=4,
                               trials_per_minibatch=16, generator=torch.Generator().manual_seed(0), kl_check=check)
            with torch.no_grad():
                logits, values, _ = forward(batch["obs"], batch["h0"])
            assert info["kl"] == pytest.approx(trpo.categorical_kl(batch["logits"], logits).mean().item(), abs=1e-6)
            assert info["entropy"] == pytest.approx(trpo.entropy(logits).mean().item(), abs=1e-6)
            assert info["explained_variance"] == pytest.approx(trpo.explained_variance(values, batch["returns"]), abs=1e-6)
            assert info["kl"] <= 0.01 and info["surrogate"] >= info["surrogate_old"]
            result[check] = info, trpo._flat(agent.parameters()), sum(passes)
        (each, theta_each, _), (last, theta_last, passes_last) = result["each"], result["last"]
        if each["epoch_kept"] in (0, 4):
            assert last["epoch_kept"] == each["epoch_kept"] and torch.equal(theta_last, theta_each)
            seen.add("backtracked" if each["epoch_kept"] == 0 else "last")
            if each["epoch_kept"] == 4:
                assert passes_last == 1 and result["each"][2] == 4
        else:  # the authors' rule kept an earlier epoch: "last" keeps that one or a later one inside the region
            assert last["epoch_kept"] >= each["epoch_kept"] and last["surrogate"] <= each["surrogate"] + 1e-9
            assert passes_last == 4 - last["epoch_kept"] + 1  # epochs 4, 3, ..., the kept one; no extra pass
            seen.add("earlier")
    assert seen == {"last", "earlier", "backtracked"}
    with pytest.raises(ValueError, match="kl_check"):
        trpo.update(agent, opt, batch, kl_check="best")


def test_learning_rate_schedule_and_its_use_in_training(tmp_path):
    """--anneal-lr F: constant, then linear to 0 over the last fraction F (F = 1: CleanRL's anneal_lr);
    the optimizer saved at the end of a run holds the step size of its last iteration."""
    lr, total = 0.01, 1000
    assert [trpo.learning_rate(lr, s, total) for s in (0, 500, 1000)] == [lr] * 3
    assert [trpo.learning_rate(lr, s, total, 1.0) for s in (0, 250, 1000)] == pytest.approx([lr, 0.75 * lr, 0.0])
    assert [trpo.learning_rate(lr, s, total, 0.3) for s in (0, 700, 850, 1000, 1200)] == pytest.approx(
        [lr, lr, 0.5 * lr, 0.0, 0.0])
    out = tmp_path / "cool"
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "4", "--trials-per-iter", "10", "--hidden", "16",
                   "--total-timesteps", "200", "--anneal-lr", "0.5", "--eval-instances", "20", "--no-baselines",
                   "--out", str(out))
    assert p.returncode == 0, p.stderr
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    last_start = saved["steps"] - 40  # 10 trials of 4 pulls per iteration
    expected = trpo.learning_rate(saved["args"]["lr"], last_start, 200, 0.5)
    assert saved["optimizer"]["param_groups"][0]["lr"] == pytest.approx(expected) and 0 < expected < saved["args"]["lr"]
    p = bad_input("rl2_mdp.py", "--anneal-lr", "1.5")
    assert one_line_error(p) and "--anneal-lr" in p.stderr


def test_polyak_average_is_the_exponentially_weighted_sum_of_the_iterates():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    average = {k: v.clone() for k, v in start.items()}
    iterates, decay = [], 0.7
    for _ in range(4):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        iterates.append({k: v.clone() for k, v in net.state_dict().items()})
        trpo.polyak(average, net, decay)
    for k in start:  # d^4 w0 + (1 - d) sum_t d^(4 - t) w_t
        closed = decay ** 4 * start[k] + sum((1 - decay) * decay ** (4 - t) * it[k] for t, it in enumerate(iterates, 1))
        torch.testing.assert_close(average[k], closed)


def test_trpo_value_regression_reduces_value_loss():
    agent, batch = _toy_batch(seed=1)
    opt = torch.optim.Adam(agent.parameters(), lr=3e-3)
    batch["returns"] = batch["returns"] + 2.0
    first = trpo.update(agent, opt, batch, policy_params=agent.policy_parameters(), epochs=1)
    for _ in range(5):
        last = trpo.update(agent, opt, batch, policy_params=agent.policy_parameters(), epochs=3)
    assert last["v_loss"] < 0.5 * first["v_loss"]


# ---- rl2_bandit.py ----
import rl2_bandit  # noqa: E402


def test_bandit_hidden_state_carried_within_trial_reset_between_trials():
    """The action distribution at step t depends on earlier steps of the same trial (the GRU
    state is carried across episodes), never on the previous trial (reset between trials)."""
    torch.manual_seed(0)
    k, n = 4, 6
    agent = gru.RecurrentAgent(k + 2, k, 32)
    gen = torch.Generator().manual_seed(0)
    probs = rl2_bandit.sample_bandits(8, k, gen)
    _, batch = rl2_bandit.play(agent, probs, n, gen, store=True)
    # the rollout's step-by-step logits equal one pass over the whole trial from a zero state
    logits, _, _ = agent(batch["obs"], agent.initial_state(8))
    assert torch.allclose(logits, batch["logits"], atol=1e-5)
    # changing the reward seen at step 1 changes the policy at step 4 of the same trial
    obs2 = batch["obs"].clone()
    obs2[1, :, k] = 1 - obs2[1, :, k]
    logits2, _, _ = agent(obs2, agent.initial_state(8))
    assert torch.allclose(logits2[:1], logits[:1]) and (logits2[4] - logits[4]).abs().max() > 1e-4
    # two trials back to back in one sequence with reset at the second's start: the second trial's
    # policy is exactly that of a fresh trial, whatever happened in the first
    seq = torch.cat([obs2, batch["obs"]])
    reset = torch.zeros(2 * n, 8)
    reset[n] = 1
    both, _, _ = agent(seq, agent.initial_state(8), reset)
    assert torch.allclose(both[n:], logits, atol=1e-5)
    # and play() indeed starts every trial from the zero state with the placeholder inputs
    assert torch.equal(batch["obs"][0], rl2_bandit.phi(torch.zeros(8, dtype=torch.long), torch.zeros(8),
                                                        torch.zeros(8), k))
    assert torch.all(batch["obs"][1:, :, k + 1] == 1)  # the done flag reaches the policy


def test_bandit_truncated_trial_end_bootstraps_from_pull_n_plus_one():
    """--trial-end truncate (bandit): play(bootstrap=True)'s last_value is exactly the value the agent gives pull
    n + 1 of the same trials played one pull longer (the same random draws until then), with and without the
    baseline's task inputs and for both phis; the flag refuses --critic-sees-time and --imitate."""
    k, n, B = 4, 7, 16
    probs = rl2_bandit.sample_bandits(B, k, torch.Generator().manual_seed(5))
    for pair, critic_task, shared in ((False, False, True), (True, True, False)):
        torch.manual_seed(1)
        agent = gru.make_agent("gru", rl2_bandit.n_inputs(k, "pair" if pair else "paper"), k, 16,
                               critic_extra=k if critic_task else 0, shared=shared)
        kw = dict(store=True, pair=pair, critic_task=critic_task)
        _, short = rl2_bandit.play(agent, probs, n, torch.Generator().manual_seed(6), bootstrap=True, **kw)
        _, longer = rl2_bandit.play(agent, probs, n + 1, torch.Generator().manual_seed(6), **kw)
        assert torch.equal(short["actions"], longer["actions"][:n])
        assert torch.allclose(short["last_value"], longer["values"][n], atol=1e-6)
        assert "last_value" not in rl2_bandit.play(agent, probs, n, torch.Generator().manual_seed(6), **kw)[1]
    for argv in (["--trial-end", "truncate", "--critic-sees-time"], ["--trial-end", "truncate", "--imitate", "gittins"]):
        r = bad_input("rl2_bandit.py", *argv)
        assert r.returncode != 0 and "--trial-end truncate" in r.stderr


@pytest.mark.parametrize("policy", ["gru", "mlp"])
def test_critic_only_inputs_never_reach_the_policy(policy):
    """--critic-sees-task: the arm means appended to phi change the baseline's values but leave the
    policy's logits exactly unchanged, so the learned algorithm cannot read the task; the rollout
    stores them for the update and drops them when no value is asked for (evaluation)."""
    torch.manual_seed(0)
    k, n, B = 4, 6, 8
    agent = gru.make_agent(policy, k + 2, k, 32, critic_extra=k)
    gen = torch.Generator().manual_seed(0)
    probs = rl2_bandit.sample_bandits(B, k, gen)
    _, batch = rl2_bandit.play(agent, probs, n, gen, store=True, critic_task=True)
    assert batch["obs"].shape == (n, B, 2 * k + 2) and torch.equal(batch["obs"][:, :, k + 2:],
                                                                     probs.expand(n, B, k))
    other = batch["obs"].clone()
    other[:, :, k + 2:] = torch.rand(n, B, k)
    h0 = agent.initial_state(B)
    logits, values, _ = agent(batch["obs"], h0)
    logits2, values2, _ = agent(other, h0)
    assert torch.equal(logits, logits2) and (values - values2).abs().max() > 1e-4
    assert torch.allclose(logits, batch["logits"], atol=1e-5)
    logits3, _, _ = agent(batch["obs"][:, :, :k + 2], h0, need_value=False)  # evaluation passes phi alone
    assert torch.equal(logits3, logits)
    with pytest.raises(ValueError):
        gru.RecurrentAgent(k + 2, k, 32, shared=True, critic_extra=k)
    # --critic-sees-time (after the task when both): t / n and the discount mass left, 1 - gamma^(n - t)
    feats = rl2_bandit.time_features(n, 0.9)
    assert torch.allclose(feats[0], torch.tensor([0.0, 1 - 0.9 ** n])) and torch.allclose(feats[-1], torch.tensor([(n - 1) / n, 0.1]))
    both = gru.make_agent(policy, k + 2, k, 32, critic_extra=k + 2)
    _, batch = rl2_bandit.play(both, probs, n, torch.Generator().manual_seed(0), store=True, critic_task=True,
                               critic_time=feats)
    assert torch.equal(batch["obs"][:, :, k + 2:2 * k + 2], probs.expand(n, B, k))
    assert torch.equal(batch["obs"][:, :, 2 * k + 2:], feats.unsqueeze(1).expand(n, B, 2))
    other = batch["obs"].clone()
    other[:, :, 2 * k + 2:] = 0
    logits, values, _ = both(batch["obs"], h0)
    logits2, values2, _ = both(other, h0)
    assert torch.equal(logits, logits2) and (values - values2).abs().max() > 1e-4


def test_load_widened_reproduces_the_plain_baseline():
    """--init-from a run without --critic-sees-task: the new input columns start at zero, so the
    baseline (and the policy) compute exactly what the loaded network computed."""
    torch.manual_seed(0)
    k, n, B = 3, 5, 6
    plain = gru.RecurrentAgent(k + 2, k, 16)
    for p in plain.parameters():  # away from the initialisation, biases included
        p.data.add_(0.1 * torch.randn_like(p))
    wide = gru.RecurrentAgent(k + 2, k, 16, critic_extra=k)
    gru.load_widened(wide, plain.state_dict())
    x = torch.randn(n, B, k + 2)
    x_wide = torch.cat([x, torch.rand(n, B, k)], -1)
    a = plain(x, plain.initial_state(B))
    b = wide(x_wide, wide.initial_state(B))
    assert torch.allclose(a[0], b[0], atol=1e-6) and torch.allclose(a[1], b[1], atol=1e-6)
    assert wide.v_gru.weight_ih.shape == (48, 2 * k + 2)


def test_bandit_environment_statistics():
    gen = torch.Generator().manual_seed(0)
    probs = rl2_bandit.sample_bandits(20000, 3, gen)
    se = math.sqrt(1 / 12 / probs.numel())
    assert abs(probs.mean().item() - 0.5) < 4 * se and probs.min() >= 0 and probs.max() <= 1

    class Always(torch.nn.Module):  # a fixed policy that pulls arm 2: reward ~ Bernoulli(p_2)
        def initial_state(self, B, device=None):
            return torch.zeros(B, 1)

        def forward(self, x, h, reset=None, need_value=True):
            logits = torch.full((1, x.shape[1], 3), -1e9)
            logits[..., 2] = 0
            return logits, (torch.zeros(1, x.shape[1]) if need_value else None), h

    rewards = rl2_bandit.play(Always(), probs, 5, gen)
    expected = 5 * probs[:, 2]
    diff = rewards.sum(0) - expected
    assert abs(diff.mean().item()) < 4 * diff.std().item() / math.sqrt(len(diff))


def test_short_bandit_training_beats_random():
    """~100k steps at (k=5, n=10) with a small GRU: must clearly beat random (5.0)."""
    torch.manual_seed(0)
    k, n, B = 5, 10, 250
    agent = gru.RecurrentAgent(k + 2, k, 64)
    opt = torch.optim.Adam(agent.parameters(), lr=3e-3, eps=1e-5)
    end = torch.zeros(n, B)
    end[-1] = 1
    for it in range(40):
        gen = torch.Generator().manual_seed(it)
        rewards, batch = rl2_bandit.play(agent, rl2_bandit.sample_bandits(B, k, gen), n, gen, store=True)
        adv, ret = trpo.gae(rewards, batch["values"], end, 0.99, 0.3)
        batch.update(advantages=adv, returns=ret, reset=torch.zeros(n, B), h0=agent.initial_state(B))
        trpo.update(agent, opt, batch, policy_params=agent.policy_parameters(), generator=gen)
    gen = torch.Generator().manual_seed(10_000)
    total = rl2_bandit.play(agent, rl2_bandit.sample_bandits(4000, k, gen), n, gen).sum(0)
    se = total.std().item() / math.sqrt(len(total))
    assert total.mean().item() > 5.0 + max(0.4, 5 * se), total.mean().item()


def test_bandit_pair_phi_sums_to_the_posterior_counts():
    """--phi pair: the one-hot of the previous (arm, reward) pair. Summed over the steps it has seen, its
    two k-blocks are exactly the per-arm success and failure counts (the Bayesian posterior Beta(s+1, f+1))
    that the Gittins policy acts on; at t = 0 it is all zeros; the played trials are the same as with
    the paper's phi (same rewards and counts from the same seeds when the actions are forced)."""
    k, n, B = 4, 12, 300
    probs = rl2_bandit.sample_bandits(B, k, torch.Generator().manual_seed(3)).numpy()
    hist = rl2_bandit.bandit_histories(probs, n, np.random.default_rng(5), pair=True)  # the Gittins policy
    obs = hist["obs"]
    assert obs.shape == (n, B, 2 * k + 1) == (n, B, rl2_bandit.n_inputs(k, "pair"))
    assert torch.all(obs[0] == 0)
    cum = obs.cumsum(0).numpy()
    assert np.array_equal(cum[:, :, :k], hist["successes"]) and np.array_equal(cum[:, :, k:2 * k], hist["failures"])
    assert np.array_equal(cum[:, :, -1], np.broadcast_to(np.arange(n), (B, n)).T)  # done flags: pulls so far
    # the paper's phi of the same history, rebuilt from the actions and rewards stored
    a, r = torch.as_tensor(hist["actions"][:-1]), torch.as_tensor(hist["rewards"][:-1])
    paper = rl2_bandit.phi(a, r, torch.ones_like(r), k)
    assert torch.equal(obs[1:, :, :k] + obs[1:, :, k:2 * k], paper[:, :, :k])  # the arm, whatever the reward
    assert torch.equal(obs[1:, :, :k].sum(-1), paper[:, :, k])  # the reward
    agent = gru.RecurrentAgent(2 * k + 1, k, 16)
    gen = torch.Generator().manual_seed(0)
    _, batch = rl2_bandit.play(agent, torch.as_tensor(probs), n, gen, store=True, pair=True)
    logits, _, _ = agent(batch["obs"], agent.initial_state(B))  # the rollout's inputs replay to its logits
    assert batch["obs"].shape == (n, B, 2 * k + 1) and torch.allclose(logits, batch["logits"], atol=1e-5)


def test_rl2_bandit_pair_phi_end_to_end(tmp_path):
    """--phi pair trains, is stored in the checkpoint and results.json, is adopted by --eval-only, and a
    contradicting --phi or a curriculum from a paper-phi checkpoint is a one-line error."""
    out = tmp_path / "pair"
    common = ["--k", "3", "--trials-per-iter", "10", "--hidden", "16", "--eval-instances", "20", "--no-baselines"]
    p = run_script("rl2_bandit.py", *common, "--n", "4", "--phi", "pair", "--total-timesteps", "200",
                   "--out", str(out))
    assert p.returncode == 0 and "phi pair" in p.stdout, p.stderr
    ckpt = out / "checkpoint.pt"
    saved = torch.load(ckpt, weights_only=True)
    assert saved["phi"] == "pair" and json.loads((out / "results.json").read_text())["phi"] == "pair"
    assert saved["agent"]["pi_gru.weight_ih"].shape[1] == 2 * 3 + 1
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "4", "--eval-only", "--checkpoint", str(ckpt),
                   "--eval-instances", "20", "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "7", "--eval-only", "--checkpoint", str(ckpt),
                   "--eval-instances", "20", "--no-baselines")  # the n = 4 policy played for 7 pulls
    assert p.returncode == 0 and "trained on n = 4 pull trials at n = 7" in p.stdout, p.stderr
    p = bad_input("rl2_bandit.py", "--k", "3", "--n", "4", "--eval-only", "--phi", "paper", "--checkpoint", str(ckpt))
    assert one_line_error(p) and "--phi pair" in p.stderr
    p = bad_input("rl2_bandit.py", *common, "--n", "8", "--init-from", str(ckpt), "--out", str(tmp_path / "x"))
    assert one_line_error(p) and "--phi" in p.stderr
    p = run_script("rl2_bandit.py", *common, "--n", "8", "--phi", "pair", "--init-from", str(ckpt),
                   "--total-timesteps", "80", "--out", str(tmp_path / "y"))  # the same phi: a curriculum over n
    assert p.returncode == 0 and "starting from the weights" in p.stdout, p.stderr
    # --shared: one GRU with a policy and a value head, recorded, adopted by --eval-only; no curriculum across kinds
    sh = tmp_path / "shared"
    p = run_script("rl2_bandit.py", *common, "--n", "4", "--phi", "pair", "--shared", "--total-timesteps", "80",
                   "--out", str(sh))
    assert p.returncode == 0, p.stderr
    saved = torch.load(sh / "checkpoint.pt", weights_only=True)
    assert saved["shared"] and not any(key.startswith("v_gru") for key in saved["agent"])
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "6", "--eval-only", "--checkpoint", str(sh / "checkpoint.pt"),
                   "--eval-instances", "20", "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = bad_input("rl2_bandit.py", *common, "--n", "8", "--phi", "pair", "--shared", "--init-from", str(ckpt),
                   "--out", str(tmp_path / "w"))
    assert one_line_error(p) and "drop --shared" in p.stderr
    # --minutes: the wall-clock budget stops the run (here after its first iteration) long before the steps do
    p = run_script("rl2_bandit.py", *common, "--n", "4", "--phi", "pair", "--minutes", "1e-9", "--anneal-lr",
                   "--total-timesteps", "1000000", "--out", str(tmp_path / "z"))
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "z" / "results.json").read_text())["steps"] == 40


def test_rl2_bandit_end_to_end_and_bad_inputs(tmp_path):
    out = tmp_path / "run"
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "4", "--total-timesteps", "800", "--trials-per-iter", "100",
                   "--hidden", "16", "--eval-instances", "60", "--out", str(out))
    assert p.returncode == 0, p.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["experiment"] == "bandit" and (res["k"], res["n"]) == (3, 4) and res["steps"] == 800
    assert {"RL2", "Random", "Gittins", "TS", "OTS", "UCB1", "eps-greedy", "Greedy"} <= set(res["rows"])
    assert all(set(v) == {"mean", "stderr"} for v in res["rows"].values())
    assert (out / "learning_curve.png").stat().st_size > 0 and (out / "checkpoint.pt").exists()
    lines = (out / "progress.csv").read_text().strip().splitlines()
    assert len(lines) == 1 + 2  # header + two iterations of 400 steps
    # eval-only of the checkpoint works, also at another n; a corrupted file is a one-line error
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "4", "--eval-only", "--checkpoint", str(out / "checkpoint.pt"),
                   "--eval-instances", "20", "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = bad_input("rl2_bandit.py", "--k", "4", "--n", "4", "--eval-only", "--checkpoint", str(out / "checkpoint.pt"))
    assert one_line_error(p) and "--k 3" in p.stderr
    bad = tmp_path / "bad.pt"
    bad.write_bytes((out / "checkpoint.pt").read_bytes()[:300])
    p = bad_input("rl2_bandit.py", "--k", "3", "--n", "4", "--eval-only", "--checkpoint", str(bad))
    assert one_line_error(p) and "cannot read checkpoint" in p.stderr
    for argv in (["--k", "1"], ["--n", "0"], ["--eval-instances", "1"], ["--lr", "-1"], ["--device", "tpu"],
                 ["--eval-only"], ["--resume", str(tmp_path / "nowhere")]):
        p = (run_script if argv[0] == "--k" else bad_input)("rl2_bandit.py", *argv)  # one through the real entry
        assert one_line_error(p) and p.returncode == 2, (argv, p.stderr)
    # curriculum over n: a k = 3 policy trained at n = 4 starts a run at n = 8 (same k only)
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "8", "--init-from", str(out / "checkpoint.pt"), "--hidden", "99",
                   "--total-timesteps", "800", "--trials-per-iter", "100", "--eval-instances", "20", "--no-baselines",
                   "--lr", "1e-12", "--out", str(tmp_path / "curriculum"))
    assert p.returncode == 0 and "starting from the weights" in p.stdout, p.stderr
    ckpt = torch.load(tmp_path / "curriculum" / "checkpoint.pt", weights_only=True)
    assert ckpt["n"] == 8 and ckpt["hidden"] == 16  # the network is the checkpoint's, whatever --hidden says
    source = torch.load(out / "checkpoint.pt", weights_only=True)["agent"]
    for name, w in ckpt["agent"].items():  # with a vanishing step size the weights are still the source's
        torch.testing.assert_close(w, source[name], rtol=0, atol=1e-6)
    p = bad_input("rl2_bandit.py", "--k", "4", "--n", "8", "--init-from", str(out / "checkpoint.pt"))
    assert one_line_error(p) and p.returncode == 2 and "--k 3" in p.stderr
    # --critic-sees-task from a plain checkpoint: the baseline gains input columns for p, the rest is the
    # source's; evaluation adopts the flag from the checkpoint; a plain run cannot start from it
    crit = tmp_path / "critic"
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "8", "--init-from", str(out / "checkpoint.pt"),
                   "--critic-sees-task", "--total-timesteps", "800", "--trials-per-iter", "100",
                   "--eval-instances", "20", "--no-baselines", "--lr", "1e-12", "--out", str(crit))
    assert p.returncode == 0, p.stderr
    ckpt = torch.load(crit / "checkpoint.pt", weights_only=True)
    assert ckpt["critic_sees_task"] and ckpt["agent"]["v_gru.weight_ih"].shape == (48, 3 + 2 + 3)
    torch.testing.assert_close(ckpt["agent"]["pi_gru.weight_ih"], source["pi_gru.weight_ih"], rtol=0, atol=1e-6)
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "8", "--eval-only", "--checkpoint", str(crit / "checkpoint.pt"),
                   "--eval-instances", "20", "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = bad_input("rl2_bandit.py", "--k", "3", "--n", "9", "--init-from", str(crit / "checkpoint.pt"))
    assert one_line_error(p) and "--critic-sees-task" in p.stderr
    p = bad_input("rl2_bandit.py", "--k", "3", "--n", "9", "--init-from", str(crit / "checkpoint.pt"),
                   "--critic-sees-task", "--critic-sees-time")  # extra inputs are appended only to a plain baseline
    assert one_line_error(p) and "--critic-sees-time" in p.stderr
    # --critic-sees-time from the plain checkpoint: two more baseline inputs, recorded and adopted
    tim = tmp_path / "time"
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "8", "--init-from", str(out / "checkpoint.pt"),
                   "--critic-sees-time", "--total-timesteps", "800", "--trials-per-iter", "100",
                   "--eval-instances", "20", "--no-baselines", "--out", str(tim))
    assert p.returncode == 0, p.stderr
    ckpt = torch.load(tim / "checkpoint.pt", weights_only=True)
    assert ckpt["critic_sees_time"] and not ckpt["critic_sees_task"]
    assert ckpt["agent"]["v_gru.weight_ih"].shape == (48, 3 + 2 + 2)
    assert json.loads((tim / "results.json").read_text())["critic_sees_time"]
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "8", "--resume", str(tim), "--total-timesteps", "1600",
                   "--eval-instances", "20", "--no-baselines")
    assert p.returncode == 0 and "resuming" in p.stdout, p.stderr


from pathlib import Path  # noqa: E402

import baselines  # noqa: E402
import rl2_maze as m  # noqa: E402
import rl2_mdp  # noqa: E402
from baselines import (  # noqa: E402
    MDP_METHODS, PAPER_TABLE2, mdp_backward_induction,
                                 mdp_cumulative, mdp_extended_value_iteration,
                                 mdp_new_stats, mdp_optimistic_transitions, mdp_pick_actions,
                                 mdp_posterior, mdp_run_episode, mdp_run_method,
                                 mdp_update_stats, oracle_mdp, run_mdp_baselines, sample_mdps)

HERE_PATH = Path(HERE)
S, A, T = rl2_mdp.N_STATES, rl2_mdp.N_ACTIONS, rl2_mdp.HORIZON


# ---- baselines.py: bandits ----
def _dense_indices(n, t):
    """Finite-horizon indices at time step t as a dense (s, f) array, NaN where s + f > t."""
    s, f = np.meshgrid(np.arange(t + 1), np.arange(t + 1), indexing="ij")
    ok = s + f <= t
    dense = np.full((t + 1, t + 1), np.nan)
    dense[ok] = baselines.gittins_index(n, t, s[ok], f[ok])
    return dense


def test_gittins_one_pull_left_is_posterior_mean():
    n = 30
    t = n - 1  # h = 1 pull left: the index is the expected reward of that pull
    s, f = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ok = s + f <= t
    got = baselines.gittins_index(n, t, s[ok], f[ok])
    np.testing.assert_allclose(got, (s[ok] + 1) / (s[ok] + f[ok] + 2), rtol=0, atol=1e-6)


def test_gittins_table_matches_bisection_on_every_state():
    n = 12
    errors = []
    for t in range(n):
        for d in range(t + 1):
            for s in range(d + 1):
                exact = baselines.gittins_index_exact(n - t, s, d - s, tol=1e-9)
                errors.append(float(baselines.gittins_index(n, t, s, d - s)) - exact)
    errors = np.abs(errors)
    assert errors.max() < 2e-3 and errors.mean() < 1e-4


def test_gittins_index_monotone_in_successes_and_failures():
    n = 40
    for t in range(1, n):
        dense = _dense_indices(n, t)
        more_successes = dense[1:, :] - dense[:-1, :]
        more_failures = dense[:, 1:] - dense[:, :-1]
        assert np.all(more_successes[~np.isnan(more_successes)] > 0)
        assert np.all(more_failures[~np.isnan(more_failures)] < 0)
    # More pulls left makes exploring worth more: the index of a fresh arm grows with the horizon.
    fresh = [float(baselines.gittins_index(n, t, 0, 0)) for t in range(n)]
    assert all(a > b for a, b in zip(fresh, fresh[1:]))


def test_discounted_gittins_index():
    n = 20
    low = baselines.gittins_discounted_table(0.01, n)  # almost myopic: the posterior mean
    d, s = np.tril_indices(n + 1)
    np.testing.assert_allclose(low[d, s], (s + 1) / (d + 2), atol=1e-3)
    high = baselines.gittins_discounted_table(0.9, n)
    assert np.all(high[d, s] > (s + 1) / (d + 2))  # exploration bonus
    assert np.all(np.diff(high[n, : n + 1]) > 0)  # more successes (same d): larger index


def _gittins_policy_value(k, n):
    """Exact expected total reward of the finite-horizon Gittins policy (uniform tie-breaking), by DP."""
    width, memo = n + 2, {}

    def value(state):
        if state in memo:
            return memo[state]
        s = np.array([c // width for c in state])
        f = np.array([c % width for c in state])
        t = int((s + f).sum())
        if t == n:
            return 0.0
        index = baselines.gittins_index(n, t, s, f)
        tied = np.flatnonzero(index == index.max())
        total = 0.0
        for i in tied:
            p = (s[i] + 1) / (s[i] + f[i] + 2)
            arms = list(state)
            arms[i] += width
            success = tuple(sorted(arms))
            arms[i] -= width - 1
            failure = tuple(sorted(arms))
            total += p * (1 + value(success)) + (1 - p) * value(failure)
        memo[state] = total / len(tied)
        return memo[state]

    return value(tuple([0] * k))


@pytest.mark.parametrize("k,n", [(2, 10), (5, 10), (2, 30)])
def test_gittins_policy_is_nearly_bayes_optimal(k, n):
    optimum = baselines.bayes_optimal_bandit(k, n)
    gittins = _gittins_policy_value(k, n)
    assert gittins <= optimum + 1e-9
    assert optimum - gittins < 3e-3  # reference card: within 0.003 of Bayes-optimal


@pytest.mark.parametrize("k,n,value", [(2, 10, 6.0218), (3, 10, 6.4096), (4, 10, 6.5816), (5, 10, 6.6600),
                                       (10, 10, 6.7140), (50, 10, 6.7140), (2, 30, 18.9199), (5, 20, 14.2873)])
def test_bayes_optimal_reference_values(k, n, value):
    assert abs(baselines.bayes_optimal_bandit(k, n) - value) < 1e-3


def test_bayes_optimal_small_cases_and_intractable():
    assert baselines.bayes_optimal_bandit(3, 1) == pytest.approx(0.5)  # one pull of a fresh arm
    # Two pulls, two arms: pull arm 1; keep it after a success (2/3), switch after a failure (1/2).
    assert baselines.bayes_optimal_bandit(2, 2) == pytest.approx(0.5 + 0.5 * 2 / 3 + 0.5 * 0.5)
    assert baselines.bayes_optimal_bandit(10, 100) is None


def test_oracle():
    assert baselines.oracle_bandit(5, 10) == pytest.approx(10 * 5 / 6)
    probs = np.random.default_rng(0).random((200_000, 5))
    assert abs(10 * probs.max(axis=1).mean() - baselines.oracle_bandit(5, 10)) < 0.01


@pytest.fixture(scope="module")
def cell_k5_n10():
    probs = baselines.bandit_instances(5, 2000, seed=1)
    return baselines.run_bandit_baselines(probs, 10, seed=1, tune=True, tune_instances=500)


def test_no_method_beats_bayes_optimal(cell_k5_n10):
    totals, _ = cell_k5_n10
    optimum = baselines.bayes_optimal_bandit(5, 10)
    assert set(totals) == set(baselines.BANDIT_METHODS)
    for method, x in totals.items():
        mean, se = baselines.mean_stderr(x)
        assert x.shape == (2000,)
        assert mean <= optimum + 3 * se, method


def test_gittins_and_random_means(cell_k5_n10):
    totals, hyperparameters = cell_k5_n10
    optimum = baselines.bayes_optimal_bandit(5, 10)
    mean, se = baselines.mean_stderr(totals["Gittins"])
    assert abs(mean - optimum) < 3 * se
    mean, se = baselines.mean_stderr(totals["Random"])
    assert abs(mean - 10 / 2) < 3 * se
    # Tuned values come from the grids.
    assert hyperparameters["UCB1"]["c"] in baselines.UCB1_GRID
    assert hyperparameters["eps-greedy"]["eps"] in baselines.EPS_GRID
    assert hyperparameters["OTS"] in baselines.ots_grid(10, 5)
    assert hyperparameters["Gittins"] in baselines.gittins_grid(10)


def test_run_bandit_baselines_is_reproducible_and_greedy_is_eps_zero():
    probs = baselines.bandit_instances(4, 300, seed=3)
    first, hp = baselines.run_bandit_baselines(probs, 15, seed=7, tune=False)
    second, _ = baselines.run_bandit_baselines(probs, 15, seed=7, tune=False)
    for method in baselines.BANDIT_METHODS:
        np.testing.assert_array_equal(first[method], second[method])
        assert np.all((first[method] >= 0) & (first[method] <= 15))
    assert hp == baselines.DEFAULT_HYPERPARAMETERS
    rewards = baselines.draw_reward_table(probs, 15, np.random.default_rng(0))
    greedy = baselines.simulate_bandit("Greedy", probs, 15, rewards, np.random.default_rng(1))
    eps0 = baselines.simulate_bandit("eps-greedy", probs, 15, rewards, np.random.default_rng(1), eps=0.0)
    np.testing.assert_array_equal(greedy, eps0)


def test_ucb1_with_huge_c_explores_like_round_robin():
    k, n, N = 5, 10, 2000
    probs = baselines.bandit_instances(k, N, seed=4)
    rng = np.random.default_rng(0)
    rewards = baselines.draw_reward_table(probs, n, rng)
    total = baselines.simulate_bandit("UCB1", probs, n, rewards, rng, c=1e6)
    mean, se = baselines.mean_stderr(total)
    assert abs(mean - n / 2) < 3 * se  # behaves like random: every pull is an average arm
    successes, failures = np.zeros((N, k), np.int64), np.zeros((N, k), np.int64)
    rows = np.arange(N)
    for t in range(n):
        actions = baselines.bandit_policy_step("UCB1", successes, failures, t, n, rng, c=1e6)
        r = rewards[successes[rows, actions] + failures[rows, actions], rows, actions]
        successes[rows, actions] += r
        failures[rows, actions] += ~r
    assert np.all(successes + failures == n // k)  # the bonus dominates: least-pulled arm first


def test_policy_step_actions_and_ties():
    rng = np.random.default_rng(0)
    zeros = np.zeros((20_000, 4), np.int64)
    for method, hp in [("Random", {}), ("Gittins", {"variant": "finite"}), ("TS", {}), ("Greedy", {}),
                       ("Gittins", {"variant": "discounted", "gamma": 0.9}), ("UCB1", {"c": 0.1}),
                       ("OTS", {"rule": "vote", "samples": 3}), ("OTS", {"rule": "max", "samples": 2}),
                       ("OTS", {"rule": "mean", "samples": 1}), ("eps-greedy", {"eps": 0.1})]:
        actions = baselines.bandit_policy_step(method, zeros, zeros, 0, 10, rng, **hp)
        counts = np.bincount(actions, minlength=4)
        # All arms identical: uniform choice. Binomial SE of a count is sqrt(N p (1-p)) ~ 61.
        assert np.all(np.abs(counts - 5000) < 5 * 61), (method, counts)
    successes = np.zeros((5, 3), np.int64)
    successes[:, 1] = 1  # arm 1 has one success at t = 1: greedy and Gittins pick it
    failures = np.zeros((5, 3), np.int64)
    for method in ("Greedy", "Gittins"):
        assert np.all(baselines.bandit_policy_step(method, successes, failures, 1, 10, rng) == 1)


def test_ucb1_formula_and_eps_greedy_exploration_rate():
    rng = np.random.default_rng(0)
    # Step t = 2 (third pull, so log 3): arm 0 has 2 successes (mean 3/4, T = 4), arm 1 is fresh (1/2, T = 2).
    # ucb_0 - ucb_1 = 1/4 - c sqrt(2 log 3) (1/sqrt(2) - 1/2) changes sign at c = 0.814.
    successes, failures = np.array([[2, 0]]), np.array([[0, 0]])
    assert baselines.bandit_policy_step("UCB1", successes, failures, 2, 10, rng, c=0.77)[0] == 0
    assert baselines.bandit_policy_step("UCB1", successes, failures, 2, 10, rng, c=0.86)[0] == 1
    # eps-greedy: explore uniformly with probability eps, else the best posterior mean.
    N, k, eps = 40_000, 4, 0.5
    successes, failures = np.zeros((N, k), np.int64), np.zeros((N, k), np.int64)
    successes[:, 2] = 1
    actions = baselines.bandit_policy_step("eps-greedy", successes, failures, 1, 10, rng, eps=eps)
    share = np.mean(actions == 2)
    expected = 1 - eps + eps / k
    assert abs(share - expected) < 5 * math.sqrt(expected * (1 - expected) / N)


def test_student_t_quantiles_and_cdf():
    assert baselines.student_t_ppf(0.95, 10) == pytest.approx(1.812, abs=1e-3)
    assert baselines.student_t_ppf(0.95, 999) == pytest.approx(1.6464, abs=1e-3)
    assert baselines.student_t_ppf(0.975, 2) == pytest.approx(4.303, abs=1e-3)
    assert baselines.student_t_ppf(0.95, 1) == pytest.approx(6.314, abs=1e-3)
    assert baselines.student_t_cdf(0.0, 7) == pytest.approx(0.5)
    assert baselines.student_t_cdf(-2.0, 7) == pytest.approx(1 - baselines.student_t_cdf(2.0, 7))
    # Large df: the normal distribution.
    assert baselines.student_t_cdf(1.0, 1e6) == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))), abs=1e-5)


def test_normalised_score_and_its_standard_error():
    """The score is (x - zero) / (one - zero) of the means exactly; its delta-method standard error
    matches the spread of the score over repeated draws of correlated instances (shared difficulty)."""
    x, zero, one = np.array([3.0, 5.0]), np.array([1.0, 1.0]), np.array([5.0, 7.0])
    assert baselines.normalised_score(x, zero, one)[0] == (4.0 - 1.0) / (6.0 - 1.0)
    rng = np.random.default_rng(0)
    N, R = 2000, 400
    scores, ses = [], []
    for _ in range(R):
        difficulty = rng.normal(0, 3, N)  # what the three methods share on one instance
        rows = [mean + difficulty * w + rng.normal(0, 2, N) for mean, w in ((8.0, 0.9), (5.0, 0.2), (9.0, 1.0))]
        score, se = baselines.normalised_score(*rows)
        scores.append(score)
        ses.append(se)
    spread = np.std(scores, ddof=1)
    # the spread's own relative standard error is ~1/sqrt(2R) = 3.5%: 15% is over four of them
    assert abs(np.mean(ses) / spread - 1) < 0.15, (np.mean(ses), spread)
    assert abs(np.mean(scores) - 0.75) < 4 * spread / np.sqrt(R)


def test_paired_significance():
    rng = np.random.default_rng(0)
    base = rng.normal(10, 3, size=1000)  # shared per-instance difficulty: pairing removes it
    rows = {
        "best": base + 0.5,
        "close": base + 0.5 - 0.01 + rng.normal(0, 0.3, 1000),  # 0.01 worse, paired SE ~0.01: not significant
        "worse": base + 0.5 - 0.1 + rng.normal(0, 0.3, 1000),  # 0.1 worse: t ~ 10
        "same": base + 0.5,
    }
    assert baselines.paired_significance(rows) == {"best", "close", "same"}
    # Without pairing the 0.1 gap would be lost in the noise (SE ~0.13): the test must use pairs.
    assert "worse" not in baselines.paired_significance({"best": rows["best"], "worse": rows["worse"]})


def test_format_table_row():
    rng = np.random.default_rng(0)
    rows = {m: rng.random(100) * 10 for m in baselines.BANDIT_METHODS}
    rows["RL2"] = rows["Gittins"] + 1.0
    text = baselines.format_table_row(10, 5, rows, {"UCB1": {"c": 0.1}})
    lines = text.splitlines()
    rl2 = next(line for line in lines if line.startswith("RL2"))
    assert "*" in rl2 and "6.7" in rl2  # best, and the paper's value
    assert "6.6600" in text and "8.3333" in text  # Bayes-optimal and oracle lines
    assert "c=0.1" in text


def _cli(*args, cwd=HERE):
    return subprocess.run([sys.executable, os.path.join(HERE, "baselines.py"), *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_cli_writes_json(tmp_path):
    out = tmp_path / "cell.json"
    result = _cli("bandit", "--k", "3", "--n", "10", "--instances", "50", "--seed", "2", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert (data["experiment"], data["k"], data["n"], data["seed"], data["instances"]) == ("bandit", 3, 10, 2, 50)
    assert set(data["rows"]) == set(baselines.BANDIT_METHODS)
    for row in data["rows"].values():
        assert 0 <= row["mean"] <= 10 and row["stderr"] > 0
    assert data["bayes_optimal"] == pytest.approx(6.4096, abs=1e-3)
    assert set(data["hyperparameters"]) == set(baselines.BANDIT_METHODS)
    assert "Bayes-opt." in result.stdout


def test_fixed_rows_are_the_same_simulation_on_the_same_reward_table():
    """--gittins-gamma rows: discounted Gittins at a fixed gamma, run like any other row (same instances, same
    reward table, its own policy stream), so its total is exactly a direct simulation with those settings;
    the tuned rows are unchanged by adding it."""
    probs = baselines.bandit_instances(3, 200, seed=5)
    hp = {"variant": "discounted", "gamma": 0.9}
    plain, _ = baselines.run_bandit_baselines(probs, 12, seed=1, tune=False)
    totals, hps = baselines.run_bandit_baselines(probs, 12, seed=1, tune=False, fixed=[("Gittins g=0.9", "Gittins", hp)])
    rewards = baselines.draw_reward_table(probs, 12, baselines._rng(1, 1))
    direct = baselines.simulate_bandit("Gittins", probs, 12, rewards,
                                       baselines._rng(1, 4, baselines._policy_stream("Gittins")), **hp)
    np.testing.assert_array_equal(totals["Gittins g=0.9"], direct)
    assert hps["Gittins g=0.9"] == hp
    for method in baselines.BANDIT_METHODS:
        np.testing.assert_array_equal(totals[method], plain[method])


@pytest.mark.parametrize("args", [["--k", "1"], ["--n", "0"], ["--instances", "1"], ["--k", "abc"],
                                  ["--json", "/nonexistent-dir/x.json"], ["--gittins-gamma", "1.0"],
                                  ["--gittins-gamma", "nan"]])
def test_cli_bad_arguments(args):
    result = _cli("bandit", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "error" in result.stderr
    assert "Traceback" not in result.stderr


# ---- baselines.py: tabular MDPs ----
def _policy_value(P, R, policy, start):
    """Exact expected return of a deterministic non-stationary policy[h][s] from `start`."""
    S = R.shape[0]
    d = np.zeros(S)
    d[start] = 1.0
    total = 0.0
    for h in range(len(policy)):
        a = policy[h]
        total += sum(d[s] * R[s, a[s]] for s in range(S))
        d = sum(d[s] * P[s, a[s]] for s in range(S))
    return total


def test_backward_induction_matches_enumeration_of_all_policies():
    S, A, T = 2, 2, 3
    P, R = sample_mdps(4, np.random.default_rng(1), n_states=S, n_actions=A)
    Q, V = mdp_backward_induction(P, R, T)
    all_policies = list(itertools.product(itertools.product(range(A), repeat=S), repeat=T))
    assert len(all_policies) == A ** (S * T)
    for i in range(4):
        for start in range(S):
            best = max(_policy_value(P[i], R[i], pol, start) for pol in all_policies)
            assert V[i, 0, start] == pytest.approx(best, abs=1e-12)
        # The greedy policy of Q attains V (Q is consistent, not just V).
        greedy = [tuple(Q[i, h].argmax(-1)) for h in range(T)]
        assert _policy_value(P[i], R[i], greedy, 0) == pytest.approx(V[i, 0, 0], abs=1e-12)
    assert np.all(V[:, T] == 0)


def test_posterior_matches_closed_forms_and_tabularl_sequential_update():
    num, S, A, T = 3, 4, 2, 6
    rng = np.random.default_rng(2)
    P, R_mean = sample_mdps(num, rng, n_states=S, n_actions=A)
    stats = mdp_new_stats(num, S, A)
    trajectories = []
    for _ in range(3):  # three episodes of a random policy
        traj = mdp_run_episode(mdp_cumulative(P), R_mean, np.zeros((num, T, S, A)), 0.0, rng)
        mdp_update_stats(stats, *traj)
        trajectories.append(traj)
    mu0, tau0, alpha0, tau = 0.3, 2.0, 0.5, 0.7
    mu, tau_post, alpha = mdp_posterior(stats, mu0, tau0, alpha0, tau)
    for i in range(num):
        # TabulaRL's update_obs, one observation at a time.
        m, t = np.full((S, A), mu0), np.full((S, A), tau0)
        counts = np.zeros((S, A, S))
        for s, a, r, s2 in trajectories:
            for h in range(T):
                si, ai = s[i, h], a[i, h]
                m[si, ai] = (m[si, ai] * t[si, ai] + r[i, h] * tau) / (t[si, ai] + tau)
                t[si, ai] += tau
                if h < T - 1:  # TabulaRL records no transition on the episode's last step
                    counts[si, ai, s2[i, h]] += 1
        np.testing.assert_allclose(mu[i], m, rtol=0, atol=1e-12)
        np.testing.assert_allclose(tau_post[i], t, rtol=0, atol=1e-12)
        np.testing.assert_allclose(alpha[i], alpha0 + counts, rtol=0, atol=0)
    # Closed form: precision tau0 + n tau, mean (tau0 mu0 + tau sum r) / precision.
    np.testing.assert_allclose(tau_post, tau0 + tau * stats["n_sa"])
    np.testing.assert_allclose(mu, (tau0 * mu0 + tau * stats["r_sum"]) / tau_post)
    assert stats["n_sa"].sum() == num * 3 * T
    assert stats["n_trans"].sum() == num * 3 * (T - 1)


def test_oracle_is_never_beaten_and_its_simulation_is_unbiased():
    n, N = 10, 300
    P, R_mean = sample_mdps(N, np.random.default_rng(3))
    oracle_sim, oracle_exact = oracle_mdp(P, R_mean, n, rng=np.random.default_rng(4))
    d = oracle_sim - oracle_exact
    assert abs(d.mean()) < 3 * d.std(ddof=1) / np.sqrt(N)
    totals, _ = run_mdp_baselines(P, R_mean, n, seed=5, tune=False)
    assert list(totals) == MDP_METHODS
    for method, x in totals.items():
        gap = oracle_exact - x  # paired by MDP
        assert gap.mean() > -3 * gap.std(ddof=1) / np.sqrt(N), method


def _tabularl_evi_loop(p, slack, v):
    """TabulaRL's compute_qVals_EVI inner step for one (s, a), on a copy of p."""
    order = np.argsort(v)
    p = p.copy()
    if p[order[-1]] + slack * 0.5 > 1:
        p = np.zeros(len(p))
        p[order[-1]] = 1
    else:
        p[order[-1]] += slack * 0.5
    i = 0
    while np.sum(p) > 1:
        worst = order[i]
        p[worst] = max(0, 1 - np.sum(p) + p[worst])
        i += 1
    return p


def test_ucrl2_optimistic_transitions():
    rng = np.random.default_rng(6)
    num, S, A = 30, 10, 5
    p_hat, _ = sample_mdps(num, rng)
    p_hat[0, 0, 0] = np.eye(S)[3]  # a degenerate empirical vector
    slack = rng.exponential(0.5, size=(num, S, A))
    v = rng.normal(size=(num, S))
    p_opt = mdp_optimistic_transitions(p_hat, slack, v)
    assert np.all(p_opt >= 0)
    np.testing.assert_allclose(p_opt.sum(-1), 1.0, atol=1e-12)
    assert np.all(np.abs(p_opt - p_hat).sum(-1) <= slack + 1e-12)
    best = v.argmax(-1)[:, None, None]
    p_best = np.take_along_axis(p_hat, best[..., None], -1)[..., 0]
    p_opt_best = np.take_along_axis(p_opt, best[..., None], -1)[..., 0]
    np.testing.assert_allclose(p_opt_best, np.minimum(1.0, p_best + slack / 2), atol=1e-12)
    for i, s, a in itertools.product(range(5), range(S), range(A)):
        np.testing.assert_allclose(p_opt[i, s, a], _tabularl_evi_loop(p_hat[i, s, a],
                                                                      slack[i, s, a], v[i]),
                                   atol=1e-12)
    # It maximises p . v over the L1 ball: no random feasible vector does better.
    value = (p_opt * v[:, None, None, :]).sum(-1)
    for _ in range(20):
        q = rng.dirichlet(np.ones(S), size=(num, S, A))
        dist = np.abs(q - p_hat).sum(-1)
        lam = np.minimum(1.0, slack / np.maximum(dist, 1e-300))[..., None]
        feasible = p_hat + lam * (q - p_hat)
        assert np.all((feasible * v[:, None, None, :]).sum(-1) <= value + 1e-12)


def test_mdp_myopic_matches_a_plain_loop_over_the_history():
    """baselines.mdp_myopic (running sums, all MDPs at once) against a plain loop that recomputes each
    posterior mean from the list of rewards seen so far, one MDP at a time, with the same random
    draws: the same totals. An optimistic prior tries every action of a state before repeating one."""
    num, n, T = 4, 5, 10  # every episode starts in state 0: at least 5 visits there
    P, R_mean = baselines.sample_mdps(num, np.random.default_rng(5), 10, 5)
    for mu0 in (1.0, 1e3):
        got = baselines.mdp_myopic(P, R_mean, n, T, mu0=mu0, rng=np.random.default_rng(9))
        rng = np.random.default_rng(9)
        seen = [{} for _ in range(num)]  # (s, a) -> rewards
        total, firsts = np.zeros(num), [[] for _ in range(num)]
        for _ in range(n):
            s = [0] * num
            for _ in range(T):
                mu = np.array([[(mu0 + sum(seen[i].get((s[i], b), []))) / (1 + len(seen[i].get((s[i], b), [])))
                                for b in range(5)] for i in range(num)])
                a = baselines.mdp_pick_actions(mu, 0.0, rng)
                r = R_mean[np.arange(num), s, a] + rng.standard_normal(num)
                u = rng.random(num)
                for i in range(num):
                    if s[i] == 0 and len(firsts[i]) < 5:
                        firsts[i].append(int(a[i]))
                    seen[i].setdefault((s[i], int(a[i])), []).append(r[i])
                    total[i] += r[i]
                    cum = np.cumsum(P[i, s[i], a[i]])
                    cum[-1] = 1.0
                    s[i] = int((cum < u[i]).sum())
        np.testing.assert_allclose(got, total, rtol=1e-12)
        if mu0 == 1e3:
            assert all(sorted(f) == list(range(5)) for f in firsts)  # 5 visits of state 0, 5 different actions


def test_extended_value_iteration_is_optimistic_and_reduces_to_backward_induction():
    P, R = sample_mdps(50, np.random.default_rng(7))
    Q0, V0 = mdp_backward_induction(P, R, 10)
    Qz, Vz = mdp_extended_value_iteration(P, R, np.zeros(R.shape), 10)
    np.testing.assert_allclose(Qz, Q0, atol=1e-12)
    Q1, V1 = mdp_extended_value_iteration(P, R, np.full(R.shape, 0.3), 10)
    assert np.all(V1 >= V0 - 1e-12)
    np.testing.assert_allclose(V1[:, 9], V0[:, 9])  # last step: no next state to be hopeful about
    assert np.all(V1[:, :9] > V0[:, :9])  # strictly before: next-state values differ


def test_extended_value_iteration_carries_optimism_like_tabularl():
    """The whole backward pass against a plain loop over (h, s, a) that keeps TabulaRL's in-place edit:
    each step's optimistic vector becomes the next step's starting point, except where the step put all
    mass on the best state (that branch builds a fresh vector). This carry-over is what lifts UCRL2 to the
    paper's column at n >= 50 (README, Table 2)."""
    rng = np.random.default_rng(11)
    num, S, A, T = 6, 10, 5, 10
    P, R = sample_mdps(num, rng)
    for scale in (0.05, 0.3, 1.5):  # mostly carried, mixed, mostly all-mass-on-best
        slack = rng.exponential(scale, size=(num, S, A))
        Q, V = mdp_extended_value_iteration(P, R, slack, T)
        for i in range(num):
            p_cur = P[i].copy()
            v_next = np.zeros(S)
            for h in range(T - 1, -1, -1):
                q = np.empty((S, A))
                for s, a in itertools.product(range(S), range(A)):
                    p_opt = _tabularl_evi_loop(p_cur[s, a], slack[i, s, a], v_next)
                    if p_cur[s, a, np.argsort(v_next)[-1]] + slack[i, s, a] * 0.5 <= 1:
                        p_cur[s, a] = p_opt  # TabulaRL edits P_hat[s, a] itself
                    q[s, a] = R[i, s, a] + p_opt @ v_next
                np.testing.assert_allclose(Q[i, h], q, atol=1e-10)
                v_next = q.max(1)
            np.testing.assert_allclose(V[i, 0], v_next, atol=1e-10)


def test_sample_mdps_statistics():
    N, S, A = 4000, 10, 5
    P, R_mean = sample_mdps(N, np.random.default_rng(8))
    assert P.shape == (N, S, A, S) and R_mean.shape == (N, S, A)
    assert np.all(P >= 0)
    np.testing.assert_allclose(P.sum(-1), 1.0, atol=1e-12)
    rows = P.reshape(-1, S)  # independent Dirichlet(1) rows
    se = rows.std(0, ddof=1) / np.sqrt(len(rows))
    assert np.all(np.abs(rows.mean(0) - 1 / S) < 4 * se)
    var_flat = (S - 1) / (S * S * (S + 1))  # Dirichlet(1,...,1) marginal variance
    dev2 = (rows - 1 / S) ** 2
    assert np.all(np.abs(dev2.mean(0) - var_flat) < 4 * dev2.std(0, ddof=1) / np.sqrt(len(rows)))
    r = R_mean.ravel()
    assert abs(r.mean() - 1.0) < 4 / np.sqrt(len(r))
    assert abs(r.var(ddof=1) - 1.0) < 4 * np.sqrt(2 / (len(r) - 1))


def test_random_policy_scores_10_per_episode():
    N, n = 2000, 2
    P, R_mean = sample_mdps(N, np.random.default_rng(9))
    per_episode = mdp_run_method(P, R_mean, n, 10, "Random", None, "tabularl",
                                 np.random.default_rng(10)) / n
    assert abs(per_episode.mean() - 10.0) < 3 * per_episode.std(ddof=1) / np.sqrt(N)


def test_pick_actions_breaks_ties_uniformly_and_explores():
    rng = np.random.default_rng(11)
    N, A = 20000, 5
    freq = np.bincount(mdp_pick_actions(np.ones((N, A)), 0.0, rng), minlength=A) / N
    assert np.all(np.abs(freq - 1 / A) < 4 * np.sqrt(0.2 * 0.8 / N))
    q = np.tile(np.arange(A, dtype=float), (N, 1))
    assert np.all(mdp_pick_actions(q, 0.0, rng) == A - 1)
    freq = np.bincount(mdp_pick_actions(q, 0.5, rng), minlength=A) / N
    expected = np.full(A, 0.5 / A)
    expected[-1] += 0.5
    assert np.all(np.abs(freq - expected) < 4 * np.sqrt(expected * (1 - expected) / N))


def test_paper_table_keys():
    assert sorted(PAPER_TABLE2) == [10, 25, 50, 75, 100]
    for row in PAPER_TABLE2.values():
        assert list(row) == MDP_METHODS + ["RL2"]


@pytest.mark.parametrize("argv", [["--n", "0"], ["--instances", "1"], ["--prior", "flat"]])
def test_mdp_cli_rejects_bad_arguments(argv):
    with pytest.raises(SystemExit) as e:
        baselines.main(["mdp"] + argv)
    assert e.value.code == 2


def test_mdp_cli_error_is_one_line_and_a_small_run_works(tmp_path):
    proc = subprocess.run([sys.executable, "baselines.py", "mdp", "--n", "0"],
                          capture_output=True, text=True, cwd=__file__.rsplit("/", 1)[0])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "error" in proc.stderr
    out = tmp_path / "row.json"
    baselines.main(["mdp", "--n", "2", "--instances", "20", "--no-tune", "--prior", "both", "--json", str(out)])
    rows = json.loads(out.read_text())
    assert [r["prior"] for r in rows] == ["tabularl", "true"]
    assert set(rows[0]["rows"]) == set(MDP_METHODS) | {"Oracle"}
    assert all(set(v) >= {"mean", "stderr"} for v in rows[0]["rows"].values())


# ---- rl2_mdp.py ----
torch.set_num_threads(1)



def usage_error(proc):
    """Bad input: exit code 2 and exactly one line on stderr, no traceback."""
    err = proc.stderr.strip().splitlines()
    return proc.returncode == 2 and "Traceback" not in proc.stderr and len(err) == 1 and len(err[0]) > 0


class Uniform(torch.nn.Module):
    """A memoryless uniform policy with the agent's interface: every (s, a) gets visited."""

    def initial_state(self, B, device=None):
        return torch.zeros(B, 1)

    def forward(self, x, h, reset=None, need_value=True):
        zeros = torch.zeros(x.shape[0], x.shape[1])
        return torch.zeros(x.shape[0], x.shape[1], A), (zeros if need_value else None), h


def test_mdp_environment_statistics():
    """Episodes start in state 0, done flags sit at episode ends, next states follow P and rewards
    are N(R_mean[s, a], 1), all within standard errors; the inputs are phi of the true history."""
    n, B = 3, 3000
    P1, R1 = rl2_mdp.sample_mdps(1, np.random.default_rng(0))
    P, R_mean = P1.expand(B, -1, -1, -1).contiguous(), R1.expand(B, -1, -1).contiguous()  # one MDP, B trials
    rewards, buf = rl2_mdp.play(Uniform(), P, R_mean, n, torch.Generator().manual_seed(0), store=True)
    s, a, d, obs = buf["states"], buf["actions"], buf["dones"], buf["obs"]
    L = n * T
    assert rewards.shape == (L, B) and obs.shape == (L, B, S + A + 2)
    t = torch.arange(L)
    assert torch.all(s[t % T == 0] == 0)  # every episode starts in state 0
    assert torch.equal(d, ((t + 1) % T == 0).float().unsqueeze(1).expand(L, B))  # done at each episode end
    # phi: one-hot state, one-hot previous action, previous reward, previous done; placeholders at t = 0
    assert torch.equal(obs[0], rl2_mdp.phi(torch.zeros(B, dtype=torch.long), torch.zeros(B, dtype=torch.long),
                                           torch.zeros(B), torch.zeros(B)))
    assert torch.equal(obs[1:], rl2_mdp.phi(s[1:], a[:-1], rewards[:-1], d[:-1]))
    # next-state frequencies within each episode (the step after an episode end is a reset)
    inside = ((t + 1) % T != 0)[:-1]
    s0, a0, s1 = s[:-1][inside].reshape(-1), a[:-1][inside].reshape(-1), s[1:][inside].reshape(-1)
    counts = torch.zeros(S * A, S).index_put_((s0 * A + a0, s1), torch.ones(len(s0)), accumulate=True)
    visits = counts.sum(1, keepdim=True)
    p = P1[0].reshape(S * A, S).double()
    freq = counts.double() / visits.clamp(min=1)
    se = (p * (1 - p) / visits.clamp(min=1)).sqrt()
    often = visits[:, 0] >= 200
    assert often.sum() >= 25  # enough (s, a) pairs are tested
    assert torch.all((freq - p).abs()[often] <= 5 * se[often] + 1e-9)
    # rewards: r - R_mean[s, a] ~ N(0, 1)
    z = (rewards - R1[0][s, a]).reshape(-1).double()
    N = len(z)
    assert abs(z.mean().item()) < 4 / math.sqrt(N)
    assert abs(z.var().item() - 1) < 4 * math.sqrt(2 / N)


def test_mdp_hidden_state_carried_across_episodes_reset_between_trials():
    """The policy in episode 2 depends on the rewards of episode 1 (the GRU state is carried across
    episodes), never on the previous trial (reset between trials)."""
    torch.manual_seed(0)
    n, B = 3, 8
    agent = gru.RecurrentAgent(S + A + 2, A, 32)
    P, R_mean = rl2_mdp.sample_mdps(B, np.random.default_rng(1))
    _, buf = rl2_mdp.play(agent, P, R_mean, n, torch.Generator().manual_seed(1), store=True)
    # the rollout's step-by-step logits equal one pass over the whole trial from a zero state:
    # no hidden-state reset at the episode boundaries t = 10, 20
    logits, _, _ = agent(buf["obs"], agent.initial_state(B))
    assert torch.allclose(logits, buf["logits"], atol=1e-5)
    # changing the reward observed at step 3 (episode 1) changes the policy at step 12 (episode 2)
    obs2 = buf["obs"].clone()
    obs2[4, :, S + A] += 1.0
    logits2, _, _ = agent(obs2, agent.initial_state(B))
    assert torch.equal(logits2[:4], logits[:4]) and (logits2[T + 2] - logits[T + 2]).abs().max() > 1e-5
    # two trials back to back with a reset at the second's start: the second is a fresh trial
    L = n * T
    reset = torch.zeros(2 * L, B)
    reset[L] = 1
    both, _, _ = agent(torch.cat([obs2, buf["obs"]]), agent.initial_state(B), reset)
    assert torch.allclose(both[L:], logits, atol=1e-5)


def test_short_mdp_training_beats_random():
    """~140k steps at n = 10 with a small GRU (about 30 s): RL² must use what it saw. Any policy that
    ignores the rewards earns exactly 1 per step in expectation (random = 100 per trial). A larger
    step size and clip than the script's defaults make the few iterations count (measured 105.9 ± 0.7
    after 24 iterations)."""
    torch.manual_seed(0)
    n, B = 10, 50
    agent = gru.RecurrentAgent(S + A + 2, A, 32)
    opt = torch.optim.Adam(agent.parameters(), lr=1e-2, eps=1e-5)
    end = torch.zeros(n * T, B)
    end[-1] = 1
    for it in range(28):
        gen = torch.Generator().manual_seed(it)
        P, R_mean = rl2_mdp.sample_mdps(B, np.random.default_rng(it))
        rewards, batch = rl2_mdp.play(agent, P, R_mean, n, gen, store=True)
        adv, ret = trpo.gae((rewards - rl2_mdp.REWARD_SHIFT) / rl2_mdp.REWARD_SCALE, batch["values"], end, 0.99, 0.3)
        batch.update(advantages=adv, returns=ret, reset=torch.zeros(n * T, B), h0=agent.initial_state(B))
        trpo.update(agent, opt, batch, policy_params=agent.policy_parameters(), clip=0.2, generator=gen)
    P, R_mean = rl2_mdp.sample_mdps(2000, np.random.default_rng(10_000))
    total = rl2_mdp.play(agent, P, R_mean, n, torch.Generator().manual_seed(10_000)).sum(0)
    se = total.std().item() / math.sqrt(len(total))
    assert total.mean().item() > 100.0 + 4 * se, (total.mean().item(), se)


def test_rl2_mdp_end_to_end_resume_and_bad_inputs(tmp_path):
    out = tmp_path / "run"
    common = ["--n", "2", "--trials-per-iter", "10", "--hidden", "16", "--out", str(out)]
    p = run_script("rl2_mdp.py", *common, "--total-timesteps", "400", "--eval-instances", "40", "--ema", "0.5", "0")
    assert p.returncode == 0, p.stderr
    # --ema: decay 0 is the last iterate itself; the 0.5 average is carried through the resume below
    before = torch.load(out / "checkpoint.pt", weights_only=True)
    assert set(before["ema"]) == {"0.5", "0.0"}
    for name, w in torch.load(out / "checkpoint_ema0.0.pt", weights_only=True)["agent"].items():
        assert torch.equal(w, before["agent"][name])
    res = json.loads((out / "results.json").read_text())
    assert res["experiment"] == "mdp" and res["n"] == 2 and res["steps"] == 400 and res["prior"] == "tabularl"
    assert set(res["rows"]) == {"RL2", *baselines.MDP_METHODS}
    assert all(set(v) == {"mean", "stderr"} for v in res["rows"].values())
    assert res["oracle"]["mean"] > max(v["mean"] for v in res["rows"].values()) - 5 * res["oracle"]["stderr"]
    assert res["paper"] == {} and "Oracle" in p.stdout and "exact expectation" in p.stdout
    assert (out / "learning_curve.png").stat().st_size > 0
    lines = (out / "progress.csv").read_text().strip().splitlines()
    assert len(lines) == 1 + 2  # header + two iterations of 10 trials x 20 steps
    # resume continues from the checkpoint: one more iteration, no duplicated CSV row
    p = run_script("rl2_mdp.py", "--n", "2", "--resume", str(out), "--total-timesteps", "600",
                   "--trials-per-iter", "10", "--eval-instances", "20", "--no-baselines")
    assert p.returncode == 0 and "resuming" in p.stdout, p.stderr
    iters = [int(r.split(",")[0]) for r in (out / "progress.csv").read_text().strip().splitlines()[1:]]
    assert iters == [1, 2, 3] and json.loads((out / "results.json").read_text())["steps"] == 600
    after = torch.load(out / "checkpoint.pt", weights_only=True)
    averaged = torch.load(out / "checkpoint_ema0.5.pt", weights_only=True)
    for name, w in after["agent"].items():  # one more step of the average: 0.5 * (average + new weights)
        torch.testing.assert_close(after["ema"]["0.5"][name], 0.5 * before["ema"]["0.5"][name] + 0.5 * w)
        assert torch.equal(averaged["agent"][name], after["ema"]["0.5"][name]) and not torch.equal(w, averaged["agent"][name])
    p = bad_input("rl2_mdp.py", "--n", "2", "--resume", str(out), "--total-timesteps", "800", "--ema", "0.9")
    assert one_line_error(p) and "--ema" in p.stderr
    # eval-only of the checkpoint works, also at another n; a corrupted file is a one-line error
    ckpt = str(out / "checkpoint.pt")
    p = run_script("rl2_mdp.py", "--n", "2", "--eval-only", "--checkpoint", ckpt, "--eval-instances", "20",
                   "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout and "Oracle" in p.stdout, p.stderr
    p = run_script("rl2_mdp.py", "--n", "3", "--eval-only", "--checkpoint", ckpt, "--eval-instances", "20",
                   "--no-baselines")  # the n = 2 policy played for 3 episodes
    assert p.returncode == 0 and "trained on n = 2 episode trials at n = 3" in p.stdout, p.stderr
    bad = tmp_path / "bad.pt"
    bad.write_bytes((out / "checkpoint.pt").read_bytes()[:300])
    p = run_script("rl2_mdp.py", "--n", "2", "--eval-only", "--checkpoint", str(bad))
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1 and "cannot read checkpoint" in p.stderr
    p = run_script("rl2_mdp.py", "--n", "0")  # once through the real entry point
    assert usage_error(p) and "--n" in p.stderr, (p.returncode, p.stderr)
    # curriculum over n: the n = 2 checkpoint starts a run at n = 3 with its own network
    p = run_script("rl2_mdp.py", "--n", "3", "--init-from", ckpt, "--hidden", "99", "--total-timesteps", "300",
                   "--trials-per-iter", "10", "--eval-instances", "20", "--no-baselines", "--lr", "1e-12",
                   "--out", str(tmp_path / "curriculum"))
    assert p.returncode == 0 and "starting from the weights" in p.stdout, p.stderr
    new = torch.load(tmp_path / "curriculum" / "checkpoint.pt", weights_only=True)
    assert new["n"] == 3 and new["hidden"] == 16  # the network is the checkpoint's, whatever --hidden says
    source = torch.load(ckpt, weights_only=True)["agent"]
    for name, w in new["agent"].items():  # with a vanishing step size the weights are still the source's
        torch.testing.assert_close(w, source[name], rtol=0, atol=1e-6)
    for argv in (["--init-from", str(bad)], ["--init-from", ckpt, "--resume", str(out)]):
        p = run_script("rl2_mdp.py", "--n", "3", *argv)
        assert usage_error(p), (argv, p.stderr)
    # --critic-sees-task from the plain checkpoint: the baseline gains 550 input columns for the MDP,
    # evaluation adopts the flag from the checkpoint, a plain run cannot start from it
    crit = tmp_path / "critic"
    p = run_script("rl2_mdp.py", "--n", "3", "--init-from", ckpt, "--critic-sees-task", "--total-timesteps", "300",
                   "--trials-per-iter", "10", "--eval-instances", "20", "--no-baselines", "--out", str(crit))
    assert p.returncode == 0, p.stderr
    new = torch.load(crit / "checkpoint.pt", weights_only=True)
    assert new["critic_sees_task"] and new["agent"]["v_gru.weight_ih"].shape == (48, S + A + 2 + S * A * (S + 1))
    p = run_script("rl2_mdp.py", "--n", "3", "--eval-only", "--checkpoint", str(crit / "checkpoint.pt"),
                   "--eval-instances", "20", "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = bad_input("rl2_mdp.py", "--n", "3", "--init-from", str(crit / "checkpoint.pt"))
    assert one_line_error(p) and "--critic-sees-task" in p.stderr


def test_mdp_critic_reads_the_mdp_and_the_policy_does_not():
    """--critic-sees-task in rl2_mdp.play: the stored inputs end with the MDP (centred R_mean, P); the
    policy's logits are exactly those computed from phi alone, the values depend on the MDP."""
    torch.manual_seed(0)
    n, B = 2, 6
    agent = gru.RecurrentAgent(S + A + 2, A, 32, critic_extra=S * A * (S + 1))
    P, R_mean = rl2_mdp.sample_mdps(B, np.random.default_rng(1))
    _, buf = rl2_mdp.play(agent, P, R_mean, n, torch.Generator().manual_seed(1), store=True)
    task = buf["obs"][:, :, S + A + 2:]
    assert torch.equal(task[:, :, :S * A], (R_mean.flatten(1) - 1).expand(n * T, B, S * A))
    assert torch.equal(task[:, :, S * A:], P.flatten(1).expand(n * T, B, S * A * S))
    logits, values, _ = agent(buf["obs"], agent.initial_state(B))
    plain, _, _ = agent(buf["obs"][:, :, :S + A + 2], agent.initial_state(B), need_value=False)
    assert torch.equal(logits, plain) and torch.allclose(logits, buf["logits"], atol=1e-5)
    other = buf["obs"].clone()
    other[:, :, S + A + 2:] = torch.roll(task, 1, dims=1)  # another trial's MDP
    assert (agent(other, agent.initial_state(B))[1] - values).abs().max() > 1e-4


def test_mdp_transition_phi_spells_out_the_previous_pair():
    """--phi transition: after the paper's 17 inputs, the one-hot of the previous (state, action) pair
    and the same one-hot times the previous reward, taken from the true history (the pair of step
    t - 1 is the state and action stored there, across episode ends too); zeros at a trial's first
    step; the first 17 columns are the paper's phi unchanged."""
    n, B = 3, 50
    P, R_mean = rl2_mdp.sample_mdps(B, np.random.default_rng(2))
    torch.manual_seed(0)
    agent = gru.RecurrentAgent(rl2_mdp.n_inputs("transition"), A, 16)
    rewards, buf = rl2_mdp.play(agent, P, R_mean, n, torch.Generator().manual_seed(2), store=True, transition=True)
    s, a, d, obs = buf["states"], buf["actions"], buf["dones"], buf["obs"]
    L, base = n * T, S + A + 2
    assert obs.shape == (L, B, base + 2 * S * A) == (L, B, rl2_mdp.n_inputs("transition"))
    assert torch.equal(obs[1:, :, :base], rl2_mdp.phi(s[1:], a[:-1], rewards[:-1], d[:-1]))
    assert torch.all(obs[0, :, base:] == 0)
    pair, pair_r = obs[1:, :, base:base + S * A], obs[1:, :, base + S * A:]
    expect = torch.zeros(L - 1, B, S * A)
    expect.scatter_(2, (s[:-1] * A + a[:-1]).unsqueeze(-1), 1.0)
    assert torch.equal(pair, expect)
    assert torch.equal(pair_r, expect * rewards[:-1].unsqueeze(-1))
    # the rollout's logits are those of one pass over the stored inputs (the same code path)
    logits, _, _ = agent(obs, agent.initial_state(B))
    assert torch.allclose(logits, buf["logits"], atol=1e-5)


def test_mdp_truncated_trial_end_bootstraps_from_the_next_episodes_first_value():
    """--trial-end truncate: play(bootstrap=True)'s last_value is exactly the value the agent gives the first
    step of episode n + 1 (the same trials played one episode longer, the same random draws until then), for
    the separate and the shared value network and both phis; and trpo.gae with that last_value and no trial end
    equals the n + 1-episode GAE cut after its first n * T steps' deltas (a naive loop here)."""
    n, B, gamma, lam = 2, 40, 0.9, 0.7
    P, R_mean = rl2_mdp.sample_mdps(B, np.random.default_rng(3))
    for kind, shared in (("paper", False), ("transition", True)):
        torch.manual_seed(0)
        agent = gru.RecurrentAgent(rl2_mdp.n_inputs(kind), A, 16, shared=shared)
        transition = kind == "transition"
        rewards, short = rl2_mdp.play(agent, P, R_mean, n, torch.Generator().manual_seed(4), store=True,
                                      transition=transition, bootstrap=True)
        _, longer = rl2_mdp.play(agent, P, R_mean, n + 1, torch.Generator().manual_seed(4), store=True,
                                 transition=transition)
        assert "last_value" not in rl2_mdp.play(agent, P, R_mean, n, torch.Generator().manual_seed(4),
                                                store=True, transition=transition)[1]
        L = n * T
        assert torch.equal(short["actions"], longer["actions"][:L])
        assert torch.allclose(short["last_value"], longer["values"][L], atol=1e-6)
        values = short["values"]
        adv, ret = trpo.gae(rewards, values, torch.zeros(L, B), gamma, lam, last_value=short["last_value"])
        nxt = torch.cat([values[1:], short["last_value"][None]])
        delta = rewards + gamma * nxt - values
        for t in (0, L // 2, L - 1):
            expect = sum((gamma * lam) ** (u - t) * delta[u] for u in range(t, L))
            assert torch.allclose(adv[t], expect, atol=1e-5)
        assert torch.allclose(ret[L - 1], rewards[L - 1] + gamma * short["last_value"], atol=1e-5)
    r = bad_input("rl2_mdp.py", "--trial-end", "truncate", "--imitate", "myopic")
    assert r.returncode != 0 and "--trial-end truncate" in r.stderr


def test_rl2_mdp_transition_phi_end_to_end(tmp_path):
    """--phi transition trains, is recorded in the checkpoint and results.json, is adopted by
    --eval-only, and a contradicting --phi or a curriculum from a paper-phi checkpoint is a one-line error."""
    out = tmp_path / "pair"
    common = ["--n", "2", "--trials-per-iter", "10", "--hidden", "16", "--eval-instances", "20", "--no-baselines"]
    p = run_script("rl2_mdp.py", *common, "--phi", "transition", "--total-timesteps", "200", "--out", str(out))
    assert p.returncode == 0 and "phi transition" in p.stdout, p.stderr
    ckpt = out / "checkpoint.pt"
    saved = torch.load(ckpt, weights_only=True)
    assert saved["phi"] == "transition" and json.loads((out / "results.json").read_text())["phi"] == "transition"
    assert saved["agent"]["pi_gru.weight_ih"].shape[1] == S + A + 2 + 2 * S * A
    p = run_script("rl2_mdp.py", "--n", "2", "--eval-only", "--checkpoint", str(ckpt), "--eval-instances", "20",
                   "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = bad_input("rl2_mdp.py", "--n", "2", "--eval-only", "--phi", "paper", "--checkpoint", str(ckpt))
    assert one_line_error(p) and "--phi transition" in p.stderr
    p = bad_input("rl2_mdp.py", "--n", "3", "--init-from", str(ckpt), "--out", str(tmp_path / "x"))
    assert one_line_error(p) and "--phi" in p.stderr
    # --minutes: the wall-clock budget stops the run after its first iteration, long before the steps do
    p = run_script("rl2_mdp.py", *common, "--phi", "transition", "--minutes", "1e-9", "--anneal-lr", "0.5",
                   "--total-timesteps", "1000000", "--out", str(tmp_path / "z"))
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "z" / "results.json").read_text())["steps"] == 200


def test_rl2_mdp_shared_value_head_end_to_end(tmp_path):
    """--shared (one GRU, policy and value heads) trains, is recorded in the checkpoint (no value GRU in
    it) and results.json, is adopted by --eval-only and --resume, and a curriculum across the two kinds
    or --shared with --critic-sees-task is a one-line error."""
    out = tmp_path / "shared"
    common = ["--n", "2", "--trials-per-iter", "10", "--hidden", "16", "--eval-instances", "20", "--no-baselines"]
    p = run_script("rl2_mdp.py", *common, "--shared", "--total-timesteps", "200", "--out", str(out))
    assert p.returncode == 0, p.stderr
    ckpt = out / "checkpoint.pt"
    saved = torch.load(ckpt, weights_only=True)
    assert saved["shared"] is True and json.loads((out / "results.json").read_text())["shared"] is True
    assert not any(key.startswith("v_gru") for key in saved["agent"]) and "v_head.weight" in saved["agent"]
    p = run_script("rl2_mdp.py", "--n", "2", "--eval-only", "--checkpoint", str(ckpt), "--eval-instances", "20",
                   "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = run_script("rl2_mdp.py", *common, "--resume", str(out), "--total-timesteps", "400")
    assert p.returncode == 0 and "resuming" in p.stdout, p.stderr
    assert torch.load(ckpt, weights_only=True)["steps"] == 400
    p = bad_input("rl2_mdp.py", "--n", "3", "--init-from", str(ckpt), "--out", str(tmp_path / "x"))
    assert one_line_error(p) and "--shared" in p.stderr
    p = bad_input("rl2_mdp.py", "--n", "2", "--shared", "--critic-sees-task", "--out", str(tmp_path / "y"))
    assert one_line_error(p) and "--critic-sees-task" in p.stderr
    p = run_script("rl2_mdp.py", *common, "--shared", "--init-from", str(ckpt), "--total-timesteps", "200",
                   "--out", str(tmp_path / "z"))
    assert p.returncode == 0 and "starting from the weights" in p.stdout, p.stderr


def test_state_head_reads_the_current_states_block():
    """head_states = S: the logits (and value) are the block of one wide linear layer that belongs to the
    one-hot state in the first S inputs, i.e. W[s] h + b[s] per step, for shared and separate baselines;
    the GRU part is the plain agent's."""
    torch.manual_seed(0)
    S, A, I, H, T, B = 4, 3, 9, 8, 5, 6
    for shared in (True, False):
        agent = gru.RecurrentAgent(I, A, H, shared=shared, head_states=S).double()
        assert agent.pi_head.weight.shape == (S * A, H) and agent.v_head.weight.shape == (S, H)
        s = torch.randint(S, (T, B))
        x = torch.cat([torch.nn.functional.one_hot(s, S).double(), torch.randn(T, B, I - S, dtype=torch.float64)], -1)
        logits, values, _ = agent(x, agent.initial_state(B).double())
        out, _ = agent.pi_gru(x, torch.zeros(B, H, dtype=torch.float64))
        out_v = out if shared else agent.v_gru(x, torch.zeros(B, H, dtype=torch.float64))[0]
        wide, wide_v = agent.pi_head(out).view(T, B, S, A), agent.v_head(out_v)
        for t in range(T):
            for b in range(B):
                assert torch.equal(logits[t, b], wide[t, b, s[t, b]])
                assert values[t, b] == wide_v[t, b, s[t, b]]
    with pytest.raises(ValueError):
        gru.make_agent("mlp", I, A, H, head_states=S)


def test_rl2_mdp_state_head_end_to_end(tmp_path):
    """--head state trains, is recorded in the checkpoint and results.json, is adopted by --eval-only and
    --resume; a contradicting --head, or a curriculum across the two heads, is a one-line error."""
    out = tmp_path / "state"
    common = ["--n", "2", "--trials-per-iter", "10", "--hidden", "16", "--eval-instances", "20", "--no-baselines"]
    p = run_script("rl2_mdp.py", *common, "--head", "state", "--shared", "--total-timesteps", "200", "--out", str(out))
    assert p.returncode == 0 and "head state" in p.stdout, p.stderr
    ckpt = out / "checkpoint.pt"
    saved = torch.load(ckpt, weights_only=True)
    assert saved["head"] == "state" and json.loads((out / "results.json").read_text())["head"] == "state"
    assert saved["agent"]["pi_head.weight"].shape == (rl2_mdp.N_STATES * rl2_mdp.N_ACTIONS, 16)
    p = run_script("rl2_mdp.py", "--n", "2", "--eval-only", "--checkpoint", str(ckpt), "--eval-instances", "20",
                   "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = run_script("rl2_mdp.py", *common, "--resume", str(out), "--total-timesteps", "400")
    assert p.returncode == 0 and "resuming" in p.stdout, p.stderr
    assert torch.load(ckpt, weights_only=True)["steps"] == 400
    p = bad_input("rl2_mdp.py", *common, "--resume", str(out), "--head", "linear", "--total-timesteps", "600")
    assert one_line_error(p) and "--head state" in p.stderr
    p = bad_input("rl2_mdp.py", "--n", "3", "--shared", "--init-from", str(ckpt), "--out", str(tmp_path / "x"))
    assert one_line_error(p) and "--head state" in p.stderr
    p = bad_input("rl2_mdp.py", "--n", "2", "--head", "state", "--policy", "mlp", "--out", str(tmp_path / "y"))
    assert one_line_error(p) and "--head state" in p.stderr


def test_mdp_aux_targets_are_the_true_mdps_action_values_per_step():
    """--aux q: at step t the target is Q_k / k - 1 for the k = T - (t mod T) steps left in the episode, for all
    50 pairs, equal to backward induction on the true MDP (baselines.mdp_backward_induction, float64);
    --aux reward: R_mean - 1 at every step."""
    P, R = rl2_mdp.sample_mdps(6, np.random.default_rng(1))
    P, R = P.double(), R.double()
    T = rl2_mdp.HORIZON
    target = rl2_mdp.aux_targets("q", P, R, 3)
    Q, _ = baselines.mdp_backward_induction(P.numpy(), R.numpy(), T)
    assert target.shape == (3 * T, 6, 50)
    for t in range(3 * T):
        np.testing.assert_allclose(target[t].numpy(), Q[:, t % T].reshape(6, 50) / (T - t % T) - 1, atol=1e-12)
    reward = rl2_mdp.aux_targets("reward", P, R, 3)
    assert reward.shape == (3 * T, 6, 50) and torch.equal(reward[7], R.flatten(1) - 1) and torch.equal(reward[0], reward[-1])
    both = rl2_mdp.aux_targets("reward+q", P, R, 3)  # sqrt(2) * [reward, q]: its MSE is the two MSEs summed
    assert both.shape == (3 * T, 6, 100) == (3 * T, 6, rl2_mdp.aux_width("reward+q"))
    torch.testing.assert_close(both, 2 ** 0.5 * torch.cat([reward, target], -1), rtol=0, atol=1e-12)
    guess = torch.randn(3 * T, 6, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close((2 ** 0.5 * guess - both).square().mean(),
                               (guess[..., :50] - reward).square().mean() + (guess[..., 50:] - target).square().mean())


def test_aux_head_never_moves_the_policy_and_trpo_update_fits_it():
    """gru.RecurrentAgent(aux_outputs=M): the policy's logits are the same with or without the head's output,
    the head is outside the trust region's parameters, and trpo.update with batch["aux_targets"] fits it
    (loss falls), while without aux targets the head gets no gradient."""
    torch.manual_seed(0)
    T, B, I, A, M = 6, 16, 7, 3, 4
    for shared in (True, False):
        agent = gru.RecurrentAgent(I, A, 12, shared=shared, aux_outputs=M)
        assert not any(p is agent.aux_head.weight for p in agent.policy_parameters())
        x, h0 = torch.randn(T, B, I), agent.initial_state(B)
        logits, values, h, aux = agent(x, h0, need_aux=True)
        plain = agent(x, h0)
        assert torch.equal(logits, plain[0]) and torch.equal(values, plain[1]) and aux.shape == (T, B, M)
        with torch.no_grad():
            old_logits = agent(x, h0)[0]
        batch = {"obs": x, "actions": torch.randint(A, (T, B)), "logits": old_logits, "advantages": torch.randn(T, B),
                 "returns": torch.randn(T, B), "reset": torch.zeros(T, B), "h0": h0}
        before = agent.aux_head.weight.detach().clone()
        opt = torch.optim.Adam(agent.parameters(), lr=1e-2)
        trpo.update(agent, opt, batch, agent.policy_parameters(), epochs=1, trials_per_minibatch=B)
        assert torch.equal(agent.aux_head.weight, before)  # no aux targets: no gradient reaches the head
        batch["aux_targets"] = torch.randn(1, B, M).expand(T, B, M)  # a fixed fact per trial
        losses = [trpo.update(agent, opt, batch, agent.policy_parameters(), epochs=2, trials_per_minibatch=B,
                              max_kl=10.0)["aux_loss"] for _ in range(30)]
        assert losses[-1] < 0.5 * losses[0], (shared, losses[0], losses[-1])


def test_mdp_aux_model_targets_hold_the_whole_mdp_with_both_parts_weighted_alike():
    """--aux model: the target decodes back to R_mean and P exactly, is the same at every step, and is scaled as
    aux_targets says: under the prior each reward entry has variance 1 + S and each P[s, a, :] block's S entries
    together also 1 + S (checked on 4000 MDPs within 4 standard errors); the head gets S*A*(1 + S) outputs."""
    S, A, T = rl2_mdp.N_STATES, rl2_mdp.N_ACTIONS, rl2_mdp.HORIZON
    P, R = rl2_mdp.sample_mdps(4000, np.random.default_rng(2))
    P, R = P.double(), R.double()
    target = rl2_mdp.aux_targets("model", P, R, 2)
    assert target.shape == (2 * T, 4000, S * A * (1 + S)) and torch.equal(target[0], target[-1])
    c = (1 + S) ** 0.5
    prior_sd = ((S - 1) / (S * S * (S + 1))) ** 0.5
    np.testing.assert_allclose((target[3, :, :S * A] / c + 1).numpy(), R.flatten(1).numpy(), atol=1e-12)
    decoded = (target[3, :, S * A:] / c * prior_sd * S ** 0.5 + 1 / S).reshape(4000, S, A, S)
    np.testing.assert_allclose(decoded.numpy(), P.numpy(), atol=1e-12)
    rewards = target[0, :, :S * A].numpy()
    block_var = (target[0, :, S * A:].reshape(4000, S * A, S) ** 2).sum(-1).numpy()  # prior mean of P is 1/S
    for x in (rewards ** 2, block_var):
        se = x.std() / np.sqrt(x.size / S)  # entries of one MDP are not independent: a cautious SE
        assert abs(x.mean() - (1 + S)) < 4 * se, (x.mean(), se)
    assert rl2_mdp.aux_width("model") == S * A * (1 + S) and rl2_mdp.aux_width("reward") == S * A
    # end to end (a run that trains the 550-output head): test_rl2_mdp_aux_end_to_end


def test_rl2_mdp_aux_end_to_end(tmp_path):
    """--aux trains, is recorded, is adopted by --eval-only and --resume; it reaches the update (same first
    rollout, other weights); a curriculum from a checkpoint without the head adds one (--aux model: the wide
    head); bad combinations are one-line errors."""
    common = ["rl2_mdp.py", "--n", "2", "--trials-per-iter", "10", "--hidden", "16", "--eval-instances", "20",
              "--no-baselines", "--total-timesteps", "200"]
    runs = {}
    for aux in ([], ["--aux", "q"]):
        out = tmp_path / f"aux{len(aux)}"
        p = run_script(*common, *aux, "--out", str(out))
        assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
        runs[len(aux)] = ((out / "progress.csv").read_text().splitlines()[1].split(",")[4],
                          torch.load(out / "checkpoint.pt", weights_only=True))
    assert runs[0][0] == runs[2][0]
    plain, aux = runs[0][1], runs[2][1]
    assert aux["aux"] == "q" and plain["aux"] is None and "aux_head.weight" in aux["agent"]
    assert not torch.equal(plain["agent"]["pi_head.weight"], aux["agent"]["pi_head.weight"])
    out, ckpt = tmp_path / "aux2", tmp_path / "aux2" / "checkpoint.pt"
    assert json.loads((out / "results.json").read_text())["aux"] == "q"
    assert float((out / "progress.csv").read_text().splitlines()[1].split(",")[-1]) > 0
    p = run_script("rl2_mdp.py", "--n", "2", "--eval-only", "--checkpoint", str(ckpt), "--eval-instances", "20",
                   "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = run_script(*common[:-1], "400", "--resume", str(out))
    assert p.returncode == 0 and "resuming" in p.stdout, p.stderr
    assert torch.load(ckpt, weights_only=True)["steps"] == 400
    p = bad_input(*common[:-1], "600", "--resume", str(out), "--aux", "reward")
    assert one_line_error(p) and "--aux" in p.stderr
    p = run_script(*common, "--aux", "model", "--init-from", str(tmp_path / "aux0" / "checkpoint.pt"),
                   "--out", str(tmp_path / "from_plain"))  # --aux model: the head has S*A*(1 + S) outputs
    assert p.returncode == 0 and "starting from" in p.stdout, p.stderr
    model = torch.load(tmp_path / "from_plain" / "checkpoint.pt", weights_only=True)
    assert model["aux"] == "model" and model["agent"]["aux_head.weight"].shape[0] == rl2_mdp.aux_width("model") == 550
    p = run_script(*common, "--init-from", str(ckpt), "--out", str(tmp_path / "drop_head"))  # the head is dropped
    assert p.returncode == 0, p.stderr
    p = bad_input(*common, "--aux", "reward", "--init-from", str(ckpt), "--out", str(tmp_path / "other_head"))
    assert one_line_error(p) and "--aux q" in p.stderr
    for bad in (["--aux", "q", "--imitate", "myopic"], ["--aux", "q", "--policy", "mlp"], ["--aux-coef", "0"],
                ["--aux", "value"]):
        p = bad_input(*common, *bad, "--out", str(tmp_path / "bad"))
        assert one_line_error(p) and p.returncode == 2 and "--aux" in p.stderr, (bad, p.stderr)


def test_mdp_value_phi_feeds_back_the_value_of_the_state_the_pair_led_to():
    """--phi value: the first 117 columns are --phi transition's; the last S*A are the previous pair's
    one-hot times V(h_{t-1}, s_t), the per-state value head's estimate for the state just entered, read
    from the recurrent state before the step (recomputed here from one pass over the stored inputs), and
    zero at a trial's first step and at every episode's first step; shared and separate baselines."""
    n, B = 3, 40
    P, R_mean = rl2_mdp.sample_mdps(B, np.random.default_rng(3))
    base = rl2_mdp.n_inputs("transition")
    for shared in (True, False):
        torch.manual_seed(1)
        agent = gru.RecurrentAgent(rl2_mdp.n_inputs("value"), A, 16, shared=shared, head_states=S)
        with torch.no_grad():  # a value head that varies with h and s, so the test can tell states apart
            agent.v_head.bias.normal_()
        rewards, buf = rl2_mdp.play(agent, P, R_mean, n, torch.Generator().manual_seed(2), store=True, value_phi=True)
        s, a, d, obs = buf["states"], buf["actions"], buf["dones"], buf["obs"]
        L = n * T
        assert obs.shape == (L, B, base + S * A)
        # the transition block is unchanged: the same rollout with transition=True draws the same actions
        # only if the policy ignores the new block, so compare with phi itself instead
        assert torch.equal(obs[1:, :, :base], rl2_mdp.phi(s[1:], a[:-1], rewards[:-1], d[:-1], prev_state=s[:-1]))
        with torch.no_grad():
            gru_ = agent.pi_gru if shared else agent.v_gru
            out, _ = gru_(obs, torch.zeros(B, 16))
            h_prev = torch.cat([torch.zeros(1, B, 16), out[:-1]])  # h_{t-1}, zero before the first step
            v = agent.v_head(h_prev)  # (L, B, S): the value of every state
        expect = torch.zeros(L, B, S * A)
        for t in range(1, L):
            for b in range(B):
                if d[t - 1, b] == 0:  # the pair's episode goes on in s_t
                    expect[t, b, s[t - 1, b] * A + a[t - 1, b]] = v[t, b, s[t, b]]
        assert torch.allclose(obs[:, :, base:], expect, atol=1e-6)
        assert torch.all(obs[0, :, base:] == 0) and torch.all(obs[T, :, base:] == 0)
        assert (obs[1:T, :, base:] != 0).sum() == (T - 1) * B  # one nonzero entry per step inside an episode
        logits, _, _ = agent(obs, agent.initial_state(B))  # the rollout's logits: one pass over the stored inputs
        assert torch.allclose(logits, buf["logits"], atol=1e-5)
    with pytest.raises(ValueError):
        gru.RecurrentAgent(rl2_mdp.n_inputs("value"), A, 16).state_values(torch.zeros(2, 32))


def test_rl2_mdp_value_phi_end_to_end(tmp_path):
    """--phi value trains with --head state, is recorded in the checkpoint, is adopted by --eval-only; without
    --head state it is a one-line error; a --phi transition checkpoint starts it (--init-from) with the new
    block's input columns at zero, so the loaded policy acts exactly as before; any other phi is refused."""
    common = ["--n", "2", "--trials-per-iter", "10", "--hidden", "16", "--eval-instances", "20", "--no-baselines",
              "--shared", "--head", "state", "--total-timesteps", "200"]
    p = run_script("rl2_mdp.py", *common, "--phi", "transition", "--out", str(tmp_path / "tr"))
    assert p.returncode == 0, p.stderr
    p = run_script("rl2_mdp.py", *common, "--phi", "value", "--init-from", str(tmp_path / "tr" / "checkpoint.pt"),
                   "--lr", "1e-12", "--out", str(tmp_path / "v"))
    assert p.returncode == 0 and "phi value" in p.stdout and "starting from the weights" in p.stdout, p.stderr
    ckpt = tmp_path / "v" / "checkpoint.pt"
    saved = torch.load(ckpt, weights_only=True)
    assert saved["phi"] == "value" and saved["agent"]["pi_gru.weight_ih"].shape[1] == rl2_mdp.n_inputs("value")
    old = torch.load(tmp_path / "tr" / "checkpoint.pt", weights_only=True)["agent"]["pi_gru.weight_ih"]
    assert torch.allclose(saved["agent"]["pi_gru.weight_ih"][:, :old.shape[1]], old, atol=1e-6)
    assert torch.all(saved["agent"]["pi_gru.weight_ih"][:, old.shape[1]:].abs() < 1e-6)
    p = run_script("rl2_mdp.py", "--n", "3", "--eval-only", "--checkpoint", str(ckpt), "--eval-instances", "20",
                   "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = bad_input("rl2_mdp.py", "--n", "2", "--phi", "value", "--out", str(tmp_path / "x"))
    assert one_line_error(p) and "--head state" in p.stderr
    p = bad_input("rl2_mdp.py", *common, "--phi", "transition", "--init-from", str(ckpt), "--out", str(tmp_path / "y"))
    assert one_line_error(p) and "--phi value" in p.stderr


def test_mdp_myopic_labels_follow_the_trial_history():
    """play(targets=True): at every step the label is uniform over the actions with the highest
    posterior-mean reward (prior N(1, 1), unit noise) in the current state, computed from the trial's
    own history up to that step; recomputed here with a plain loop over the stored buffer."""
    torch.manual_seed(0)
    agent = gru.make_agent("gru", rl2_mdp.n_inputs("transition"), A, 8, shared=True)
    P, R_mean = rl2_mdp.sample_mdps(6, np.random.default_rng(3))
    _, batch = rl2_mdp.play(agent, P, R_mean, 3, torch.Generator().manual_seed(1), store=True, transition=True,
                            targets=True)
    T, B = batch["actions"].shape
    assert batch["targets"].shape == (T, B, A)
    rewards = batch["obs"][1:, :, S + A].numpy()  # phi carries the previous reward: the reward of step t - 1
    for b in range(B):
        n_sa, r_sum = np.zeros((S, A)), np.zeros((S, A))
        for t in range(T):
            s, a = int(batch["states"][t, b]), int(batch["actions"][t, b])
            mu = (1.0 + r_sum[s]) / (1.0 + n_sa[s])
            best = np.isclose(mu, mu.max(), atol=1e-5)
            assert np.allclose(batch["targets"][t, b].numpy(), best / best.sum(), atol=1e-6), (b, t)
            if t < T - 1:
                n_sa[s, a] += 1
                r_sum[s, a] += rewards[t, b]
    # before anything is tried every action ties: the first label of every trial is uniform
    assert torch.allclose(batch["targets"][0], torch.full((B, A), 1.0 / A))


def test_mdp_imitation_step_fits_the_myopic_labels():
    """trpo.imitation_step minimises the cross-entropy to the labels: on one DAgger batch, fitted
    repeatedly, the part of it above the labels' own entropy (the KL to the labels) falls by half."""
    torch.manual_seed(0)
    agent = gru.make_agent("gru", rl2_mdp.n_inputs("transition"), A, 32, shared=True)
    opt = torch.optim.Adam(agent.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    P, R_mean = rl2_mdp.sample_mdps(64, np.random.default_rng(0))
    _, batch = rl2_mdp.play(agent, P, R_mean, 2, gen, store=True, transition=True, targets=True)
    tgt = batch["targets"]
    label_entropy = -(tgt * tgt.clamp(min=1e-12).log()).sum(-1).mean().item()
    excess = []
    for it in range(25):
        info = trpo.imitation_step(agent, opt, batch["obs"], tgt, 2, 32, gen)
        excess.append(info["ce_loss"] - label_entropy)
    assert excess[0] > 0.05 and excess[-1] < 0.5 * excess[0] and 0 <= info["accuracy"] <= 1


def test_rl2_mdp_imitate_end_to_end(tmp_path):
    """--imitate myopic trains by DAgger (row Imitation-DAgger, no TRPO columns in the CSV), is recorded
    in the checkpoint, resumes, starts TRPO through --init-from, and contradicting it on --resume is a
    one-line error."""
    out = tmp_path / "imit"
    common = ["--n", "2", "--trials-per-iter", "10", "--hidden", "16", "--phi", "transition", "--shared",
              "--eval-instances", "20", "--no-baselines"]
    p = run_script("rl2_mdp.py", *common, "--imitate", "myopic", "--total-timesteps", "200", "--out", str(out))
    assert p.returncode == 0 and "cross-entropy" in p.stdout and "Imitation-DAgger" in p.stdout, p.stderr
    ckpt = out / "checkpoint.pt"
    assert torch.load(ckpt, weights_only=True)["imitate"] == "myopic"
    res = json.loads((out / "results.json").read_text())
    assert res["imitate"] == "myopic" and "Imitation-DAgger" in res["rows"]
    row = (out / "progress.csv").read_text().splitlines()[1].split(",")
    assert row[6] == "" and float(row[7]) > 0  # kl empty, entropy logged
    p = run_script("rl2_mdp.py", *common, "--resume", str(out), "--total-timesteps", "400")
    assert p.returncode == 0 and "resuming" in p.stdout and "cross-entropy" in p.stdout, p.stderr
    p = run_script("rl2_mdp.py", *common, "--init-from", str(ckpt), "--total-timesteps", "200",
                   "--out", str(tmp_path / "rl"))
    assert p.returncode == 0 and "starting from the weights" in p.stdout and "KL" in p.stdout, p.stderr
    p = bad_input("rl2_mdp.py", "--n", "2", "--resume", str(tmp_path / "rl"), "--imitate", "myopic")
    assert one_line_error(p) and "TRPO" in p.stderr
    p = bad_input("rl2_mdp.py", "--n", "2", "--imitate", "myopic", "--critic-sees-task", "--out", str(tmp_path / "y"))
    assert one_line_error(p) and "--critic-sees-task" in p.stderr


def test_rl2_mdp_bad_arguments_are_one_line_errors(capsys, tmp_path):
    for argv in (["--n", "0"], ["--n", "-3"], ["--eval-instances", "1"], ["--lr", "-1"], ["--gamma", "2"],
                 ["--total-timesteps", "0"], ["--prior", "flat"], ["--device", "tpu"], ["--eval-only"],
                 ["--resume", str(tmp_path / "nowhere")], ["--n", "ten"], ["--seed", "-1"], ["--hidden", "0"],
                 ["--vf-coef", "-1"], ["--ema", "1"], ["--ema", "-0.1"]):
        with pytest.raises(SystemExit) as e:
            rl2_mdp.parse_args(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and len(err) == 1 and "error" in err[0], (argv, err)


# ---- rl2_maze.py ----
torch.set_num_threads(1)

def open_room(N=7, goal_block=None):
    """(1, N, N) grid: solid border, empty inside, optionally one goal block (row, col)."""
    grid = np.full((1, N, N), m.WALL, np.uint8)
    grid[:, 1:-1, 1:-1] = m.FREE
    if goal_block is not None:
        grid[0, goal_block[0], goal_block[1]] = m.GOAL
    return grid


def flood(free, seed_mask):
    """Blocks reachable from seed_mask through free blocks (4-neighbour), batched."""
    reach = seed_mask.copy()
    for _ in range(free.shape[1] * free.shape[2]):
        p = np.pad(reach, ((0, 0), (1, 1), (1, 1)))
        new = reach | (free & (p[:, :-2, 1:-1] | p[:, 2:, 1:-1] | p[:, 1:-1, :-2] | p[:, 1:-1, 2:]))
        if np.array_equal(new, reach):
            break
        reach = new
    return reach


@pytest.mark.parametrize("size", [3, 5])
def test_mazes_are_perfect_with_reachable_goal(size):
    cfg = m.make_maze_configs(1000, size, seed=0)
    walls, N = cfg["walls"], 2 * size + 1
    assert walls.shape == (1000, N, N) and walls.dtype == bool
    assert walls[:, 0].all() and walls[:, -1].all() and walls[:, :, 0].all() and walls[:, :, -1].all()
    assert not walls[:, 1::2, 1::2].any()  # every cell is free
    assert walls[:, ::2, ::2].all()  # block corners between cells are always walls
    # Passages (free blocks between two cells) = cells - 1, and all cells connected -> a tree.
    passages = (~walls).sum((1, 2)) - size * size
    assert (passages == size * size - 1).all()
    b = np.arange(1000)
    s_blk = 2 * cfg["start"] + 1
    seed = np.zeros_like(walls)
    seed[b, s_blk[:, 0], s_blk[:, 1]] = True
    assert flood(~walls, seed)[:, 1::2, 1::2].all()
    # The goal block is solid, but it is still reachable from the start around it.
    g_blk = 2 * cfg["goal"] + 1
    free_but_goal = ~walls
    free_but_goal[b, g_blk[:, 0], g_blk[:, 1]] = False
    reach = flood(free_but_goal, seed)
    nbrs = [reach[b, g_blk[:, 0] + dr, g_blk[:, 1] + dc] for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    assert np.logical_or.reduce(nbrs).all()
    assert (np.abs(cfg["start"] - cfg["goal"]).sum(1) >= 2).all()
    assert np.isin(cfg["heading"], [0, 8, 16, 24]).all()
    # The red block sits in the goal cell of the env's grid.
    grid = m.config_grids(cfg)
    assert (grid[b, g_blk[:, 0], g_blk[:, 1]] == m.GOAL).all() and (grid == m.GOAL).sum() == 1000


def _keys(cfg):
    return {w.tobytes() + s.tobytes() + g.tobytes() for w, s, g in zip(cfg["walls"], cfg["start"], cfg["goal"])}


@pytest.mark.parametrize("size", [3, 5])
def test_train_test_configs_deterministic_distinct_disjoint(size):
    train, test = m.make_train_test_configs(size)
    again, _ = m.make_train_test_configs(size)
    for k in train:
        assert np.array_equal(train[k], again[k])
    assert len(_keys(train)) == 1000 and len(_keys(test)) == 1000
    assert not _keys(train) & _keys(test)


def test_wall_span_is_perspective_correct():
    # Facing the flat east border wall from 4.5 blocks away: every column that sees it shows
    # a span of exactly FOCAL / 4.5 pixels (perpendicular distance, no fish-eye), centred.
    grid = open_room()
    pos, heading = np.array([[1.5, 3.5]]), np.array([0])
    img = m.render(grid, pos, heading)
    assert img.shape == (1, 3, m.HEIGHT, m.WIDTH) and img.dtype == np.float32
    assert img.min() >= -1 and img.max() <= 1
    bg = m._BACKGROUND[:, :, None]
    wall = 2 * m.KIND_RGB[m.WALL] / (1 + m.FOG * 4.5) - 1
    cover = (img[0] - bg) / (wall[:, None, None] - bg)  # per channel, same for all three
    cols = slice(12, 28)
    assert np.allclose(cover[:, :, cols].sum(1), m.FOCAL / 4.5, atol=1e-4)
    assert np.allclose(cover[:, :, cols], cover[:, ::-1, cols], atol=1e-5)  # centred on the horizon
    # The side walls of the room are nearer at the picture's edges: taller spans there.
    span = (np.abs(img[0, 1] - m._BACKGROUND[1][:, None]) > 1e-4).sum(0)
    assert span[0] > span[20] and span[39] > span[20]


def _red_columns(img):
    red = (img[0, 0] - img[0, 1]) > 0.5  # (H, W): red channel well above green
    return red, np.flatnonzero(red.any(0))


def test_goal_straight_ahead_is_red_in_the_centre_columns():
    grid = open_room(goal_block=(3, 5))
    img = m.render(grid, np.array([[1.5, 3.5]]), np.array([0]))
    red, cols = _red_columns(img)
    # Block face 3.5 blocks ahead, half a block either side: |cam_x| < 1/7 -> columns 17..22;
    # half a block up and down: |row - 15| < 20/7 -> rows 13..16 fully red.
    assert np.array_equal(cols, np.arange(17, 23))
    assert np.array_equal(red, red[::-1, ::-1])  # symmetric left/right and up/down
    assert red[13:17, 17:23].all() and not red[:11].any() and not red[19:].any()
    # Facing away from the goal: nothing red.
    img = m.render(grid, np.array([[1.5, 3.5]]), np.array([16]))
    assert len(_red_columns(img)[1]) == 0


def test_goal_ahead_left_is_in_the_left_columns_and_ahead_right_in_the_right():
    # Facing east (+x); y grows downwards, so the agent's left is -y (row 1), right is +y.
    img = m.render(open_room(goal_block=(1, 5)), np.array([[1.5, 3.5]]), np.array([0]))
    cols = _red_columns(img)[1]
    assert len(cols) >= 3 and cols.max() < 15
    img = m.render(open_room(goal_block=(5, 5)), np.array([[1.5, 3.5]]), np.array([0]))
    cols = _red_columns(img)[1]
    assert len(cols) >= 3 and cols.min() > 24
    # Turning left by one step moves the goal towards the right of the picture.
    img2 = m.render(open_room(goal_block=(5, 5)), np.array([[1.5, 3.5]]), np.array([m.NUM_HEADINGS - 1]))
    assert _red_columns(img2)[1].mean() > cols.mean()


def _box_overlaps_solid(grid, pos):
    b = np.arange(len(grid))
    out = np.zeros(len(grid), bool)
    for sx in (-1, 1):
        for sy in (-1, 1):
            cx = np.floor(pos[:, 0] + sx * m.RADIUS).astype(int)
            cy = np.floor(pos[:, 1] + sy * m.RADIUS).astype(int)
            out |= grid[b, cy, cx] != m.FREE
    return out


@pytest.mark.parametrize("size", [3, 5])
def test_random_walks_never_enter_walls(size):
    cfg = m.make_maze_configs(300, size, seed=2)
    env = m.MazeEnv(cfg, 256, n=2, horizon=100, obs_mode="local", rng=0)
    env.reset()
    rng = np.random.default_rng(0)
    pushes, moved = 0, 0.0
    for _ in range(400):
        before, grid = env.pos.copy(), env.grid.copy()  # the grid changes when a trial ends
        _, r, ed, _, info = env.step(rng.choice(3, size=256, p=[0.2, 0.2, 0.6]))
        assert not _box_overlaps_solid(grid, info["final_pos"]).any()
        assert not _box_overlaps_solid(env.grid, env.pos).any()
        step = np.linalg.norm(info["final_pos"] - before, axis=1)
        assert (step <= m.STEP + 1e-9).all()
        moved += step.sum()
        pushes += info["pushed"].sum()
        expect = m.STEP_REWARD + m.WALL_REWARD * info["pushed"] + m.GOAL_REWARD * info["success"]
        assert np.array_equal(r, expect.astype(np.float32))
    # The walk does hit walls and does move (a random walk is stuck against walls much of the
    # time: about 0.05 blocks per step measured, against 0.6 * 0.35 = 0.21 with no walls).
    assert pushes > 1000 and moved > 256 * 400 * 0.02


def test_sliding_along_a_wall():
    # In the open room, pressed against the north wall and heading 45 degrees into it
    # (north-east), the agent keeps sliding east at STEP*cos(45) per step.
    grid = open_room()
    pos = np.array([[2.0, 1.0 + m.RADIUS + m.GAP]])
    heading = np.array([m.NUM_HEADINGS - m.NUM_HEADINGS // 8])  # -45 degrees: up and right
    new, h, pushed = m.move(grid, pos, heading, np.array([m.FORWARD]))
    assert pushed[0] and h[0] == heading[0]
    assert new[0, 1] == pytest.approx(pos[0, 1]) and new[0, 0] == pytest.approx(2.0 + m.STEP * np.sqrt(0.5))
    new, _, pushed = m.move(grid, pos, np.array([0]), np.array([m.FORWARD]))  # along it: no push
    assert not pushed[0] and new[0, 0] == pytest.approx(2.0 + m.STEP)


def test_turning_steps_and_horizon_truncation_and_trial_end():
    cfg = m.make_maze_configs(50, 3, seed=3)
    B, n, horizon = 8, 2, 5
    env = m.MazeEnv(cfg, B, n=n, horizon=horizon, rng=1)
    obs = env.reset()
    assert obs.shape == (B, 3, m.HEIGHT, m.WIDTH) and obs.dtype == np.float32
    first_config = env.config.copy()
    start_heading = env.heading.copy()
    for ep in range(n):
        for t in range(horizon):
            obs, r, ed, td, info = env.step(np.full(B, m.TURN_LEFT))
            assert np.array_equal(r, np.full(B, np.float32(-0.04)))
            assert (ed == (t == horizon - 1)).all()
            assert (td == ((t == horizon - 1) and ep == n - 1)).all()
            if t < horizon - 1:
                assert np.array_equal(env.heading, (start_heading - t - 1) % m.NUM_HEADINGS)
        assert (info["length"] == horizon).all() and not info["success"].any()
        assert (info["episode"] == ep).all() and np.array_equal(info["config"], first_config)
        assert np.allclose(info["return"], -0.04 * horizon)
        if ep < n - 1:  # the next episode starts from the same start pose, same maze
            assert np.array_equal(env.heading, start_heading) and np.array_equal(env.config, first_config)
            assert np.array_equal(obs, m.render(env.grid, m.cell_centre(cfg["start"][env.config]), start_heading))
            assert (env.episode == ep + 1).all()
    # After the trial: new configurations were drawn (auto reset) and the observation is theirs.
    assert (env.episode == 0).all() and not np.array_equal(env.config, first_config)
    assert np.array_equal(env.grid, m.config_grids(cfg)[env.config])
    assert np.array_equal(obs, env.observe())


def test_wall_push_costs_extra():
    cfg = m.make_maze_configs(200, 3, seed=4)
    env = m.MazeEnv(cfg, 200, n=1, horizon=50, obs_mode="local", fixed_configs=True)
    env.reset()
    # Face each agent towards a wall next to its start cell (every cell of a 3x3 maze has one
    # except possibly the centre).
    b = np.arange(200)
    bx, by = np.floor(env.pos[:, 0]).astype(int), np.floor(env.pos[:, 1]).astype(int)
    solid = np.stack([env.grid[b, by, bx + 1], env.grid[b, by + 1, bx], env.grid[b, by, bx - 1],
                      env.grid[b, by - 1, bx]], 1) == m.WALL
    ok = solid.any(1)
    env.heading[:] = np.argmax(solid, 1) * (m.NUM_HEADINGS // 4)
    for _ in range(3):
        _, r, ed, _, info = env.step(np.full(200, m.FORWARD))
        assert np.array_equal(info["pushed"][ok], np.ones(ok.sum(), bool))
        assert np.array_equal(r[ok], np.full(ok.sum(), np.float32(-0.041)))
        assert not ed.any()
    assert ok.mean() > 0.8


@pytest.mark.parametrize("size", [3, 5])
def test_oracle_reaches_goal_with_bonus_both_episodes_same_length(size):
    _, test = m.make_train_test_configs(size)
    B, horizon = 300, 250 * (1 if size == 3 else 4)
    env = m.MazeEnv(test, B, n=2, horizon=horizon, obs_mode="local", fixed_configs=True)
    env.reset()
    dmaps = m.goal_distance_maps(env.grid)
    lengths, success = np.zeros((2, B), int), np.zeros((2, B), bool)
    finished = np.zeros(B, bool)
    returns = np.zeros(B)
    while not finished.all():
        _, r, ed, td, info = env.step(m.oracle_actions(env, dmaps))
        live = ~finished
        returns += np.where(live, r, 0)
        e = ed & live
        lengths[info["episode"][e], np.flatnonzero(e)] = info["length"][e]
        success[info["episode"][e], np.flatnonzero(e)] = info["success"][e]
        # Touching the goal pays +1 on top of the step cost and ends the episode.
        expect = np.float32(m.STEP_REWARD + m.GOAL_REWARD) + np.float32(m.WALL_REWARD) * info["pushed"]
        assert np.allclose(r[info["success"]], expect[info["success"]])
        assert (ed[info["success"]]).all()
        gd = m.goal_distance(info["final_pos"], test["goal"][info["config"]])
        assert np.array_equal(info["success"], gd < m.RADIUS + m.GOAL_EPS)
        finished |= td
    assert success.all()
    # Deterministic policy + same start pose each episode -> identical episodes.
    assert np.array_equal(lengths[0], lengths[1])
    assert np.allclose(returns, 2 * (1 - 0.04 * lengths[0]), atol=0.001 * lengths.sum(0).max() + 1e-4)
    assert (lengths[0] >= 6).all()  # at least two cells away: no goal within a couple of steps


def test_fixed_configs_restart_same_config_and_random_mode_samples_all():
    cfg = m.make_maze_configs(20, 3, seed=5)
    env = m.MazeEnv(cfg, 20, n=1, horizon=3, obs_mode="local", fixed_configs=True)
    env.reset()
    assert np.array_equal(env.config, np.arange(20))
    for _ in range(7):
        env.step(np.zeros(20, int))
    assert np.array_equal(env.config, np.arange(20))
    env = m.MazeEnv(cfg, 64, n=1, horizon=1, obs_mode="local", rng=0)
    env.reset()
    seen = np.zeros(20, bool)
    for _ in range(10):
        env.step(np.zeros(64, int))
        seen[env.config] = True
    assert seen.all()  # 704 draws from 20 configs: missing one has probability < 1e-14


def test_local_obs_matches_the_world():
    grid = open_room(goal_block=(3, 5))
    pos = np.array([[1.5, 3.5], [1.5, 1.5], [4.5, 4.5]])
    grid = np.repeat(grid, 3, 0)
    heading = np.array([0, 8, 16])  # facing +x (east), +y (south on the map), -x (west)
    o = m.local_obs(grid, pos, heading)
    assert o.shape == (3, m.LOCAL_DIM) and o.dtype == np.float32
    # Neighbour flags are egocentric: front, right, back, left.
    assert np.array_equal(o[0, :4], [0, 0, 1, 0])  # facing east with the west border behind
    assert np.array_equal(o[1, :4], [0, 1, 1, 0])  # facing south in the NW corner: west on its right, north behind
    assert np.array_equal(o[2, :4], [0, 0, 0, 0])  # room centre-ish (4,4)
    # A quarter turn by the agent rotates the flags by one place.
    o_turned = m.local_obs(grid[:1], pos[:1], np.array([m.NUM_HEADINGS // 4]))
    assert np.array_equal(o_turned[0, :4], [0, 1, 0, 0])  # facing south: the west border is on its right
    assert np.allclose(o[:, 4:6], [[1, 0], [0, 1], [-1, 0]], atol=1e-6)
    assert np.allclose(o[:, 6:8], 0)  # at block centres
    # Probes at -90, -45, 0, 45, 90 degrees, Euclidean distance. Agent 0 looks east at the goal
    # 3.5 blocks ahead with its middle probe only; its +-90 probes hit the north/south border 2.5
    # away; its +-45 probes reach the border rows after 2.5 * sqrt(2).
    k = m.LOCAL_RAYS
    assert np.array_equal(o[0, 8 + k:], [0, 0, 1, 0, 0]) and o[0, 10] == pytest.approx(1 / 4.5)
    assert o[0, 8] == pytest.approx(1 / 3.5) and o[0, 12] == pytest.approx(1 / 3.5)
    assert o[0, 9] == pytest.approx(1 / (1 + 2.5 * 2 ** 0.5), rel=1e-5)
    assert o[0, 11] == pytest.approx(1 / (1 + 2.5 * 2 ** 0.5), rel=1e-5)
    assert (o[1:, 8 + k:] == 0).all()  # the others don't see the goal
    # Agent 1 looks south from (1.5, 1.5): the middle probe hits the south border 4.5 away, the
    # left probe (east, on the map) the east border 4.5 away, the right one (west) the border 0.5 away.
    assert o[1, 10] == pytest.approx(1 / 5.5)
    assert o[1, 8] == pytest.approx(1 / 5.5) and o[1, 12] == pytest.approx(1 / 1.5)


def test_bad_arguments():
    cfg = m.make_maze_configs(5, 3, seed=0)
    with pytest.raises(ValueError):
        m.MazeEnv(cfg, 4, obs_mode="rgb")
    with pytest.raises(ValueError):
        m.MazeEnv(cfg, 6, fixed_configs=True)
    env = m.MazeEnv(cfg, 4, obs_mode="local", rng=0)
    env.reset()
    with pytest.raises(ValueError):
        env.step(np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError):
        m.make_maze_configs(100, 2, seed=0)  # only 16 distinct 2x2 configurations exist
    res = subprocess.run([sys.executable, str(HERE_PATH / "rl2_maze.py"), "--bench", "--size", "1"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "--size" in res.stderr


# ---- the RL² agent, rollouts, evaluation and the script (rl2_maze.py, paper §3.3) ----



def run_maze(*argv, timeout=120):
    return subprocess.run([sys.executable, str(HERE_PATH / "rl2_maze.py"), *argv], cwd=HERE_PATH, capture_output=True,
                          text=True, timeout=timeout)



def test_agent_shapes_conv_sizes_and_shared_value():
    torch.manual_seed(0)
    T, B = 3, 2
    for mode, D in (("pixels", 3 * m.HEIGHT * m.WIDTH), ("local", m.LOCAL_DIM)):
        agent = m.MazeAgent(mode, hidden=24, embed=20)
        x = torch.randn(T, B, D + m.EXTRA_INPUTS)
        x[..., -3] = torch.randint(0, 3, (T, B)).float()
        logits, values, h = agent(x, agent.initial_state(B))
        assert logits.shape == (T, B, 3) and values.shape == (T, B) and h.shape == (B, 24)
        # one shared GRU (appendix A.3): the value head sits on the policy's GRU
        assert agent.core.v_gru is None
        names = {id(p) for p in agent.policy_parameters()}
        assert id(agent.core.v_head.weight) not in names and id(agent.phi.fc.weight) in names
    conv = m.MazeEmbedding("pixels", 8)
    f = conv.conv2(conv.conv1(torch.zeros(1, 3, m.HEIGHT, m.WIDTH)))
    assert f.shape == (1, 16, 5, 7)  # 30x40 -> 13x18 -> 5x7 (appendix A.3)
    assert conv.conv1(torch.zeros(1, 3, m.HEIGHT, m.WIDTH)).shape == (1, 16, 13, 18)
    # weight norm starts at the plain Xavier init: W = g v / ||v|| = v
    w = m.weight_norm(conv.conv1.weight.flatten(1), conv.conv1.g).view_as(conv.conv1.weight)
    assert torch.allclose(w, conv.conv1.weight, atol=1e-6)


def _rollout(mode="local", B=6, T=40, horizon=8, n=2, iters=2, seed=0):
    torch.manual_seed(seed)
    cfg = m.make_maze_configs(50, 3, seed=seed)
    env = m.MazeEnv(cfg, B, n=n, horizon=horizon, obs_mode=mode, rng=seed)
    agent = m.MazeAgent(mode, hidden=16, embed=16)
    carry = m.new_carry(env, agent, "cpu")
    gen = torch.Generator().manual_seed(seed)
    out = [m.collect(agent, env, carry, T, gen) for _ in range(iters)]
    return agent, carry, out


@pytest.mark.parametrize("mode", ["local", "pixels"])
def test_rollout_replays_exactly_and_state_is_carried_across_iterations(mode):
    agent, carry, out = _rollout(mode, T=13 if mode == "pixels" else 40, iters=3)
    for i, (b, _) in enumerate(out):
        # trpo.update replays whole columns from the stored h0 with the stored resets: the same
        # logits and values as the step-by-step rollout
        logits, values, hT = agent(b["obs"], b["h0"], b["reset"])
        assert torch.allclose(logits, b["logits"], atol=1e-5) and torch.allclose(values, b["values"], atol=1e-5)
        if i + 1 < len(out):
            nxt = out[i + 1][0]
            assert torch.allclose(nxt["h0"], hT, atol=1e-5)  # the next rollout starts from this one's state
            assert torch.allclose(b["last_value"], nxt["values"][0], atol=1e-5)  # bootstrap = V(next state)
            # a trial that ends at the rollout's last step starts fresh at the next one's first
            assert torch.equal(nxt["reset"][0], b["trial_end"][-1])
    assert torch.equal(out[0][0]["reset"][0], torch.ones(6))


def test_inputs_placeholders_done_flag_and_reset_only_between_trials():
    # horizon 5: no goal is reachable in 5 steps (it is >= 2 cells away, about 8 steps straight
    # ahead), so every episode lasts 5 steps and every trial 10
    B, T, horizon, n = 6, 40, 5, 2
    agent, _, out = _rollout("local", B=B, T=T, horizon=horizon, n=n, iters=1)
    b, fin = out[0]
    x, reset, end = b["obs"], b["reset"], b["trial_end"]
    a_prev, r_prev, d_prev = x[..., -3], x[..., -2], x[..., -1]
    # reset[t] = 1 exactly after a trial's last step (and at the very start)
    assert torch.equal(reset[1:], end[:-1]) and torch.equal(reset[0], torch.ones(B))
    # placeholders at a trial's first step: action 0, reward 0, done 0
    first = reset.bool()
    assert (a_prev[first] == 0).all() and (r_prev[first] == 0).all() and (d_prev[first] == 0).all()
    # elsewhere the previous step's action and reward reach the policy
    later = ~first[1:]
    assert torch.equal(a_prev[1:][later], b["actions"][:-1].float()[later])
    assert torch.equal(r_prev[1:][later], b["rewards"][:-1][later])
    # d = 1 at the first step of episode 2 (the policy sees the episode end), and the state is NOT
    # reset there; it is reset at each trial's first step
    steps = torch.arange(T)[:, None].expand(T, B)
    assert not (b["rewards"] > 0.5).any()
    assert torch.equal(d_prev.bool(), (steps % 10) == 5)
    assert torch.equal(reset.bool(), (steps % 10) == 0)
    assert len(fin["returns"]) == B * (T // 10) and (fin["lengths"] == horizon).all()
    assert not fin["success"].any()
    # the hidden state carries episode 1 into episode 2 of the same trial, and nothing across
    # trials: changing an input of step 2 (episode 1) changes the policy at step 7 (episode 2)
    # but not from step 10 on (the next trial)
    h0 = agent.initial_state(B)
    logits, _, _ = agent(x, h0, reset)
    x2 = x.clone()
    x2[2, :, 0] = 1 - x2[2, :, 0]
    logits2, _, _ = agent(x2, h0, reset)
    assert (logits2[7] - logits[7]).abs().max() > 1e-5
    assert torch.allclose(logits2[10:], logits[10:], atol=1e-6) and torch.equal(logits2[:2], logits[:2])


def test_table3_metrics_exact():
    lengths = np.array([[50, 30], [40, 45], [250, 20], [60, 250], [30, 30]])
    success = np.array([[1, 1], [1, 1], [0, 1], [1, 0], [1, 1]], bool)
    t = m.table3(lengths, success)
    assert t["trials"] == 5
    e1, e2 = t["episodes"]
    assert e1["success"] == 0.8 and e1["successes"] == 4 and e1["length"] == 45.0
    assert e1["length_se"] == pytest.approx(np.std([50, 40, 60, 30], ddof=1) / 2)
    assert e2["success"] == 0.8 and e2["length"] == pytest.approx((30 + 45 + 20 + 30) / 4)
    assert e1["success_se"] == pytest.approx(np.sqrt(0.8 * 0.2 / 5))
    # both succeeded in trials 0, 1, 4; episode 2 no longer in 0 and 4
    assert t["improved"]["denominator"] == 3 and t["improved"]["count"] == 2
    assert t["improved"]["fraction"] == pytest.approx(2 / 3)
    # over all trials: 0, 4 (not longer), 2 (episode 1 failed, 2 succeeded)
    assert t["improved_all"]["count"] == 3 and t["improved_all"]["fraction"] == 0.6


def test_evaluate_runs_one_trial_per_test_maze_and_its_numbers_agree():
    torch.manual_seed(0)
    _, test = m.make_train_test_configs(3, num=1000)
    cfg = {k: v[:30] for k, v in test.items()}
    agent = m.MazeAgent("local", 16, 16)
    horizon, n = 40, 3
    res = m.evaluate(agent, cfg, n, horizon, "local", "cpu", seed=1, chunk=12, record=5)
    L, S, R = res["lengths"], res["success"], res["returns"]
    assert L.shape == (30, n) and S.shape == (30, n) and R.shape == (30,)
    assert ((L >= 1) & (L <= horizon)).all() and (L[~S] == horizon).all()
    # return = sum over episodes of (-0.04 per step + 1 on success), minus 0.001 per wall push
    base = -0.04 * L.sum(1) + S.sum(1)
    assert ((R <= base + 1e-6) & (R >= base - 0.001 * L.sum(1) - 1e-6)).all()
    # the recorded paths start at the maze's start cell and follow each episode
    tr = res["traj"]
    for i in range(5):
        for e in range(n):
            path, poses = m.episode_path(tr, i, e)
            assert len(poses) == L[i, e] and len(path) == L[i, e] + 1
            assert np.allclose(path[0], m.cell_centre(cfg["start"][i]))
            assert poses[0, 2] == cfg["heading"][i]
    # the shortest-path oracle reaches every goal; random is much worse on average
    ol, os_ = m.scripted_episodes(cfg, 250, "oracle")
    assert os_.all() and (ol >= 6).all()


def test_short_local_training_beats_random():
    """~100k steps of local-mode training with a small GRU on one maze (random: ~10-20%
    success): the training loop (rollouts, carried state, GAE, trpo.update) must learn it."""
    torch.manual_seed(0)
    cfg = {k: v[1:2] for k, v in m.make_maze_configs(1000, 3, seed=0).items()}
    B, T, horizon = 32, 128, 250
    env = m.MazeEnv(cfg, B, n=2, horizon=horizon, obs_mode="local", rng=0)
    agent = m.MazeAgent("local", 32, 32)
    opt = torch.optim.Adam(agent.parameters(), lr=3e-3, eps=1e-5)
    carry = m.new_carry(env, agent, "cpu")
    for it in range(24):
        gen = torch.Generator().manual_seed(it)
        b, _ = m.collect(agent, env, carry, T, gen)
        adv, ret = trpo.gae(b["rewards"], b["values"], b["trial_end"], 0.99, 0.99, b["last_value"])
        b.update(advantages=adv, returns=ret)
        trpo.update(agent, opt, b, policy_params=agent.policy_parameters(), trials_per_minibatch=16,
                    vf_coef=0.5, generator=gen)
    M = 256
    ev = {k: np.repeat(v, M, 0) for k, v in cfg.items()}
    res = m.evaluate(agent, ev, 2, horizon, "local", "cpu", seed=99, chunk=M)
    _, rs = m.scripted_episodes(ev, horizon, "random", seed=1)
    trained = res["success"].mean()
    se = np.sqrt(rs.mean() * (1 - rs.mean()) / M + trained * (1 - trained) / (2 * M))
    assert trained > rs.mean() + max(0.3, 5 * se), (trained, rs.mean())


def test_rl2_maze_end_to_end_local_resume_and_bad_inputs(tmp_path):
    common = ["--obs", "local", "--num-trials", "8", "--rollout-steps", "64", "--hidden", "16", "--embed", "16",
              "--eval-mazes", "20", "--checkpoint-every", "1"]
    a, b = tmp_path / "a", tmp_path / "b"
    p = run_maze(*common, "--total-timesteps", "1024", "--out", str(a))
    assert p.returncode == 0, p.stderr
    res = json.loads((a / "results.json").read_text())
    assert res["experiment"] == "maze" and (res["size"], res["n"], res["obs"]) == (3, 2, "local")
    assert res["steps"] == 1024 and res["table"]["trials"] == 20 and len(res["table"]["episodes"]) == 2
    assert {"oracle", "random", "improved", "improved_all"} <= set(res["table"])
    assert res["table"]["oracle"]["success"] == 1.0
    for f in ("learning_curve.png", "checkpoint.pt", "topdown_bad.png"):
        assert (a / f).stat().st_size > 0
    rows = (a / "progress.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2 and "success_2" in rows[0]
    # exact resume: 1 iteration, then --resume to 2, equals 2 iterations straight
    p = run_maze(*common, "--total-timesteps", "512", "--out", str(b), "--eval-mazes", "2")
    assert p.returncode == 0, p.stderr
    p = run_maze(*common, "--total-timesteps", "1024", "--resume", str(b), "--eval-mazes", "2")
    assert p.returncode == 0 and "resuming" in p.stdout, p.stderr
    ra, rb = torch.load(a / "checkpoint.pt", weights_only=True), torch.load(b / "checkpoint.pt", weights_only=True)
    assert ra["steps"] == rb["steps"] == 1024
    for k in ra["agent"]:
        assert torch.equal(ra["agent"][k], rb["agent"][k]), k
    # eval-only on another size and more episodes (the paper's extrapolation), into its own folder
    p = run_maze("--obs", "local", "--eval-only", "--checkpoint", str(a / "checkpoint.pt"), "--eval-size", "5",
                 "--eval-n", "3", "--eval-mazes", "4")
    assert p.returncode == 0 and "Table 3" in p.stdout, p.stderr
    res = json.loads((a / "eval_size5_n3" / "results.json").read_text())
    assert res["eval_size"] == 5 and len(res["table"]["episodes"]) == 3 and res["eval_horizon"] == 1000
    # a checkpoint of another shape: a one-line error (trpo.load_checkpoint, tested with the bandit)
    p = run_maze("--obs", "pixels", "--eval-only", "--checkpoint", str(a / "checkpoint.pt"))
    assert one_line_error(p) and "--obs local" in p.stderr


def test_rl2_maze_bad_input_is_one_line_exit_2():
    p = run_maze("--obs", "rgb")
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "--obs" in p.stderr, p.stderr


@pytest.mark.parametrize("argv", [["--size", "2"], ["--n", "0"], ["--obs", "rgb"], ["--eval-mazes", "1001"],
                                  ["--lr", "-1"], ["--device", "tpu"], ["--eval-only"], ["--resume", "/nowhere"],
                                  ["--eval-size", "1"], ["--eval-n", "0"], ["--num-trials", "0"], ["--gamma", "2"]])
def test_rl2_maze_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        m.parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ": error: " in err[0]


def test_rl2_maze_pixels_tiny_run(tmp_path):
    p = run_maze("--obs", "pixels", "--num-trials", "4", "--rollout-steps", "16", "--total-timesteps", "128",
                 "--hidden", "16", "--embed", "16", "--eval-mazes", "3", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["obs"] == "pixels" and res["steps"] == 128 and res["table"]["trials"] == 3
    assert len((tmp_path / "progress.csv").read_text().strip().splitlines()) == 1 + 2


def test_sigint_saves_and_prints_resume_hint(tmp_path):
    proc = subprocess.Popen([sys.executable, str(HERE_PATH / "rl2_maze.py"), "--obs", "local", "--num-trials", "4",
                             "--rollout-steps", "32", "--hidden", "8", "--embed", "8", "--total-timesteps",
                             "10000000", "--out", str(tmp_path)], cwd=HERE_PATH, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    csv_path = tmp_path / "progress.csv"
    deadline = time.time() + 60
    while time.time() < deadline and not (csv_path.exists() and len(csv_path.read_text().splitlines()) >= 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "--resume" in err and "Traceback" not in err, err
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ckpt["iteration"] >= 1 and ckpt["iteration"] == len(csv_path.read_text().splitlines()) - 1
    assert not os.path.exists(str(tmp_path / "checkpoint.pt.tmp"))


# ==== issue 6: scale out and harden (NaN guard, interrupt + resume, reproducibility, torchrun, bad input) ====
import csv  # noqa: E402

import rl2_bandit  # noqa: E402


# Tiny runs of each script: (script, shape flags, flags of a run of `iters` iterations)
RUNS = {
    "bandit": ("rl2_bandit.py", ["--k", "3", "--n", "10"],
               lambda iters: ["--trials-per-iter", "200", "--total-timesteps", str(2000 * iters), "--hidden", "16",
                              "--eval-instances", "20", "--no-baselines"]),
    "mdp": ("rl2_mdp.py", ["--n", "2"],
            lambda iters: ["--trials-per-iter", "80", "--total-timesteps", str(1600 * iters), "--hidden", "16",
                           "--eval-instances", "20", "--no-baselines"]),
    "maze": ("rl2_maze.py", ["--obs", "local", "--n", "2"],
             lambda iters: ["--num-trials", "8", "--rollout-steps", "32", "--total-timesteps", str(256 * iters),
                            "--hidden", "8", "--embed", "8", "--eval-mazes", "4"]),
}
TIMING = {"seconds", "steps_per_s", "eval_seconds"}  # the only fields allowed to differ between equal runs


def flags(name, iters, out, *extra):
    script, shape, rest = RUNS[name]
    return [script, *shape, *rest(iters), "--out", str(out), *extra]


def csv_rows(out):
    with open(os.path.join(out, "progress.csv")) as f:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(f)]


def results(out):
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in TIMING}
        return x
    return strip(json.loads(open(os.path.join(out, "results.json")).read()))


def interrupt_after_rows(argv, out, rows=2, timeout=120):
    """Start a run, send SIGINT once its CSV has `rows` iterations, return the finished process."""
    proc = subprocess.Popen([sys.executable, *argv], cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    csv_path = os.path.join(out, "progress.csv")
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if os.path.isfile(csv_path) and len(open(csv_path).read().splitlines()) >= 1 + rows:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.stdout_text, proc.stderr_text = proc.communicate(timeout=timeout)
    return proc


# ---- 1. a NaN or Inf stops the run, names the iteration and keeps the last good checkpoint ----
NAN_RUN = """
import math, runpy, sys, torch, trpo
real, calls = trpo.update, []
def update(agent, *a, **kw):  # the real update, then poison iteration 2's loss or a parameter
    info = real(agent, *a, **kw)
    calls.append(1)
    if len(calls) == 2:
        if {poison!r} == "loss":
            info["v_loss"] = math.nan
        else:
            with torch.no_grad():
                next(agent.parameters()).view(-1)[0] = math.inf
    return info
trpo.update = update
sys.argv = {argv!r}
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("name,poison", [("bandit", "loss"), ("mdp", "parameter"), ("maze", "parameter")])
def test_nan_stops_run_and_keeps_last_good_checkpoint(tmp_path, name, poison):
    argv = flags(name, 5, tmp_path, "--checkpoint-every", "1")
    p = run_script("-c", NAN_RUN.format(poison=poison, argv=argv))
    err = p.stderr.strip().splitlines()
    assert p.returncode == 1 and "Traceback" not in p.stderr and len(err) == 1, p.stderr
    assert "non-finite" in err[0] and "iteration 2" in err[0] and "checkpoint.pt" in err[0], err
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ckpt["iteration"] == 1 and all(torch.isfinite(v).all() for v in ckpt["agent"].values())
    assert not (tmp_path / "results.json").exists() and len(csv_rows(tmp_path)) == 1


# ---- 2 + 3. SIGINT, resume, and the same seed giving the same run ----
@pytest.mark.parametrize("name", ["bandit", "mdp", "maze"])
def test_sigint_resume_finishes_and_matches_an_uninterrupted_run(tmp_path, name):
    """Interrupt a run, resume it, and compare with an uninterrupted run of the same seed: identical
    CSV and results.json (timing fields aside), so the same seed, device and process count give the
    same run, and an interrupt costs nothing."""
    iters = 8
    a, c = tmp_path / "a", tmp_path / "c"
    ref = subprocess.Popen([sys.executable, *flags(name, iters, a)], cwd=HERE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)  # the uninterrupted run, alongside
    p = interrupt_after_rows(flags(name, iters, c, "--checkpoint-every", "1"), c)
    err = p.stderr_text.strip().splitlines()
    assert p.returncode == 1 and "Traceback" not in p.stderr_text and "--resume" in err[-1], p.stderr_text
    done = torch.load(c / "checkpoint.pt", weights_only=True)["iteration"]
    assert 2 <= done < iters and not (c / "results.json").exists()
    script, shape, rest = RUNS[name]
    p = run_script(script, *shape, *rest(iters), "--resume", str(c))
    assert p.returncode == 0 and f"resuming {c} at iteration {done}" in p.stdout, p.stderr
    rows = csv_rows(c)
    assert [int(r["iteration"]) for r in rows] == list(range(1, iters + 1))
    assert ref.wait(timeout=300) == 0, ref.stderr.read()
    assert len(csv_rows(a)) == iters
    assert (c / "results.json").exists() and results(c)["iterations" if name != "maze" else "steps"] == \
        (iters if name != "maze" else 256 * iters)
    # per-iteration seeds, restored Adam state (and the maze's running trials): resuming changes nothing
    assert rows == csv_rows(a), "resumed run differs from the uninterrupted one"
    assert results(c) == results(a)


# ---- 4. two processes under torchrun ----
@pytest.mark.parametrize("name", ["bandit", "mdp"])
def test_two_processes_finish_with_identical_parameters(tmp_path, name):
    script, shape, rest = RUNS[name]
    p = run_script("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "--", script, *shape,
                   *rest(3), "--out", str(tmp_path), timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count("parameters identical across 2 processes: yes") == 1, p.stdout
    assert [f for f in os.listdir(tmp_path) if f.endswith(".json")] == ["results.json"]
    assert results(tmp_path)["processes"] == 2 and len(csv_rows(tmp_path)) == 3


# ---- 6. bad inputs: one line, exit code 2, no traceback ----
import rl2_bandit  # noqa: E402
import rl2_maze  # noqa: E402
import rl2_mdp  # noqa: E402


def test_bad_flags_are_one_line_errors_with_exit_code_2(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    cases = {
        rl2_bandit: [["--k", "1"], ["--k", "abc"], ["--n", "0"], ["--hidden", "-3"], ["--lr", "nan"],
                     ["--ent-coef", "inf"], ["--seed", "-1"], ["--gamma", "1.5"], ["--device", "cuda"],
                     ["--device", "gpu"], ["--checkpoint-every", "0"], ["--bench-scaling", "1"],
                     ["--bench-scaling", "2", "--resume", str(tmp_path / "empty")],
                     ["--resume", str(tmp_path / "empty")], ["--eval-only"],
                     ["--eval-only", "--checkpoint", str(tmp_path / "missing.pt")],
                     ["--out", str(tmp_path / "afile" / "sub")], ["--bogus"], ["--minutes", "-1"],
                     ["--minutes", "inf"], ["--shared", "--critic-sees-time"], ["--shared", "--policy", "mlp"]],
        rl2_mdp: [["--n", "x"], ["--threads", "0"], ["--max-kl", "-1"], ["--seed", "-2"], ["--device", "cuda"],
                  ["--clip", "inf"], ["--prior", "flat"], ["--out", str(tmp_path / "afile")], ["--minutes", "-5"]],
        rl2_maze: [["--size", "2"], ["--eval-mazes", "5000"], ["--vf-coef", "nan"], ["--device", "cuda:0"],
                   ["--seed", "-1"], ["--rollout-steps", "0"], ["--obs", "rgb"], ["--out", str(tmp_path / "afile")]],
    }
    for module, bad in cases.items():
        for argv in bad:
            with pytest.raises(SystemExit) as e:
                module.parse_args(argv)
            err = capsys.readouterr().err.strip().splitlines()
            assert e.value.code == 2 and len(err) == 1 and "error" in err[0], (module.__name__, argv, err)


def test_bad_checkpoints_are_one_line_errors_with_exit_code_2(capsys, tmp_path):
    """A truncated checkpoint, one of another shape and one of another experiment: checked while
    parsing the flags, before any slow set-up; once through a script's real entry point."""
    run, trunc = tmp_path / "run", tmp_path / "trunc"
    run.mkdir()
    trunc.mkdir()
    trpo.save_checkpoint(str(run / "checkpoint.pt"), {"experiment": "bandit", "k": 3, "n": 10, "hidden": 8,
                                                      "agent": {"w": torch.zeros(3)}, "iteration": 1})
    (trunc / "checkpoint.pt").write_bytes((run / "checkpoint.pt").read_bytes()[:300])
    ckpt = str(run / "checkpoint.pt")
    for module, argv, words in (
            (rl2_bandit, ["--k", "3", "--n", "10", "--resume", str(trunc)], "cannot read checkpoint"),
            (rl2_bandit, ["--k", "4", "--n", "10", "--eval-only", "--checkpoint", ckpt], "with --k 3, not --k 4"),
            (rl2_mdp, ["--eval-only", "--checkpoint", ckpt], "not an RL² mdp checkpoint"),
            (rl2_maze, ["--resume", str(run)], "not an RL² maze checkpoint")):
        with pytest.raises(SystemExit) as e:
            module.parse_args(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and len(err) == 1 and words in err[0], (module.__name__, argv, err)
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "10", "--resume", str(trunc))
    assert p.returncode == 2 and one_line_error(p) and len(p.stderr.strip().splitlines()) == 1, p.stderr


# ==== issue 7: beyond the paper (--imitate gittins, --policy mlp, agreement, linear probe) ====



def run(script, *argv):
    return subprocess.run([sys.executable, os.path.join(HERE, script), *argv], capture_output=True, text=True,
                          cwd=HERE, timeout=300)


def rows_of(out):
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


# ---- end to end on tiny budgets ----
def test_imitate_gittins_end_to_end_with_analysis(tmp_path):
    out = str(tmp_path / "im")
    p = run("rl2_bandit.py", "--k", "3", "--n", "5", "--imitate", "gittins", "--hidden", "16", "--total-timesteps",
            "1000", "--trials-per-iter", "50", "--eval-instances", "30", "--no-baselines", "--analyse", "--out", out)
    assert p.returncode == 0, p.stderr
    assert "cross-entropy" in p.stdout and "accuracy" in p.stdout
    res = rows_of(out)
    assert set(res["rows"]) == {"Imitation"} and res["imitate"] == "gittins" and res["policy"] == "gru"
    assert res["steps"] == 1000
    an = res["analysis"]
    assert len(an["agreement_per_t"]["gittins"]) == 5 and an["agreement_per_t"]["gittins"][0] == 1.0  # t=0: all tie
    assert set(an["probe"]) >= {"hidden", "input"} and len(an["probe"]["hidden"]["r2_means_per_t"]) == 5
    assert os.path.isfile(os.path.join(out, "analysis.png"))
    with open(os.path.join(out, "progress.csv")) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("iteration,steps") and len(lines) == 1 + 4  # 4 iterations of 250 steps
    ckpt = torch.load(os.path.join(out, "checkpoint.pt"), weights_only=True)
    assert ckpt["policy"] == "gru" and ckpt["imitate"] == "gittins"
    # --eval-only rebuilds it and names the row from the checkpoint; --analyse merges into results.json
    out2 = str(tmp_path / "ev")
    p = run("rl2_bandit.py", "--k", "3", "--n", "5", "--eval-only", "--checkpoint", os.path.join(out, "checkpoint.pt"),
            "--eval-instances", "20", "--no-baselines", "--analyse", "--out", out2)
    assert p.returncode == 0, p.stderr
    assert "Imitation" in p.stdout and "agrees with Gittins" in p.stdout
    assert "analysis" in rows_of(out2) and os.path.isfile(os.path.join(out2, "analysis.png"))


def test_mlp_bandit_end_to_end_and_wrong_kind_checkpoint(tmp_path):
    out = str(tmp_path / "mlp")
    p = run("rl2_bandit.py", "--k", "3", "--n", "5", "--policy", "mlp", "--hidden", "16", "--total-timesteps", "500",
            "--trials-per-iter", "50", "--eval-instances", "20", "--no-baselines", "--out", out)
    assert p.returncode == 0, p.stderr
    res = rows_of(out)
    assert set(res["rows"]) == {"RL2-MLP"} and res["policy"] == "mlp"
    ck = os.path.join(out, "checkpoint.pt")
    assert torch.load(ck, weights_only=True)["policy"] == "mlp"
    p = run("rl2_bandit.py", "--k", "3", "--n", "5", "--eval-only", "--checkpoint", ck, "--eval-instances", "20",
            "--no-baselines")
    assert p.returncode == 0 and "RL2-MLP" in p.stdout, p.stderr
    p = run("rl2_bandit.py", "--k", "3", "--n", "5", "--eval-only", "--checkpoint", ck, "--policy", "gru",
            "--eval-instances", "20", "--no-baselines")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "--policy mlp" in p.stderr, p.stderr
    p = run("rl2_bandit.py", "--k", "3", "--n", "5", "--resume", out, "--policy", "gru")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_mlp_mdp_end_to_end_and_wrong_kind_checkpoint(tmp_path):
    out = str(tmp_path / "mdp")
    p = run("rl2_mdp.py", "--n", "1", "--policy", "mlp", "--hidden", "16", "--total-timesteps", "160",
            "--trials-per-iter", "8", "--minibatch", "4", "--eval-instances", "10", "--no-baselines", "--out", out)
    assert p.returncode == 0, p.stderr
    res = rows_of(out)
    assert set(res["rows"]) == {"RL2-MLP"} and res["policy"] == "mlp"
    ck = os.path.join(out, "checkpoint.pt")
    p = run("rl2_mdp.py", "--n", "1", "--eval-only", "--checkpoint", ck, "--policy", "gru", "--eval-instances", "10",
            "--no-baselines")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "--policy mlp" in p.stderr, p.stderr


# ---- the memoryless control ----
def test_mlp_agent_is_memoryless_and_trains_with_trpo():
    torch.manual_seed(0)
    T, B, I, A = 6, 4, 7, 3
    agent = gru.MLPAgent(I, A, 16)
    x = torch.randn(T, B, I)
    h0 = agent.initial_state(B)
    assert h0.shape == (B, 1)
    logits, values, h = agent(x, h0, None)
    assert logits.shape == (T, B, A) and values.shape == (T, B) and h.shape == (B, 1)
    x2 = x.clone()
    x2[:4] = torch.randn(4, B, I)  # change everything before step 4
    logits2, _, _ = agent(x2, torch.randn(B, 1), torch.ones(T, B))
    assert torch.equal(logits[4:], logits2[4:])  # the action distribution at t depends on x_t alone
    assert not torch.allclose(logits[:4], logits2[:4])
    # step by step (T = 1 calls, as play() acts) gives the same as the whole sequence
    steps = torch.cat([agent(x[t:t + 1], h0, None, need_value=False)[0] for t in range(T)])
    assert torch.allclose(steps, logits, atol=1e-6)
    # the GRU, by contrast, remembers
    rec = gru.RecurrentAgent(I, A, 16)
    a1, _, _ = rec(x, rec.initial_state(B), None)
    a2, _, _ = rec(x2, rec.initial_state(B), None)
    assert not torch.allclose(a1[4:], a2[4:])
    # trpo.update runs it unchanged, and only the policy network is in the trust region
    names = {id(p) for p in agent.policy_parameters()}
    assert names == {id(p) for p in list(agent.pi_body.parameters()) + list(agent.pi_head.parameters())}
    k, n = 3, 5
    bandit = gru.MLPAgent(k + 2, k, 16)
    gen = torch.Generator().manual_seed(0)
    probs = rl2_bandit.sample_bandits(32, k, gen)
    rewards, batch = rl2_bandit.play(bandit, probs, n, gen, store=True)
    end = torch.zeros(n, 32)
    end[-1] = 1
    adv, ret = trpo.gae(rewards, batch["values"], end, 0.99, 0.3)
    batch.update(advantages=adv, returns=ret, reset=torch.zeros(n, 32), h0=bandit.initial_state(32))
    opt = torch.optim.Adam(bandit.parameters(), lr=1e-2)
    info = trpo.update(bandit, opt, batch, policy_params=bandit.policy_parameters(), generator=gen)
    assert info["kl"] <= 0.01 + 1e-9 and np.isfinite(info["v_loss"])


# ---- analysis: pure functions ----
def test_linear_probe_recovers_a_known_linear_map():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(6, 3)), rng.normal(size=3)
    X_train, X_test = rng.normal(size=(500, 6)), rng.normal(size=(300, 6))
    res = rl2_bandit.linear_probe(X_train, X_train @ W + b, X_test, X_test @ W + b, ridge=1e-8)
    assert res["r2"].shape == (3,) and np.all(res["r2"] > 1 - 1e-9) and res["r2_mean"] > 1 - 1e-9
    assert np.allclose(res["weights"], W, atol=1e-6) and np.allclose(res["bias"], b, atol=1e-6)
    # with noise R² drops to about var(signal) / var(total); an unrelated target scores about 0
    noisy = rl2_bandit.linear_probe(X_train, X_train @ W + b + rng.normal(size=(500, 3)), X_test,
                                    X_test @ W + b + rng.normal(size=(300, 3)), ridge=1e-3)
    expect = (W ** 2).sum(0) / ((W ** 2).sum(0) + 1)
    assert np.allclose(noisy["r2"], expect, atol=0.08)
    junk = rl2_bandit.linear_probe(X_train, rng.normal(size=(500, 2)), X_test, rng.normal(size=(300, 2)))
    assert np.all(np.abs(junk["r2"]) < 0.1)
    # a constant test target has no R² (nan), and the mean skips it
    Y_test = np.c_[X_test @ W[:, 0], np.ones(300)]
    res = rl2_bandit.linear_probe(X_train, np.c_[X_train @ W[:, 0], np.ones(500)], X_test, Y_test, ridge=1e-8)
    assert np.isnan(res["r2"][1]) and res["r2_mean"] > 1 - 1e-9


def test_agreement_gittins_with_itself_is_one_and_random_is_chance():
    k, n, B = 4, 12, 600
    probs = np.random.default_rng(1).random((B, k))
    hist = rl2_bandit.bandit_histories(probs, n, np.random.default_rng(2))  # the Gittins policy
    S, F = hist["successes"], hist["failures"]
    assert np.all(S.sum(-1) + F.sum(-1) == np.arange(n)[:, None])  # counts before step t: t pulls so far
    assert np.all(S[-1].sum(1) + hist["rewards"][-1] == hist["rewards"].sum(0))
    res = rl2_bandit.agreement(hist["actions"], S, F, n, rng=np.random.default_rng(3))
    assert np.all(res["gittins"] == 1.0)  # ties count whichever tied arm the policy drew
    # a uniformly random policy on the same histories: Gittins agreement = chance (|argmax set| / k per state),
    # Thompson agreement = 1/k (the TS probabilities of the k arms sum to 1)
    rand = np.random.default_rng(4).integers(0, k, size=(n, B))
    res = rl2_bandit.agreement(rand, S, F, n, ts_draws=64, rng=np.random.default_rng(5))
    se = np.sqrt(0.25 / (n * B))
    assert abs(res["gittins"].mean() - res["gittins_chance"].mean()) < 4 * se
    assert abs(res["gittins"][1:].mean() - res["gittins_chance"][1:].mean()) < 4 * se
    assert res["gittins_chance"][0] == 1.0 and res["gittins_chance"][1:].mean() < 0.5
    assert abs(res["thompson"].mean() - 1 / k) < 4 * se
    assert res["thompson"][0] == pytest.approx(1 / k, abs=0.05)
    # Thompson sampling's own actions agree with TS more than chance, and Gittins' actions do too
    ts = np.stack([baselines.bandit_policy_step("TS", S[t], F[t], t, n, np.random.default_rng(t)) for t in range(n)])
    assert rl2_bandit.agreement(ts, S, F, n)["thompson"][1:].mean() > 1 / k + 0.1


def test_gittins_targets_and_imitation_step_learn_the_gittins_policy():
    k, n = 3, 4
    S = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 1]])
    F = np.zeros_like(S)
    t = 2
    tgt = rl2_bandit.gittins_targets(S, F, t, n)
    assert np.allclose(tgt.sum(1), 1.0) and np.allclose(tgt[0], 1 / 3) and tgt[1, 0] == 1.0
    assert np.allclose(tgt[2], [0, 0.5, 0.5])
    torch.manual_seed(0)
    agent = gru.RecurrentAgent(k + 2, k, 16)
    opt = torch.optim.Adam(agent.parameters(), lr=3e-2)
    gen = torch.Generator().manual_seed(0)
    first = None
    for it in range(9):
        probs = np.random.default_rng(it).random((128, k))
        hist = rl2_bandit.bandit_histories(probs, n, np.random.default_rng(100 + it))
        info = rl2_bandit.imitation_step(agent, opt, hist, n, 2, 32, gen)
        first = info if first is None else first
    assert info["ce_loss"] < first["ce_loss"] - 0.1 and info["accuracy"] > 0.9


def test_analyse_mlp_policy_has_agreement_but_no_probe(tmp_path):
    from types import SimpleNamespace
    args = SimpleNamespace(k=3, n=4, seed=0, eval_instances=20, policy="mlp", imitate=None)
    res = rl2_bandit.analyse(gru.MLPAgent(5, 3, 8), args, str(tmp_path), probe_trials=20)
    assert "probe" not in res and len(res["agreement_per_t"]["thompson"]) == 4
    assert 0 <= res["agreement_mean"]["gittins"] <= 1 and (tmp_path / "analysis.png").stat().st_size > 0
    json.dumps(res)  # results.json-ready
