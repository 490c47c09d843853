import sys, importlib.util, numpy as np
sys.path.insert(0, "/work/main")
import baselines as new
spec = importlib.util.spec_from_file_location("orig", "/tmp/ucrl2/baselines.orig.py")
orig = importlib.util.module_from_spec(spec); spec.loader.exec_module(orig)
for n in (50, 75, 100):
    P, R = new.sample_mdps(1000, np.random.default_rng(0))
    out = {}
    for name, m in (("orig", orig), ("fixed", new)):
        rng = np.random.default_rng([0, m.MDP_METHODS.index("UCRL2")])
        out[name] = m.mdp_run_method(P, R, n, 10, "UCRL2", 0.3, "tabularl", rng)
    se = lambda x: x.std(ddof=1) / np.sqrt(len(x))
    d = out["fixed"] - out["orig"]
    print(f"n={n} N=1000 seed=0 c=0.3  orig {out['orig'].mean():.1f} ± {se(out['orig']):.1f}  "
          f"fixed {out['fixed'].mean():.1f} ± {se(out['fixed']):.1f}  diff {d.mean():+.1f} ± {se(d):.1f}", flush=True)
