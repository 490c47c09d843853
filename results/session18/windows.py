"""Mean training-batch trial reward of progress.csv files over windows of steps (side-by-side runs).

    python results/session18/windows.py WINDOW_STEPS A/progress.csv B/progress.csv ...
"""
import csv, sys
w = float(sys.argv[1])
runs = []
for path in sys.argv[2:]:
    rows = list(csv.DictReader(open(path)))
    by = {}
    for r in rows:
        by.setdefault(int(float(r["steps"]) // w), []).append(float(r["trial_reward"]))
    runs.append(by)
print("window(M steps) " + " ".join(f"{p.split('/')[-2][:22]:>22}" for p in sys.argv[2:]))
for k in sorted(set().union(*runs)):
    cells = [f"{sum(by[k]) / len(by[k]):22.2f}" if k in by else " " * 22 for by in runs]
    print(f"{k * w / 1e6:5.1f}-{(k + 1) * w / 1e6:5.1f}     " + " ".join(cells))
