"""Classic baselines for the RL^2 experiments (Duan et al. 2016): the algorithms the paper compares against.

Bandit part (paper §3.1, Table 1): Bernoulli bandits with k arms, p_i ~ U(0, 1), total reward over n pulls
(one pull is one episode of length 1, so a trial is n steps). Methods: Random, Gittins (finite-horizon index,
or the discounted index with a tuned discount), TS, OTS, UCB1, eps-greedy, Greedy; plus the exact Bayes-optimal
value by dynamic programming where that is tractable, and the oracle n*k/(k+1).

Everything is numpy only (no torch, no scipy) and vectorised over instances: the only Python loops run over
time steps (and over the lattice layers when an index table is built).

Commands:
    python baselines.py bandit --k 5 --n 10                       # one Table 1 cell, 1000 instances, tuned
    python baselines.py bandit --k 10 --n 100 --instances 1000 --seed 0 --json results/bandit_k10_n100.json
    python baselines.py bandit --k 5 --n 10 --no-tune             # default hyperparameters, no grid search
    python baselines.py bandit --bench                            # all nine Table 1 cells, per-cell and total time

Evaluation instances of the CLI are np.random.default_rng(seed).random((instances, k)) (see bandit_instances);
tuning instances and all other randomness come from np.random.SeedSequence(seed, spawn_key=...) children,
which never coincide with that stream, so tuning and evaluation instances are disjoint as in the paper.
"""
import argparse
import functools
import json
import math
import os
import sys
import time

import numpy as np

# ---- Statistics shared by the tables (paper: best mean plus every method not significantly worse by a paired
# one-sided t-test at p = 0.05). No scipy: the Student-t CDF comes from the regularized incomplete beta. ----

def _betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes §6.4)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def regularized_incomplete_beta(a, b, x):
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):  # the continued fraction converges fast on this side
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def student_t_cdf(t, df):
    """P(T <= t) for Student's t with df degrees of freedom: tail = I_{df/(df+t^2)}(df/2, 1/2) / 2."""
    tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def student_t_ppf(q, df):
    """Quantile of Student's t (bisection on student_t_cdf)."""
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if student_t_cdf(mid, df) < q else (lo, mid)
    return 0.5 * (lo + hi)


def paired_significance(rows, alpha=0.05):
    """Methods to highlight as in the paper's tables: the best mean, plus every method that is not significantly
    worse than it by a paired one-sided t-test at level alpha (rows: method -> per-instance totals on the same
    instances)."""
    means = {m: float(np.mean(x)) for m, x in rows.items()}
    best = max(means, key=means.get)
    keep = {best}
    for method, x in rows.items():
        if method == best:
            continue
        diff = np.asarray(rows[best], dtype=np.float64) - np.asarray(x, dtype=np.float64)
        sd = float(diff.std(ddof=1))
        if sd == 0.0:  # identical results, or a constant gap
            if float(diff.mean()) <= 0.0:
                keep.add(method)
            continue
        t_stat = float(diff.mean()) / (sd / math.sqrt(len(diff)))
        p_value = 1.0 - student_t_cdf(t_stat, len(diff) - 1)
        if p_value >= alpha:
            keep.add(method)
    return keep


def normalised_score(x, zero, one):
    """How far x's mean lies from zero's (0) to one's (1), e.g. random = 0, Gittins = 1 as the paper's
    Figure 2, with its standard error: all three are per-instance totals on the same instances, so the
    delta method uses their joint covariance (the shared instances' difficulty cancels)."""
    X = np.stack([np.asarray(v, dtype=np.float64) for v in (x, zero, one)])
    mu, cov = X.mean(1), np.cov(X) / X.shape[1]
    span = mu[2] - mu[1]
    score = (mu[0] - mu[1]) / span
    grad = np.array([1.0, score - 1.0, -score]) / span  # d score / d (mu_x, mu_zero, mu_one)
    return float(score), float(np.sqrt(grad @ cov @ grad))


def mean_stderr(x):
    """Mean and standard error of the mean."""
    x = np.asarray(x, dtype=np.float64)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


# ---- Bernoulli bandits (paper §3.1, Table 1) ----

BANDIT_METHODS = ["Random", "Gittins", "TS", "OTS", "UCB1", "eps-greedy", "Greedy"]

_TABLE1_COLUMNS = ["Random", "Gittins", "TS", "OTS", "UCB1", "eps-greedy", "Greedy", "RL2"]
_TABLE1_VALUES = {  # (n, k): the paper's Table 1 row, columns as above (reference card)
    (10, 5): [5.0, 6.6, 5.7, 6.5, 6.7, 6.6, 6.6, 6.7],
    (10, 10): [5.0, 6.6, 5.5, 6.2, 6.7, 6.6, 6.6, 6.7],
    (10, 50): [5.1, 6.5, 5.2, 5.5, 6.6, 6.5, 6.5, 6.8],
    (100, 5): [49.9, 78.3, 74.7, 77.9, 78.0, 75.4, 74.8, 78.7],
    (100, 10): [49.9, 82.8, 76.7, 81.4, 82.4, 77.4, 77.1, 83.5],
    (100, 50): [49.8, 85.2, 64.5, 67.7, 84.3, 78.3, 78.0, 84.9],
    (500, 5): [249.8, 405.8, 402.0, 406.7, 405.8, 388.2, 380.6, 401.6],
    (500, 10): [249.0, 437.8, 429.5, 438.9, 437.1, 408.0, 395.0, 432.5],
    (500, 50): [249.6, 463.7, 427.2, 437.6, 457.6, 413.6, 402.8, 438.9],
}
# PAPER_TABLE1[(n, k)][method] -> the paper's mean total reward over 1000 instances.
PAPER_TABLE1 = {cell: dict(zip(_TABLE1_COLUMNS, row)) for cell, row in _TABLE1_VALUES.items()}

