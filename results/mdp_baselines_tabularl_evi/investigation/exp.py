"""Scratch: UCRL2 variants, paired on the same MDPs and random streams."""
import sys, time, json, argparse
import numpy as np
sys.path.insert(0, "/work/main")
import baselines as B

orig_evi = B.mdp_extended_value_iteration
orig_plan = B.mdp_plan

def evi_tabularl(P_hat, R_opt, P_slack, T):
    """TabulaRL compute_qVals_EVI semantics: pOpt aliases P_hat[s,a], so each backward step
    starts from the previous step's optimistic vector (only when the 'else' branch ran)."""
    num, S, A = R_opt.shape
    Q = np.empty((num, T, S, A)); V = np.zeros((num, T + 1, S))
    p_cur = np.ascontiguousarray(P_hat.reshape(num, S * A, S).transpose(0, 2, 1)).copy()
    slack = P_slack.reshape(num, 1, S * A)
    idx = np.arange(num)
    for h in range(T - 1, -1, -1):
        v = V[:, h + 1]
        best = np.argsort(v, axis=-1)[:, -1]
        p_best = p_cur[idx, best][:, None, :]
        p_opt = B.mdp_optimistic_columns(p_cur.copy(), slack, v)
        Q[:, h] = R_opt + (V[:, h + 1, None, :] @ p_opt).reshape(num, S, A)
        V[:, h] = B.mdp_max_over_actions(Q[:, h])
        keep = (p_best + slack * 0.5 > 1)  # delta branch: P_hat[s,a] not modified
        p_cur = np.where(keep, p_cur, p_opt)
    return Q, V

TMODE = {"mode": "episode"}
def plan_t(method, stats, prior_params, hp, episode, T, rng):
    if TMODE["mode"] == "steps":   # t = total steps taken before this episode
        episode = (episode - 1) * T
    elif TMODE["mode"] == "steps_end":
        episode = episode * T
    return orig_plan(method, stats, prior_params, hp, episode, T, rng)

def run(P, R, n, c, evi, tmode, seed):
    B.mdp_extended_value_iteration = evi_tabularl if evi == "tab" else orig_evi
    TMODE["mode"] = tmode
    B.mdp_plan = plan_t
    rng = np.random.default_rng([seed, B.MDP_METHODS.index("UCRL2")])
    return B.mdp_run_method(P, R, n, 10, "UCRL2", c, "tabularl", rng)

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int); ap.add_argument("--instances", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--configs", default="pub:episode:0.3")
    ap.add_argument("--ref", default=None)
    ap.add_argument("--out")
    a = ap.parse_args()
    P, R = B.sample_mdps(a.instances, np.random.default_rng(a.seed))
    res = {}
    for cfg in a.configs.split(","):
        evi, tm, c = cfg.split(":")
        t0 = time.time()
        x = run(P, R, a.n, float(c), evi, tm, a.seed)
        res[cfg] = x
        print(f"n={a.n} N={a.instances} seed={a.seed} {cfg:22s} mean {x.mean():8.1f} ± {x.std(ddof=1)/np.sqrt(len(x)):5.1f}  ({time.time()-t0:.0f}s)", flush=True)
    ref = a.ref or list(res)[0]
    for k, x in res.items():
        if k == ref: continue
        d = x - res[ref]
        print(f"   {k:22s} - {ref:22s}: {d.mean():+7.1f} ± {d.std(ddof=1)/np.sqrt(len(d)):4.1f}")
    if a.out:
        np.savez(a.out, **{k.replace(":", "_"): v for k, v in res.items()})
