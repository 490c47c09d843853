import sys, numpy as np
sys.path.insert(0, "/tmp/ucrl2"); sys.path.insert(0, "/work/main")
import baselines as B
from exp import evi_tabularl
def literal(P_hat, R, slack, T):
    S, A = R.shape
    P = P_hat.copy()  # per-(s,a) vectors edited in place as in TabulaRL
    qMax = {T: np.zeros(S)}; Q = np.zeros((T, S, A))
    for i in range(T):
        j = T - i - 1; qMax[j] = np.zeros(S)
        for s in range(S):
            for a in range(A):
                ind = np.argsort(qMax[j + 1]); p = P[s, a]
                if p[ind[-1]] + slack[s, a] * 0.5 > 1:
                    p = np.zeros(S); p[ind[-1]] = 1
                else:
                    p[ind[-1]] += slack[s, a] * 0.5
                k = 0
                while np.sum(p) > 1 + 1e-12:
                    w = ind[k]; p[w] = max(0, 1 - np.sum(p) + p[w]); k += 1
                Q[j, s, a] = R[s, a] + p @ qMax[j + 1]
            qMax[j][s] = Q[j, s].max()
    return Q
rng = np.random.default_rng(1)
P, R = B.sample_mdps(20, rng)
for scale in (0.05, 0.3, 1.5):
    sl = rng.exponential(scale, size=R.shape)
    Qv, _ = evi_tabularl(P, R, sl, 10)
    err = max(np.abs(literal(P[i], R[i], sl[i], 10) - Qv[i]).max() for i in range(20))
    Qp, _ = B.mdp_extended_value_iteration(P, R, sl, 10)
    print(scale, "max|vectorised-literal| =", err, " mean Q0 gap tab-pub =", (Qv[:,0]-Qp[:,0]).mean())