# Hyperparameter grids, searched per (k, n) on separate tuning instances (paper §3.1: "we maximize the score
# with a separate grid search for each of the experimental settings").
UCB1_GRID = [0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0]
EPS_GRID = [0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
# OTS: "samples N times from the posterior, and takes the one with the highest probability" (paper §3.1).
# We read this literally as rule "vote": draw S joint posterior samples and play the arm that is the argmax
# most often (a Monte-Carlo estimate of the arm most likely to be optimal). The grid also holds the two other
# readings of "optimistic" TS: rule "max" (per arm, the max of S samples) and rule "mean" (May et al. 2012's
# optimistic Bayesian sampling: per arm max(sample, posterior mean)). S=1 "vote"/"max" is plain TS.
# More votes make the rule greedier and usually better here, but each vote costs N*k Beta draws per step, so
# S = 30 is only searched where n*k <= 1000 (keeps all nine cells under ~1 minute; see ots_grid).
OTS_GRID = [{"rule": "mean", "samples": 1}, {"rule": "max", "samples": 2}, {"rule": "max", "samples": 4},
            {"rule": "vote", "samples": 3}, {"rule": "vote", "samples": 10}]
DEFAULT_HYPERPARAMETERS = {  # used with tune=False
    "Random": {}, "Gittins": {"variant": "finite"}, "TS": {}, "OTS": {"rule": "vote", "samples": 10},
    "UCB1": {"c": 0.2}, "eps-greedy": {"eps": 0.02}, "Greedy": {"eps": 0.0},
}


def gittins_grid(n):
    """Gittins variants searched per setup (paper: "choose the best-performing approximation for each setup"):
    the finite-horizon index and the discounted index with gamma = 1 - c/n (reference card: ~1 - 2/n works)."""
    grid = [{"variant": "finite"}]
    for c in (1.0, 2.0, 4.0):
        grid.append({"variant": "discounted", "gamma": round(max(0.5, 1.0 - c / n), 6)})
    return grid


def ots_grid(n, k):
    """OTS settings searched for a setup: OTS_GRID, plus 30 votes where that is cheap (n*k <= 1000)."""
    return OTS_GRID + ([{"rule": "vote", "samples": 30}] if n * k <= 1000 else [])


def oracle_bandit(k, n):
    """Expected total reward of an agent that knows the p_i: n * E[max of k uniforms] = n*k/(k+1)."""
    return n * k / (k + 1)


def bandit_instances(k, instances, seed=0):
    """The CLI's evaluation instances: p[i, a] ~ U(0, 1), shape (instances, k), from default_rng(seed)."""
    return np.random.default_rng(seed).random((instances, k))


def _rng(seed, *key):
    """An independent generator for one purpose (key), derived from seed but disjoint from default_rng(seed)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


# -- Gittins indices --------------------------------------------------------------------------------------------
# Calibration (reference card): with retirement reward lambda per remaining step, the value of a Beta(a, b) arm
# with h pulls left is V_h(a,b;lam) = max(0, p - lam + p V_{h-1}(a+1,b) + (1-p) V_{h-1}(a,b+1)), V_0 = 0,
# p = a/(a+b); the index is the lam at which pulling once more and then acting optimally is worth exactly 0.
#
# Bisection per lattice state would cost O(h^2) per state and O(n^5) in all. Instead we solve the calibration
# problem exactly for a shared grid of lam values (one backward sweep over the whole lattice per grid value,
# vectorised over the grid) and keep, for every state, R = expected reward and T = expected number of pulls
# of the optimal "pull once, then continue while worth it" policy. The index is the best reward rate over all
# stopping rules, max R/T (Gittins' characterisation), and every grid policy is one such stopping rule, so
# max_g R_g/T_g is a lower bound that is exact whenever at most one continuation decision changes between the
# grid value just below and just above the index (it is the max of the tangents of the convex piecewise-linear
# continuation value). See gittins_grid_points for the grid sizes and their accuracy.
def gittins_grid_points(n):
    """Grid size for the finite-horizon table: the sweep costs ~n^3/3 x grid points. 65 points are accurate to
    ~1e-5 on average; at n = 500 we use 17 (about 6 s), whose coarser indices changed the mean total reward
    by less than 0.1 at (n=100, k=10 and 50) in a paired comparison with 129 points (SE of Table 1: 0.36)."""
    return 65 if n <= 120 else 33 if n <= 250 else 17


def _tetrahedral(t):
    """Number of lattice states (t', d, s) with s <= d <= t' < t: offset of time step t in the packed table."""
    return t * (t + 1) * (t + 2) // 6


@functools.lru_cache(maxsize=4)
def gittins_index_table(n, grid_points=None):
    """Finite-horizon (undiscounted) Gittins indices for every state a policy can meet in an n-pull trial.

    Returns a read-only float32 vector `table` packed by time step: the index of an arm with s successes and
    f failures (posterior Beta(s+1, f+1), d = s + f) at time step t (0-based, so h = n - t pulls are left,
    including the current one; d <= t) is table[t(t+1)(t+2)/6 + d(d+1)/2 + s]. Use gittins_index() to look up.
    Memory: n(n+1)(n+2)/6 floats (84 MB at n = 500). Cached per n.
    """
    grid_points = gittins_grid_points(n) if grid_points is None else grid_points
    lam = np.linspace(0.0, 1.0, grid_points, dtype=np.float32)[:, None, None]
    size = n + 2
    d_idx = np.arange(size, dtype=np.float32)[:, None]
    s_idx = np.arange(size, dtype=np.float32)[None, :]
    # Lattice stored as square (d, s) arrays; the upper triangle s > d is never read by a valid state (p = 0).
    post_mean = np.where(s_idx <= d_idx, (s_idx + 1) / (d_idx + 2), 0.0).astype(np.float32)
    R = np.zeros((grid_points, size, size), np.float32)  # expected reward, h-1 pulls left, optimal stopping
    T = np.zeros_like(R)  # expected number of pulls
    R_new, T_new = np.zeros_like(R), np.zeros_like(R)
    rate_buffer, keep_buffer = np.empty_like(R), np.empty(R.shape, dtype=bool)
    table = np.empty(_tetrahedral(n), np.float32)
    for h in range(1, n + 1):
        m = n - h  # states with d <= m can occur with h pulls left
        index = np.empty((m + 1, m + 1), np.float32)
        # Row blocks with column ranges trimmed to the triangle halve the wasted work on s > d.
        edges = np.unique(np.linspace(0, m + 1, 5).astype(int))
        for d0, d1 in zip(edges[:-1], edges[1:]):
            p = post_mean[d0:d1, :d1]
            r_succ, r_fail = R[:, d0 + 1:d1 + 1, 1:d1 + 1], R[:, d0 + 1:d1 + 1, 0:d1]
            t_succ, t_fail = T[:, d0 + 1:d1 + 1, 1:d1 + 1], T[:, d0 + 1:d1 + 1, 0:d1]
            rc, tc = R_new[:, d0:d1, :d1], T_new[:, d0:d1, :d1]
            # Pull once (reward p), then follow the optimal continuation of the posterior reached.
            np.subtract(r_succ, r_fail, out=rc); rc *= p; rc += r_fail; rc += p
            np.subtract(t_succ, t_fail, out=tc); tc *= p; tc += t_fail; tc += 1.0
            rate = np.divide(rc, tc, out=rate_buffer[:, :d1 - d0, :d1])
            index[d0:d1, :d1] = rate.max(axis=0)
            keep = np.greater(rate, lam, out=keep_buffer[:, :d1 - d0, :d1])  # else R - lam*T <= 0: retire
            rc *= keep
            tc *= keep
        t = n - h
        rows, cols = np.tril_indices(m + 1)
        table[_tetrahedral(t):_tetrahedral(t + 1)] = index[rows, cols]
        R, R_new = R_new, R
        T, T_new = T_new, T
    table.flags.writeable = False
    return table


def gittins_index(n, t, successes, failures):
    """Finite-horizon Gittins index (n-pull trial, time step t, so n - t pulls left) of arms with the given
    success/failure counts (arrays of any shape, s + f <= t)."""
    table = gittins_index_table(n)
    s = np.asarray(successes, dtype=np.int64)
    d = s + np.asarray(failures, dtype=np.int64)
    if not 0 <= t < n or d.max(initial=0) > t:
        raise ValueError(f"no Gittins index for time step {t} of {n} with {d.max(initial=0)} pulls of one arm")
    return table[_tetrahedral(t) + d * (d + 1) // 2 + s]


def gittins_index_exact(h, successes, failures, tol=1e-10):
    """Reference implementation for tests: the finite-horizon index of one state by bisection on lam, solving
    the calibration recursion on the state's own subtree (O(h^2) per bisection step; use only for small h)."""
    a, b = successes + 1, failures + 1
    lo, hi = a / (a + b), 1.0  # the index is at least the posterior mean (one pull) and at most 1
    while hi - lo > tol:
        lam = 0.5 * (lo + hi)
        value = np.zeros(h + 1)
        for depth in range(h - 1, -1, -1):  # nodes at this depth: i = 0..depth successes
            i = np.arange(depth + 1)
            p = (a + i) / (a + b + depth)
            value = p - lam + p * value[1:depth + 2] + (1 - p) * value[:depth + 1]
            if depth > 0:
                value = np.maximum(value, 0.0)
        lo, hi = (lam, hi) if value[0] > 0 else (lo, lam)
    return 0.5 * (lo + hi)


@functools.lru_cache(maxsize=16)
def gittins_discounted_table(gamma, n, grid_points=33):
    """Infinite-horizon discounted Gittins index of Beta(s+1, f+1) arms, as a float32 array index[d, s] for
    d = s + f <= n. Calibration V(a,b;lam) = max(0, p - lam + gamma (p V(a+1,b) + (1-p) V(a,b+1))) on a
    lattice truncated min(2000, 6/(1-gamma)) layers beyond n, where the posterior is narrow enough to be
    treated as known (value max(0, p - lam)/(1 - gamma)). Same grid / reward-rate scheme as
    gittins_index_table, with discounted reward and discounted time."""
    depth = n + min(2000, int(math.ceil(6.0 / (1.0 - gamma))))
    lam = np.linspace(0.0, 1.0, grid_points)[:, None]
    index = np.zeros((n + 1, n + 1), np.float32)
    p = (np.arange(depth + 1) + 1.0) / (depth + 2.0)
    keep = p[None, :] > lam
    R = np.where(keep, p / (1.0 - gamma), 0.0)  # layer `depth`: frozen posterior, pull forever or never
    T = np.where(keep, 1.0 / (1.0 - gamma), 0.0)
    for d in range(depth - 1, -1, -1):
        p = (np.arange(d + 1) + 1.0) / (d + 2.0)
        rc = p + gamma * (p * R[:, 1:d + 2] + (1 - p) * R[:, :d + 1])
        tc = 1.0 + gamma * (p * T[:, 1:d + 2] + (1 - p) * T[:, :d + 1])
        rate = rc / tc
        if d <= n:
            index[d, :d + 1] = rate.max(axis=0)
        keep = rate > lam
        R, T = rc * keep, tc * keep
    index.flags.writeable = False
    return index


# -- Policies ----------------------------------------------------------------------------------------------------

def _argmax_random_ties(values, rng):
    """Row-wise argmax with ties broken uniformly at random (values: (N, k))."""
    is_max = values == values.max(axis=1, keepdims=True)
    return np.argmax(rng.random(values.shape, dtype=np.float32) * is_max, axis=1)


def _beta_sample(rng, a, b):
    """Beta(a, b) draws as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b) in float32: the same distribution as
    rng.beta, 2-3x faster, which matters because TS and OTS dominate the cost of the large cells."""
    x = rng.standard_gamma(a, dtype=np.float32)
    y = rng.standard_gamma(b, dtype=np.float32)
    x /= x + y
    return x


def bandit_policy_step(method, successes, failures, t, n, rng, **hp):
    """Actions (N,) of `method` at time step t (0-based) of an n-pull trial, given per-arm success and failure
    counts (N, k) observed so far. Vectorised over the N instances; rng supplies the policy's randomness.

    Hyperparameters: Gittins variant="finite" | "discounted" (+ gamma); OTS rule="vote"|"max"|"mean", samples;
    UCB1 c; eps-greedy / Greedy eps. UCB1 and eps-greedy start from one success and one failure per arm
    (Beta(1, 1) prior, paper §3.1); Gittins, TS and OTS use the true Beta(1, 1) prior.
    """
    N, k = successes.shape
    if method == "Random":
        return rng.integers(0, k, size=N)
    a = successes + 1.0  # posterior Beta(a, b); also the UCB1 / eps-greedy initialisation
    b = failures + 1.0
    if method == "Gittins":
        if hp.get("variant", "finite") == "finite":
            values = gittins_index(n, t, successes, failures)
        else:
            values = gittins_discounted_table(float(hp["gamma"]), n)[successes + failures, successes]
        return _argmax_random_ties(values, rng)
    if method == "TS":
        # Continuous samples: ties have probability ~0, so plain argmax.
        return np.argmax(_beta_sample(rng, a.astype(np.float32), b.astype(np.float32)), axis=1)
    if method == "OTS":
        rule, samples = hp.get("rule", "vote"), int(hp.get("samples", 1))
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
        if rule == "mean":  # May et al. (2012): optimistic sample = max(sample, posterior mean)
            draws = np.maximum(_beta_sample(rng, a32, b32), a32 / (a32 + b32))
            for _ in range(samples - 1):
                np.maximum(draws, _beta_sample(rng, a32, b32), out=draws)
            return _argmax_random_ties(draws, rng)  # several arms can sit exactly at their mean
        if rule == "max":  # per arm the largest of S posterior samples
            draws = _beta_sample(rng, a32, b32)
            for _ in range(samples - 1):
                np.maximum(draws, _beta_sample(rng, a32, b32), out=draws)
            return np.argmax(draws, axis=1)
        if rule == "vote":  # the arm that is best in most of S joint posterior samples
            draws = _beta_sample(rng, np.broadcast_to(a32, (samples, N, k)), np.broadcast_to(b32, (samples, N, k)))
            best = np.argmax(draws, axis=2)  # (samples, N)
            wins = np.zeros((N, k))
            np.add.at(wins, (np.broadcast_to(np.arange(N), best.shape), best), 1)
            return _argmax_random_ties(wins, rng)
        raise ValueError(f"unknown OTS rule {rule!r}")
    mean = a / (a + b)
    if method == "UCB1":
        # ucb_i(t) = mu_i(t-1) + c sqrt(2 log t / T_i(t-1)) with t counted from 1 (paper §3.1; at t = 1 the
        # bonus is 0 and all arms tie); T_i includes the two initial pseudo-observations.
        return _argmax_random_ties(mean + hp["c"] * np.sqrt(2.0 * math.log(t + 1) / (a + b)), rng)
    if method in ("eps-greedy", "Greedy"):
        eps = hp.get("eps", 0.0) if method == "eps-greedy" else 0.0
        actions = _argmax_random_ties(mean, rng)
        if eps > 0:
            explore = rng.random(N) < eps
            actions = np.where(explore, rng.integers(0, k, size=N), actions)
        return actions
    raise ValueError(f"unknown bandit method {method!r}")


def gittins_action(successes, failures, t, n, rng, variant="finite", gamma=None):
    """Gittins actions (N,) at time step t; see bandit_policy_step."""
    return bandit_policy_step("Gittins", successes, failures, t, n, rng, variant=variant, gamma=gamma)


# -- Simulation ----------------------------------------------------------------------------------------------------

def draw_reward_table(probs, n, rng):
    """Bernoulli outcomes (n, N, k) bool: [j, i, a] is the reward of the j-th pull of arm a in instance i.
    Every method is run on the same table (common random numbers), so two methods that pull an arm equally
    often see the same rewards; this makes paired comparisons between methods much sharper."""
    N, k = probs.shape
    table = np.empty((n, N, k), dtype=bool)
    probs32 = probs.astype(np.float32)
    for j in range(n):
        table[j] = rng.random((N, k), dtype=np.float32) < probs32
    return table


def simulate_bandit(method, probs, n, rewards, rng, **hp):
    """Total reward (N,) of `method` over n pulls on instances probs (N, k), rewards from draw_reward_table."""
    N, k = probs.shape
    successes = np.zeros((N, k), np.int64)
    failures = np.zeros((N, k), np.int64)
    rows = np.arange(N)
    total = np.zeros(N)
    for t in range(n):
        actions = bandit_policy_step(method, successes, failures, t, n, rng, **hp)
        pulls = successes[rows, actions] + failures[rows, actions]
        r = rewards[pulls, rows, actions]
        successes[rows, actions] += r
        failures[rows, actions] += ~r
        total += r
    return total


def _policy_stream(method):
    """Key of a method's policy random stream. Greedy shares eps-greedy's, so eps = 0 reproduces Greedy exactly."""
    return BANDIT_METHODS.index("eps-greedy" if method == "Greedy" else method)


def tune_bandit_method(method, grid, k, n, seed=0, instances=500):
    """Grid search on `instances` tuning bandits (disjoint from evaluation ones). Returns (best hp, mean scores):
    every grid point sees the same instances, rewards and policy random stream, so the comparison is paired.
    For Gittins the finite-horizon index (grid[0]: exact for a known horizon, within 0.003 of Bayes-optimal
    where that can be checked) is kept unless a discounted variant beats it significantly (paired one-sided
    t-test, p = 0.05), so that tuning noise does not swap in a worse approximation."""
    probs = _rng(seed, 2).random((instances, k))
    rewards = draw_reward_table(probs, n, _rng(seed, 3))
    totals = [simulate_bandit(method, probs, n, rewards, _rng(seed, 5, _policy_stream(method)), **hp) for hp in grid]
    scores = [float(x.mean()) for x in totals]
    best = int(np.argmax(scores))
    if method == "Gittins" and best != 0 and 0 in paired_significance(dict(enumerate(totals))):
        best = 0
    return dict(grid[best]), scores


def bandit_grid(method, n, k):
    """The hyperparameter grid of a method for horizon n and k arms (None: nothing to tune)."""
    if method == "Gittins":
        return gittins_grid(n)
    if method == "OTS":
        return ots_grid(n, k)
    if method == "UCB1":
        return [{"c": c} for c in UCB1_GRID]
    if method == "eps-greedy":
        return [{"eps": e} for e in EPS_GRID]
    return None


def run_bandit_baselines(probs, n, seed=0, tune=True, tune_instances=500, methods=None, fixed=()):
    """Evaluate the classic methods on exactly these instances.

    probs: (N, k) arm probabilities; n: pulls per trial. Returns (totals, hyperparameters): totals[method] is
    the per-instance total reward over n pulls, shape (N,); hyperparameters[method] the values used (chosen by
    grid search on tune_instances separate tuning bandits when tune=True, else DEFAULT_HYPERPARAMETERS).
    Reward draws and policy randomness come from generators derived from seed (own streams, not the caller's).
    fixed: extra rows (name, method, hyperparameters) run untuned on the same instances and reward table.
    """
    probs = np.asarray(probs, dtype=np.float64)
    N, k = probs.shape
    methods = BANDIT_METHODS if methods is None else methods
    rewards = draw_reward_table(probs, n, _rng(seed, 1))
    totals, hyperparameters = {}, {}
    for method in methods:
        grid = bandit_grid(method, n, k)
        if tune and grid is not None:
            hp, _ = tune_bandit_method(method, grid, k, n, seed, tune_instances)
        else:
            hp = dict(DEFAULT_HYPERPARAMETERS[method])
        hyperparameters[method] = hp
        totals[method] = simulate_bandit(method, probs, n, rewards, _rng(seed, 4, _policy_stream(method)), **hp)
    for name, method, hp in fixed:
        hyperparameters[name] = dict(hp)
        totals[name] = simulate_bandit(method, probs, n, rewards, _rng(seed, 4, _policy_stream(method)), **hp)
    return totals, hyperparameters


# -- Exact Bayes-optimal value ------------------------------------------------------------------------------------

def _bayes_state_count(k, n, limit):
    """Number of DP states (multisets of <= k pulled-arm counts (s, f), s + f >= 1, total pulls < n), or None
    once it exceeds limit. Counting by weight w = s + f (w + 1 kinds of arm per weight), smallest weights first,
    so the partial count is a lower bound and we can stop early."""
    counts = np.zeros((k + 1, n), dtype=np.float64)  # counts[c, total]: c pulled arms with total pulls
    counts[0, 0] = 1
    for w in range(1, n):
        for _ in range(w + 1):
            for c in range(1, k + 1):  # unbounded multiplicity: in-place, increasing c
                counts[c, w:] += counts[c - 1, :n - w]
        if counts.sum() > limit:
            return None
    return int(counts.sum())


@functools.lru_cache(maxsize=None)
def bayes_optimal_bandit(k, n, max_states=1_500_000):
    """Exact Bayes-optimal expected total reward of an n-pull, k-arm Bernoulli bandit with U(0,1) priors, by
    dynamic programming over posterior counts; None when the DP would exceed max_states states.

    The state is the multiset of per-arm (successes, failures): arms are exchangeable, so sorting the per-arm
    counts loses nothing. At most n arms can ever be pulled and fresh arms are identical, so for k >= n the
    value equals the k = n value (computed with min(k, n) arms)."""
    k = min(k, n)
    if _bayes_state_count(k, n, max_states) is None:
        return None
    width = n + 2  # arm code = s * width + f
    memo = {}

    def value(state, h):  # optimal expected reward of the h remaining pulls
        cached = memo.get(state)
        if cached is not None:
            return cached
        best, previous = 0.0, -1
        for i, code in enumerate(state):
            if code == previous:  # identical arms have identical values
                continue
            previous = code
            s, f = divmod(code, width)
            p = (s + 1) / (s + f + 2)
            if h == 1:
                v = p
            else:
                arms = list(state)
                arms[i] = code + width
                after_success = tuple(sorted(arms))
                arms[i] = code + 1
                after_failure = tuple(sorted(arms))
                v = p * (1.0 + value(after_success, h - 1)) + (1.0 - p) * value(after_failure, h - 1)
            best = max(best, v)
        memo[state] = best
        return best

    return value(tuple([0] * k), n)


# -- Printing ------------------------------------------------------------------------------------------------------

def _format_hp(hp):
    return ", ".join(f"{key}={value}" for key, value in hp.items()) if hp else ""


def format_table_row(n, k, rows, hyperparameters=None, bayes_optimal="auto"):
    """A Table 1 cell as text: one line per method (ours: mean ± SE, '*' = best or not significantly worse by a
    paired one-sided t-test at p = 0.05, the paper's value, hyperparameters), then the exact Bayes-optimal value
    (computed when tractable; pass a number or None to skip the DP) and the oracle n*k/(k+1).
    rows: method -> per-instance totals on shared instances (any subset of Table 1's methods, e.g. + "RL2")."""
    hyperparameters = hyperparameters or {}
    paper = PAPER_TABLE1.get((n, k), {})
    starred = paired_significance(rows)
    N = len(next(iter(rows.values())))
    w = max([12] + [len(method) for method in rows])  # the method column fits the longest name
    lines = [f"Table 1 cell n={n}, k={k}: total reward over n pulls, {N} instances "
             f"(* = best or not significantly worse, paired one-sided t-test p=0.05)",
             f"{'method':<{w}} {'ours':>18}   {'paper':>6}   hyperparameters"]
    for method, x in rows.items():
        mean, se = mean_stderr(x)
        mark = "*" if method in starred else " "
        paper_value = f"{paper[method]:6.1f}" if method in paper else f"{'-':>6}"
        lines.append(f"{method:<{w}} {mean:9.3f} ± {se:6.3f}{mark}  {paper_value}   "
                     f"{_format_hp(hyperparameters.get(method, {}))}")
    if bayes_optimal == "auto":
        bayes_optimal = bayes_optimal_bandit(k, n)
    bayes_text = f"{bayes_optimal:9.4f}" if bayes_optimal is not None else "intractable here"
    lines.append(f"{'Bayes-opt.':<{w}} {bayes_text}   (exact DP over posterior counts, expected value)")
    lines.append(f"{'Oracle':<{w}} {oracle_bandit(k, n):9.4f}   (knows p: n*k/(k+1))")
    return "\n".join(lines)


def _bandit_cell(k, n, instances, seed, tune, fixed=()):
    """Run one Table 1 cell; returns (totals, hyperparameters, seconds)."""
    start = time.perf_counter()
    totals, hp = run_bandit_baselines(bandit_instances(k, instances, seed), n, seed=seed, tune=tune, fixed=fixed)
    return totals, hp, time.perf_counter() - start


# ---- Random tabular MDPs (paper §3.2, Table 2) ----

# Table 2 of the paper: mean total reward over n episodes, 1000 MDPs (reference card).
PAPER_TABLE2 = {
    10: {"Random": 100.1, "PSRL": 138.1, "OPSRL": 144.1, "UCRL2": 146.6, "BEB": 150.2,
         "eps-greedy": 132.8, "Greedy": 134.8, "RL2": 156.2},
    25: {"Random": 250.2, "PSRL": 408.8, "OPSRL": 425.2, "UCRL2": 424.1, "BEB": 427.8,
         "eps-greedy": 377.3, "Greedy": 368.8, "RL2": 445.7},
    50: {"Random": 499.7, "PSRL": 904.4, "OPSRL": 930.7, "UCRL2": 918.9, "BEB": 917.8,
         "eps-greedy": 823.3, "Greedy": 769.3, "RL2": 936.1},
    75: {"Random": 749.9, "PSRL": 1417.1, "OPSRL": 1449.2, "UCRL2": 1427.6, "BEB": 1422.6,
         "eps-greedy": 1293.9, "Greedy": 1172.9, "RL2": 1428.8},
    100: {"Random": 999.4, "PSRL": 1939.5, "OPSRL": 1973.9, "UCRL2": 1942.1, "BEB": 1935.1,
          "eps-greedy": 1778.2, "Greedy": 1578.5, "RL2": 1913.7},
}
MDP_METHODS = ["Random", "PSRL", "OPSRL", "UCRL2", "BEB", "eps-greedy", "Greedy"]

# Priors. "tabularl" is TabulaRL's default (mu0 = 0, tau0 = 1, alpha0 = 1), what the paper ran;
# "true" matches the task distribution's reward-mean prior N(1, 1) (alpha0 = 1 is already exact).
MDP_PRIORS = {"tabularl": {"mu0": 0.0, "tau0": 1.0, "alpha0": 1.0},
              "true": {"mu0": 1.0, "tau0": 1.0, "alpha0": 1.0}}
# TabulaRL's UCRL2 and EpsilonGreedy agents override the prior so that its effect -> 0
# (UCRL2: alpha0 = 1e-5, tau0 = 1e-4; EpsilonGreedy: alpha0 = tau0 = 1e-4): their "MAP" model is
# the empirical one (unvisited pairs: reward mu0 = 0, uniform transitions). Applied with
# prior="tabularl" only; prior="true" gives every method the true prior.
MDP_TABULARL_OVERRIDES = {"UCRL2": {"tau0": 1e-4, "alpha0": 1e-5},
                          "eps-greedy": {"tau0": 1e-4, "alpha0": 1e-4},
                          "Greedy": {"tau0": 1e-4, "alpha0": 1e-4}}
MDP_REWARD_PRECISION = 1.0  # tau: the reward noise is N(0, 1) and the algorithms know it
MDP_UCRL2_DELTA = 0.05      # TabulaRL default
# Grid searched per n (the paper: "every method with a hyperparameter gets a grid search").
# Defaults (used with tune=False) are TabulaRL's: nSamp = 10, scaling = 1, epsilon = 0.1.
MDP_GRIDS = {"OPSRL": ("n_samples", [2, 5, 10, 20], 10),
             "UCRL2": ("c", [0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0], 1.0),
             "BEB": ("beta", [0.1, 0.3, 0.5, 1.0, 2.0, 3.0, 10.0], 1.0),
             "eps-greedy": ("eps", [0.02, 0.05, 0.1, 0.2, 0.3], 0.1)}


def sample_mdps(num, rng, n_states=10, n_actions=5):
    """Draw `num` MDPs from the Table 2 distribution: the single source of truth for the task.

    Returns P (num, S, A, S) with P[i, s, a] ~ Dirichlet(1, ..., 1) and R_mean (num, S, A) with
    R_mean[i, s, a] ~ N(1, 1). The reward for taking a in s is N(R_mean[i, s, a], 1).
    """
    P = rng.dirichlet(np.ones(n_states), size=(num, n_states, n_actions))
    R_mean = rng.normal(1.0, 1.0, size=(num, n_states, n_actions))
    return P, R_mean


def mdp_max_over_actions(q):
    """max over the last axis (A = 5) by A - 1 element-wise maxima: numpy's reduction over a
    short innermost axis was about 6x slower, and it sits inside every backward step."""
    v = q[..., 0].copy()
    for a in range(1, q.shape[-1]):
        np.maximum(v, q[..., a], out=v)
    return v


def mdp_backward_induction(P, R, T):
    """Finite-horizon optimal values for `num` MDPs at once (TabulaRL's compute_qVals).

    P (num, S, A, S), R (num, S, A) mean reward of taking a in s. Returns Q (num, T, S, A) with
    Q[:, h, s, a] the optimal expected reward-to-go from step h (0-based) and V (num, T + 1, S),
    V[:, T] = 0. Non-stationary: the policy argmax_a Q[:, h, s] depends on h.
    """
    num, S, A = R.shape
    Q = np.empty((num, T, S, A))
    V = np.zeros((num, T + 1, S))
    P_flat = P.reshape(num, S * A, S)
    for h in range(T - 1, -1, -1):
        Q[:, h] = R + (P_flat @ V[:, h + 1, :, None]).reshape(num, S, A)
        V[:, h] = mdp_max_over_actions(Q[:, h])
    return Q, V


def mdp_optimistic_transitions(p_hat, p_slack, v_next):
    """UCRL2's inner maximisation of p . v over {p in simplex : ||p - p_hat||_1 <= p_slack}.

    As TabulaRL's compute_qVals_EVI (Jaksch et al. 2010, Fig. 2): move
    min(p_slack / 2, 1 - p_hat[best]) of mass onto the next state with the highest v_next and
    take it away from the states with the lowest v_next first.
    p_hat (num, S, A, S), p_slack (num, S, A), v_next (num, S). Returns p_opt like p_hat.
    This is one backward step. mdp_extended_value_iteration chains them as TabulaRL does: its loop
    edits P_hat in place, so each backward step starts from the previous step's optimistic vector.
    """
    num, S, A, _ = p_hat.shape
    p_cols = np.ascontiguousarray(p_hat.reshape(num, S * A, S).transpose(0, 2, 1))
    p_opt = mdp_optimistic_columns(p_cols, p_slack.reshape(num, 1, S * A), v_next)
    return p_opt.transpose(0, 2, 1).reshape(p_hat.shape)


def mdp_optimistic_columns(p_cols, p_slack, v_next):
    """mdp_optimistic_transitions on the next-state-major layout p_cols (num, S, S*A), whose
    column (s, a) is p_hat[s, a]; p_slack (num, 1, S*A). This layout keeps numpy's inner loops
    long (S*A) instead of S (measured about 5x faster).

    Vectorised without a loop or a gather: rank the next states by v_next once per planning
    step; the mass removed from state j is clip(moved - (mass of the states ranked below j),
    0, p_j), and "mass ranked below j" for every column is one batched matmul with the 0/1
    matrix [rank_k < rank_j]. For the best state that mass is 1 - p_best >= moved, so nothing is
    removed from it.
    """
    num = len(v_next)
    idx = np.arange(num)
    order = np.argsort(v_next, axis=-1)
    rank = np.argsort(order, axis=-1)  # 0 = lowest value, S - 1 = best
    best = order[:, -1]
    below = (rank[:, :, None] > rank[:, None, :]).astype(p_cols.dtype)  # [i, j, k]: k below j
    p_best = p_cols[idx, best][:, None, :]  # (num, 1, S*A)
    moved = np.maximum(np.minimum(p_slack / 2.0, 1.0 - p_best), 0.0)
    # In-place from here on: fresh 4 MB temporaries cost page faults that made this 10x slower.
    removed = np.matmul(below, p_cols)  # mass of the states ranked below j
    np.subtract(moved, removed, out=removed)
    np.maximum(removed, 0.0, out=removed)
    np.minimum(removed, p_cols, out=removed)
    p_opt = np.subtract(p_cols, removed, out=removed)
    p_opt[idx, best] += moved[:, 0]
    return p_opt


def mdp_extended_value_iteration(P_hat, R_opt, P_slack, T):
    """Finite-horizon extended value iteration (UCRL2): backward induction where each (s, a, h)
    uses the optimistic transition vector for the next step's values. Returns Q, V as
    mdp_backward_induction.

    As TabulaRL's compute_qVals_EVI (which the paper ran): its pOpt aliases P_hat[s, a] and is
    edited in place, so each backward step starts from the previous step's optimistic vector
    (the optimism accumulates over the steps to go), except where the step put all mass on the
    best state (p_best + P_slack / 2 > 1), which builds a fresh vector and leaves P_hat[s, a]
    as it was. Starting every step from P_hat instead scores 8.5 +- 1.4 (n = 50) and
    27 +- 3 (n = 100) lower at c = 0.3 (500 MDPs, paired), below the paper's UCRL2 column.
    """
    num, S, A = R_opt.shape
    Q = np.empty((num, T, S, A))
    V = np.zeros((num, T + 1, S))
    p_cols = np.ascontiguousarray(P_hat.reshape(num, S * A, S).transpose(0, 2, 1))
    slack = P_slack.reshape(num, 1, S * A)
    idx = np.arange(num)
    for h in range(T - 1, -1, -1):
        best = np.argsort(V[:, h + 1], axis=-1)[:, -1]  # the best state mdp_optimistic_columns uses
        p_opt = mdp_optimistic_columns(p_cols, slack, V[:, h + 1])  # leaves p_cols as it is
        Q[:, h] = R_opt + (V[:, h + 1, None, :] @ p_opt).reshape(num, S, A)
        V[:, h] = mdp_max_over_actions(Q[:, h])
        p_cols = np.where(p_cols[idx, best][:, None, :] + slack / 2.0 > 1.0, p_cols, p_opt)
    return Q, V


def mdp_new_stats(num, n_states, n_actions):
    """Sufficient statistics of a trial: visit counts, reward sums, transition counts."""
    return {"n_sa": np.zeros((num, n_states, n_actions)),
            "r_sum": np.zeros((num, n_states, n_actions)),
            "n_trans": np.zeros((num, n_states, n_actions, n_states))}


def mdp_update_stats(stats, s, a, r, s_next):
    """Add one episode's trajectories (each (num, T)) to the statistics, in place.

    As TabulaRL's update_obs: every reward counts, but the transition of the episode's last step
    is not recorded (pContinue = 0 there). That quirk throws away 1 of every T transitions; we
    keep it because the paper's numbers come from that code.
    """
    num, S, A = stats["n_sa"].shape
    sa = (np.arange(num)[:, None] * S + s) * A + a  # flat (instance, s, a) index
    stats["n_sa"] += np.bincount(sa.ravel(), minlength=num * S * A).reshape(num, S, A)
    stats["r_sum"] += np.bincount(sa.ravel(), r.ravel(), minlength=num * S * A).reshape(num, S, A)
    sas = (sa[:, :-1] * S + s_next[:, :-1]).ravel()
    stats["n_trans"] += np.bincount(sas, minlength=num * S * A * S).reshape(num, S, A, S)


def mdp_posterior(stats, mu0, tau0, alpha0, tau=MDP_REWARD_PRECISION):
    """Conjugate posterior: reward mean of (s, a) ~ N(mu, 1 / tau_post) with
    tau_post = tau0 + tau * n and mu = (tau0 * mu0 + tau * sum r) / tau_post (known noise
    precision tau); transitions ~ Dirichlet(alpha0 + counts). Returns (mu, tau_post, alpha)."""
    tau_post = tau0 + tau * stats["n_sa"]
    mu = (tau0 * mu0 + tau * stats["r_sum"]) / tau_post
    return mu, tau_post, alpha0 + stats["n_trans"]


def mdp_pick_actions(q, eps, rng):
    """Greedy action per row of q (num, A), ties broken uniformly at random (as TabulaRL's
    egreedy); with probability eps a uniformly random action instead."""
    best = q >= q.max(-1, keepdims=True) - 1e-9 * (1.0 + np.abs(q).max(-1, keepdims=True))
    a = (rng.random(q.shape) * best).argmax(-1)
    if eps > 0:
        explore = rng.random(len(a)) < eps
        a[explore] = rng.integers(q.shape[1], size=int(explore.sum()))
    return a


def mdp_run_episode(P_cum, R_mean, Q, eps, rng):
    """One episode from state 0 on every MDP, acting on Q (num, T, S, A).

    P_cum is the cumulative sum of P over next states (last entry forced to 1). Returns the
    trajectories s, a, r, s_next, each (num, T).
    """
    num, T = Q.shape[:2]
    idx = np.arange(num)
    s = np.zeros(num, dtype=np.int64)
    out = np.empty((4, num, T))
    for h in range(T):
        a = mdp_pick_actions(Q[idx, h, s], eps, rng)
        r = R_mean[idx, s, a] + rng.standard_normal(num)
        s_next = (P_cum[idx, s, a] < rng.random(num)[:, None]).sum(-1)
        out[:, :, h] = s, a, r, s_next
        s = s_next
    s, a, r, s_next = out
    return s.astype(np.int64), a.astype(np.int64), r, s_next.astype(np.int64)


def mdp_cumulative(P):
    """Cumulative transition table for sampling next states by inverse CDF."""
    P_cum = np.cumsum(P, axis=-1)
    P_cum[..., -1] = 1.0
    return P_cum


def mdp_method_prior(method, prior):
    """Prior parameters (mu0, tau0, alpha0) a method uses under prior "tabularl" or "true"."""
    params = dict(MDP_PRIORS[prior])
    if prior == "tabularl":
        params.update(MDP_TABULARL_OVERRIDES.get(method, {}))
    return params


def mdp_plan(method, stats, prior_params, hp, episode, T, rng):
    """Q-values (num, T, S, A) a method acts on in `episode` (1-based), planned once per episode.

    - PSRL: one MDP drawn from the posterior, solved by backward induction.
    - OPSRL: hp = number of posterior draws; Q is the element-wise max of their Q-values
      (TabulaRL's OptimisticPSRL).
    - UCRL2: hp = c scaling both slacks; R-slack = c sqrt(4 log(2 S A (t+1) / delta) / max(n, 1)),
      P-slack = c sqrt(4 S log(2 S A (t+1) / delta) / max(n, 1)), t = episode index as TabulaRL's
      experiment loop passes it, n the observed rewards / recorded transitions of (s, a);
      extended value iteration on the posterior-mean model.
    - BEB: posterior-mean model with reward bonus hp / (1 + n(s, a)) (Kolter & Ng 2009).
      TabulaRL's own BEB differs: at step h it adds 1 / (tau_post + 1) plus
      2 H^3 scaling (H - 1 - h) / (1 + S alpha0 + n_trans(s, a)). The paper's BEB column matches
      that form (n = 25, 1000 MDPs, seed 0, scaling tuned: about 424 vs the paper's 427.8),
      while the form here scores 447.9 there.
    - eps-greedy / Greedy: posterior-mean (MAP) model.
    - Random: all-zero Q, so the random tie-breaking picks uniform actions.
    """
    mu, tau_post, alpha = mdp_posterior(stats, **prior_params)
    if method == "Random":
        return np.zeros((mu.shape[0], T) + mu.shape[1:])
    if method in ("PSRL", "OPSRL"):
        Q = None
        for _ in range(1 if method == "PSRL" else int(hp)):
            R_samp = mu + rng.standard_normal(mu.shape) / np.sqrt(tau_post)
            g = rng.standard_gamma(alpha)  # Dirichlet draw = normalised gammas
            Q_k, _ = mdp_backward_induction(g / g.sum(-1, keepdims=True), R_samp, T)
            Q = Q_k if Q is None else np.maximum(Q, Q_k)
        return Q
    P_hat = alpha / alpha.sum(-1, keepdims=True)
    if method == "UCRL2":
        S, A = mu.shape[1:]
        log_term = np.log(2 * S * A * (episode + 1) / MDP_UCRL2_DELTA)
        r_slack = hp * np.sqrt(4 * log_term / np.maximum(stats["n_sa"], 1))
        p_slack = hp * np.sqrt(4 * S * log_term / np.maximum(stats["n_trans"].sum(-1), 1))
        return mdp_extended_value_iteration(P_hat, mu + r_slack, p_slack, T)[0]
    if method == "BEB":
        return mdp_backward_induction(P_hat, mu + hp / (1.0 + stats["n_sa"]), T)[0]
    if method in ("eps-greedy", "Greedy"):
        return mdp_backward_induction(P_hat, mu, T)[0]
    raise ValueError(f"unknown MDP method {method!r}")


def mdp_run_method(P, R_mean, n, T, method, hp, prior, rng, per_episode=False):
    """Total reward over n episodes of `method` on each MDP (trial = n episodes, one MDP).
    Returns (num,) totals, or with per_episode=True the (n, num) reward of each episode."""
    num, S, A = R_mean.shape
    P_cum = mdp_cumulative(P)
    stats = mdp_new_stats(num, S, A)
    prior_params = mdp_method_prior(method, prior)
    eps = hp if method == "eps-greedy" else 0.0
    total, episodes = np.zeros(num), np.zeros((n, num))
    for episode in range(1, n + 1):
        Q = mdp_plan(method, stats, prior_params, hp, episode, T, rng)
        s, a, r, s_next = mdp_run_episode(P_cum, R_mean, Q, eps, rng)
        mdp_update_stats(stats, s, a, r, s_next)
        episodes[episode - 1] = r.sum(-1)
        total += episodes[episode - 1]
    return episodes if per_episode else total


def mdp_myopic(P, R_mean, n, T=10, mu0=1.0, tau0=1.0, rng=None, per_episode=False):
    """Not a column of Table 2: a yardstick for what RL² has to learn. In every state take the action
    with the highest posterior-mean reward (prior N(mu0, 1/tau0), updated after every step, not once
    per episode), ignoring transitions altogether: a bandit per state, with no planning. With the
    true prior (mu0 = 1) an untried action beats any tried one whose mean came out below 1, so it
    explores exactly where the rewards seen are poor. Returns (num,) totals over n episodes, or with
    per_episode=True the (n, num) reward of each episode."""
    rng = np.random.default_rng(0) if rng is None else rng
    num, S, A = R_mean.shape
    P_cum, idx = mdp_cumulative(P), np.arange(num)
    n_sa, r_sum, total, episodes = np.zeros((num, S, A)), np.zeros((num, S, A)), np.zeros(num), np.zeros((n, num))
    for episode in range(n):
        s = np.zeros(num, dtype=np.int64)
        for _ in range(T):
            mu = (tau0 * mu0 + MDP_REWARD_PRECISION * r_sum[idx, s]) / (tau0 + MDP_REWARD_PRECISION * n_sa[idx, s])
            a = mdp_pick_actions(mu, 0.0, rng)
            r = R_mean[idx, s, a] + rng.standard_normal(num)
            n_sa[idx, s, a] += 1
            r_sum[idx, s, a] += r
            total += r
            episodes[episode] += r
            s = (P_cum[idx, s, a] < rng.random(num)[:, None]).sum(-1)
    return episodes if per_episode else total


def oracle_mdp(P, R_mean, n, T=10, rng=None):
    """The ceiling: the optimal policy of each MDP, known in advance, for n episodes.

    Returns (simulated totals (num,), exact expected totals (num,) = n V*_0(state 0)).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    Q, V = mdp_backward_induction(P, R_mean, T)
    P_cum = mdp_cumulative(P)
    total = np.zeros(len(R_mean))
    for _ in range(n):
        total += mdp_run_episode(P_cum, R_mean, Q, 0.0, rng)[2].sum(-1)
    return total, n * V[:, 0, 0]


def mdp_tune(n, T, method, prior, seed, tune_instances):
    """Grid search for one method's hyperparameter on tuning MDPs drawn from an RNG seeded
    seed + 10_000 (disjoint from the evaluation MDPs). All grid values see the same MDPs and the
    same random stream (common random numbers). Returns (best value, {value: mean total})."""
    name, grid, _ = MDP_GRIDS[method]
    P, R_mean = sample_mdps(tune_instances, np.random.default_rng(seed + 10_000))
    scores = {}
    for value in grid:
        rng = np.random.default_rng([seed + 10_000, MDP_METHODS.index(method)])
        scores[value] = float(mdp_run_method(P, R_mean, n, T, method, value, prior, rng).mean())
    return max(scores, key=scores.get), scores


def run_mdp_baselines(P, R_mean, n, T=10, seed=0, prior="tabularl", tune=True,
                      tune_instances=200):
    """Run every method in MDP_METHODS on the given MDPs for n episodes each.

    Returns (totals: method -> (N,) total reward per MDP, hyper: method -> chosen
    hyperparameters). Tuned constants (tune=True) come from a grid search per n on separate
    tuning MDPs; tune=False uses TabulaRL's defaults. Each method has its own random stream
    seeded from (seed, method index), so its result does not depend on which others run.
    """
    if prior not in MDP_PRIORS:
        raise ValueError(f"prior must be one of {sorted(MDP_PRIORS)}")
    totals, hyper = {}, {}
    for method in MDP_METHODS:
        hp = None
        if method in MDP_GRIDS:
            name, _, hp = MDP_GRIDS[method]
            if tune:
                hp, _ = mdp_tune(n, T, method, prior, seed, tune_instances)
            hyper[method] = {name: hp}
        else:
            hyper[method] = {}
        rng = np.random.default_rng([seed, MDP_METHODS.index(method)])
        totals[method] = mdp_run_method(P, R_mean, n, T, method, hp, prior, rng)
    return totals, hyper


def mdp_table_row(n, instances=1000, seed=0, prior="tabularl", tune=True, T=10):
    """Evaluate one Table 2 row: all methods plus the oracle on `instances` MDPs drawn with
    default_rng(seed). Returns a JSON-ready dict."""
    t0 = time.time()
    P, R_mean = sample_mdps(instances, np.random.default_rng(seed))
    totals, hyper = run_mdp_baselines(P, R_mean, n, T=T, seed=seed, prior=prior, tune=tune)
    oracle_sim, oracle_exact = oracle_mdp(P, R_mean, n, T, np.random.default_rng([seed, 99]))
    totals["Oracle"] = oracle_sim
    stats = {m: {"mean": float(x.mean()), "stderr": float(x.std(ddof=1) / np.sqrt(len(x)))}
             for m, x in totals.items()}
    stats["Oracle"]["exact_mean"] = float(oracle_exact.mean())
    return {"experiment": "mdp", "n": n, "instances": instances, "seed": seed, "prior": prior, "tune": tune,
            "rows": stats, "best_or_not_significantly_worse": sorted(paired_significance(
                {m: x for m, x in totals.items() if m != "Oracle"})), "hyperparameters": hyper, "paper": PAPER_TABLE2.get(n, {}),
            "seconds": time.time() - t0}


def mdp_print_row(row):
    """Print one Table 2 row: method, mean ± SE, the paper's value, chosen hyperparameters."""
    print(f"n={row['n']}  instances={row['instances']}  seed={row['seed']}  "
          f"prior={row['prior']}  tuned={row['tune']}  ({row['seconds']:.1f} s)")
    print(f"{'method':<11} {'mean ± SE':>17} {'paper':>8}  hyperparameters")
    for m in MDP_METHODS + ["Oracle"]:
        r = row["rows"][m]
        paper = row["paper"].get(m)
        paper_s = f"{paper:8.1f}" if paper is not None else f"{'-':>8}"
        extra = row["hyperparameters"].get(m, {})
        note = " ".join(f"{k}={v:g}" for k, v in extra.items())
        if m == "Oracle":
            note = f"exact expectation {r['exact_mean']:.1f} (knows the MDP; ceiling)"
        mark = "*" if m in row.get("best_or_not_significantly_worse", ()) else " "
        print(f"{m:<11} {r['mean']:9.1f} ± {r['stderr']:5.1f}{mark} {paper_s}  {note}")
    if "RL2" in row["paper"]:
        print(f"{'RL2':<11} {'(paper only)':>17} {row['paper']['RL2']:8.1f}")


def mdp_bench(instances=1000, seed=0, prior="tabularl"):
    """Time all five Table 2 rows (grid search included) and print per-row and total seconds."""
    t_all = time.time()
    for n in sorted(PAPER_TABLE2):
        t0 = time.time()
        P, R_mean = sample_mdps(instances, np.random.default_rng(seed))
        run_mdp_baselines(P, R_mean, n, seed=seed, prior=prior)
        oracle_mdp(P, R_mean, n, rng=np.random.default_rng([seed, 99]))
        print(f"n={n:3d}: {time.time() - t0:6.1f} s", flush=True)
    print(f"total: {time.time() - t_all:6.1f} s")



# ---- Command line: one subcommand per experiment ----

def mdp_cli(args, parser):
    """CLI: one Table 2 row under one or both priors (or --bench: all five rows)."""
    if args.n < 1:
        parser.error("--n must be at least 1")
    if args.instances < 2:
        parser.error("--instances must be at least 2 (a standard error needs two)")
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        parser.error(f"--json: directory of {args.json!r} does not exist")
    if args.bench:
        mdp_bench(args.instances, args.seed)
        return
    rows = []
    for prior in (["tabularl", "true"] if args.prior == "both" else [args.prior]):
        row = mdp_table_row(args.n, args.instances, args.seed, prior, not args.no_tune)
        mdp_print_row(row)
        rows.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows if len(rows) > 1 else rows[0], f, indent=1)


def bandit_main(args, parser):
    """CLI: one Table 1 cell (or --bench: all nine)."""
    if args.k < 2:
        parser.error(f"--k must be >= 2 (got {args.k})")
    if args.n < 1:
        parser.error(f"--n must be >= 1 (got {args.n})")
    if args.n > 1000:
        parser.error(f"--n must be <= 1000 (the finite-horizon Gittins table grows as n^3; got {args.n})")
    if args.instances < 2:
        parser.error(f"--instances must be >= 2 for a standard error (got {args.instances})")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0 (got {args.seed})")
    for gamma in args.gittins_gamma:
        if not 0 < gamma < 1:
            parser.error(f"--gittins-gamma must lie strictly between 0 and 1 (got {gamma})")
    # RL² maximises the trial's reward discounted with gamma (0.99 in the paper), not the total that Table 1
    # scores; the discounted Gittins index policy is Bayes-optimal for that objective over an infinite horizon
    # (Gittins 1979) and near it for a trial cut at n pulls, so its total shows what the discount alone costs.
    fixed = [(f"Gittins g={gamma:g}", "Gittins", {"variant": "discounted", "gamma": gamma})
             for gamma in args.gittins_gamma]
    cells = sorted(PAPER_TABLE1) if args.bench else [(args.n, args.k)]
    if max(n * k for n, k in cells) * args.instances > 500_000_000:
        parser.error("--instances too large: the reward table would need more than 500 MB")
    if args.json:
        directory = os.path.dirname(os.path.abspath(args.json)) or "."
        writable = os.access(args.json, os.W_OK) if os.path.exists(args.json) else os.access(directory, os.W_OK)
        if os.path.isdir(args.json) or not os.path.isdir(directory) or not writable:
            parser.error(f"cannot write --json file {args.json!r}")
    results = []
    total_start = time.perf_counter()
    for n, k in cells:
        totals, hp, seconds = _bandit_cell(k, n, args.instances, args.seed, not args.no_tune, fixed)
        bayes = bayes_optimal_bandit(k, n)  # fast: small cells are solved, large ones refused at once
        if args.bench:
            means = "  ".join(f"{m} {np.mean(x):.2f}" for m, x in totals.items())
            print(f"n={n:3d} k={k:2d}: {seconds:6.1f} s   {means}", flush=True)
        else:
            print(format_table_row(n, k, totals, hp, bayes_optimal=bayes))
        results.append({
            "experiment": "bandit", "k": k, "n": n, "seed": args.seed, "instances": args.instances,
            "rows": {m: dict(zip(("mean", "stderr"), mean_stderr(x))) for m, x in totals.items()},
            "hyperparameters": hp, "bayes_optimal": bayes,
            "oracle": oracle_bandit(k, n), "paper": PAPER_TABLE1.get((n, k)),
            "best_or_not_significantly_worse": sorted(paired_significance(totals)), "seconds": seconds,
        })
    if args.bench:
        print(f"total: {time.perf_counter() - total_start:.1f} s for {len(cells)} cells, {args.instances} instances "
              f"each, tuning {'off' if args.no_tune else 'on'}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results if args.bench else results[0], handle, indent=2)


def _one_line_errors(parser):
    """Make argparse report bad input as one line on stderr (exit code 2) instead of usage + error."""
    def error(message):
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)
    parser.error = error
    return parser


def main(argv=None):
    parser = _one_line_errors(argparse.ArgumentParser(
        description="Classic baselines of the RL^2 paper (Duan et al. 2016).", allow_abbrev=False))
    sub = parser.add_subparsers(dest="experiment", required=True)
    # One subcommand per experiment; an "mdp" subparser (Table 2) can be added beside this one.
    bandit = _one_line_errors(sub.add_parser("bandit", help="Bernoulli bandits, Table 1", allow_abbrev=False))
    bandit.add_argument("--k", type=int, default=5, help="number of arms")
    bandit.add_argument("--n", type=int, default=10, help="pulls (episodes) per trial")
    bandit.add_argument("--instances", type=int, default=1000, help="evaluation bandits")
    bandit.add_argument("--seed", type=int, default=0)
    bandit.add_argument("--json", default=None, help="write the results to this JSON file")
    bandit.add_argument("--no-tune", action="store_true", help="default hyperparameters instead of grid search")
    bandit.add_argument("--bench", action="store_true",
                        help="run and time all nine Table 1 cells (ignores --k/--n; --json gets a list)")
    bandit.add_argument("--gittins-gamma", type=float, nargs="+", default=[], metavar="G",
                        help="also play the discounted Gittins index with these fixed discounts (rows 'Gittins g=G'): "
                             "the Bayes-optimal policy for RL²'s discounted objective (gamma 0.99)")
    bandit.set_defaults(handler=bandit_main, subparser=bandit)
    mdp = _one_line_errors(sub.add_parser("mdp", help="random tabular MDPs, Table 2", allow_abbrev=False))
    mdp.add_argument("--n", type=int, default=10, help="episodes per trial")
    mdp.add_argument("--instances", type=int, default=1000, help="MDPs to average over")
    mdp.add_argument("--seed", type=int, default=0)
    mdp.add_argument("--prior", choices=["tabularl", "true", "both"], default="tabularl",
                     help="TabulaRL's defaults (what the paper used), the true prior, or both")
    mdp.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    mdp.add_argument("--no-tune", action="store_true", help="use TabulaRL's default constants")
    mdp.add_argument("--bench", action="store_true", help="time all five rows (grid search included)")
    mdp.set_defaults(handler=mdp_cli, subparser=mdp)
    args = parser.parse_args(argv)
    args.handler(args, args.subparser)


if __name__ == "__main__":
    main()
