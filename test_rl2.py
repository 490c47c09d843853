"""Tests for rl2: exact checks where they exist, statistics with standard-error tolerances,
short training runs that must beat random, and the scripts end to end in subprocesses.

    pytest -q test_rl2.py
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import gru
import trpo

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)


def run_script(*argv, timeout=300):
    return subprocess.run([sys.executable, *argv], cwd=HERE, capture_output=True, text=True, timeout=timeout)


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
    out1, h1 = ours(x, h0)
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


def _toy_batch(seed=0, T=5, B=64, k=3):
    """A recurrent agent on a bandit-like batch with advantages favouring action 0."""
    torch.manual_seed(seed)
    agent = gru.RecurrentAgent(k + 2, k, 16)
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
    # eval-only of the checkpoint works; a foreign shape or a corrupted file is a one-line error
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "4", "--eval-only", "--checkpoint", str(out / "checkpoint.pt"),
                   "--eval-instances", "20", "--no-baselines")
    assert p.returncode == 0 and "RL2" in p.stdout, p.stderr
    p = run_script("rl2_bandit.py", "--k", "4", "--n", "4", "--eval-only", "--checkpoint", str(out / "checkpoint.pt"))
    assert one_line_error(p) and "--k 3" in p.stderr
    bad = tmp_path / "bad.pt"
    bad.write_bytes((out / "checkpoint.pt").read_bytes()[:300])
    p = run_script("rl2_bandit.py", "--k", "3", "--n", "4", "--eval-only", "--checkpoint", str(bad))
    assert one_line_error(p) and "cannot read checkpoint" in p.stderr
    for argv in (["--k", "1"], ["--n", "0"], ["--eval-instances", "1"], ["--lr", "-1"], ["--device", "tpu"],
                 ["--eval-only"], ["--resume", str(tmp_path / "nowhere")]):
        p = run_script("rl2_bandit.py", *argv)
        assert one_line_error(p) and p.returncode == 2, (argv, p.stderr)
