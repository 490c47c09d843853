"""Tests for the tabular-MDP baselines (paper §3.2, Table 2). Fast: each runs in a few seconds."""
import itertools
import json
import subprocess
import sys

import numpy as np

import baselines
import pytest

from baselines import (MDP_METHODS, PAPER_TABLE2, mdp_backward_induction,
                                 mdp_cumulative, mdp_extended_value_iteration,
                                 mdp_new_stats, mdp_optimistic_transitions, mdp_pick_actions,
                                 mdp_posterior, mdp_run_episode, mdp_run_method,
                                 mdp_update_stats, oracle_mdp, run_mdp_baselines, sample_mdps)


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


def test_extended_value_iteration_is_optimistic_and_reduces_to_backward_induction():
    P, R = sample_mdps(50, np.random.default_rng(7))
    Q0, V0 = mdp_backward_induction(P, R, 10)
    Qz, Vz = mdp_extended_value_iteration(P, R, np.zeros(R.shape), 10)
    np.testing.assert_allclose(Qz, Q0, atol=1e-12)
    Q1, V1 = mdp_extended_value_iteration(P, R, np.full(R.shape, 0.3), 10)
    assert np.all(V1 >= V0 - 1e-12)
    np.testing.assert_allclose(V1[:, 9], V0[:, 9])  # last step: no next state to be hopeful about
    assert np.all(V1[:, :9] > V0[:, :9])  # strictly before: next-state values differ


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
