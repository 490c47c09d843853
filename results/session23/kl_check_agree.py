"""Which epoch would each rule keep? Reads the per-iteration lines 'EP [surrogate_old, [[kl, surr] per epoch], kept]'
that kl_check_probe.patch makes trpo.update print (--kl-check each, every epoch measured), and compares the
authors' rule (best surrogate inside the trust region) with --kl-check last (walk back from the last epoch).

    python results/session23/kl_check_agree.py results/session23/kl_check_probe_epochs.txt
"""
import json
import sys
from collections import Counter

MAX_KL = 0.01
pairs, passes = Counter(), 0
rows = [json.loads(line[3:]) for line in open(sys.argv[1]) if line.startswith("EP ")]
for surr_old, epochs, kept_each in rows:
    best = max([(s, e) for e, (kl, s) in enumerate(epochs, 1) if kl <= MAX_KL and s > surr_old], default=(None, 0))[1]
    assert best == kept_each  # the recomputed authors' rule matches what the run kept
    kept_last = 0
    for e in range(len(epochs), 0, -1):
        passes += 1
        kl, s = epochs[e - 1]
        if kl <= MAX_KL and s > surr_old:
            kept_last = e
            break
    pairs[(best, kept_last)] += 1
same = sum(c for (a, b), c in pairs.items() if a == b)
print(f"{len(rows)} iterations; the same epoch kept in {same}; (each, last) -> count: {sorted(pairs.items())}")
print(f"whole-batch passes to find the kept iterate: each {len(rows) * len(rows[0][1])}, last {passes}")
