"""Tests of the bandit baselines (baselines.py, paper §3.1 / Table 1). Run: python -m pytest -q test_baselines_bandit.py"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import baselines

HERE = os.path.dirname(os.path.abspath(__file__))


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


@pytest.mark.parametrize("args", [["--k", "1"], ["--n", "0"], ["--instances", "1"], ["--k", "abc"],
                                  ["--json", "/nonexistent-dir/x.json"]])
def test_cli_bad_arguments(args):
    result = _cli("bandit", *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "error" in result.stderr
    assert "Traceback" not in result.stderr
