"""Figure for README "Table 2, session 15": the training batches' trial reward (the policy's own trials,
mean over each batch, smoothed over 20 iterations) against env steps, RL² from scratch (session 12's
hour) against DAgger on the myopic yardstick, and TRPO started from the DAgger policy.

    python results/session15/plot_imitation_vs_rl.py
"""
import csv, os
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.dirname(HERE)
runs = [("RL² from scratch (TRPO, session 12, 2 processes)", os.path.join(RES, "session12/mdp_n10_cool0.25_60min/progress.csv"), 0),
        ("DAgger on the myopic yardstick (--imitate myopic)", os.path.join(HERE, "dagger_n10_cli/progress.csv"), 0),
        ("TRPO (λ = 0.3) from the probe's 9.4-minute DAgger policy", os.path.join(HERE, "rl_n10_from_dagger/progress.csv"), 15_360_000),
        ("TRPO (λ = 0.95) from the DAgger policy above", os.path.join(HERE, "rl_n10_from_dagger_lam0.95/progress.csv"), 32_000_000)]
fig, ax = plt.subplots(figsize=(7.5, 4.5))
for label, path, offset in runs:
    if not os.path.isfile(path):
        continue
    rows = list(csv.DictReader(open(path)))
    steps = np.array([float(r["steps"]) for r in rows]) + offset
    reward = np.array([float(r["trial_reward"]) for r in rows])
    smooth = np.convolve(reward, np.ones(20) / 20, mode="valid")
    ax.plot(steps[19:] / 1e6, smooth, label=label)
for y, name, style, x, va in ((159.69, "myopic yardstick 159.69", ":", 66, "bottom"), (156.2, "paper's RL² 156.2", "--", 1, "bottom"),
                              (154.98, "BEB 154.98", "-.", 45, "top")):
    ax.axhline(y, color="gray", linestyle=style, linewidth=1)
    ax.text(x, y, name, fontsize=8, ha="right" if x > 30 else "left", va=va, color="gray")
ax.set_xlim(0, 67)
ax.set_ylim(95, 165)
ax.set_xlabel("env steps (millions)")
ax.set_ylabel("trial reward, training batches (n = 10)")
ax.set_title("Random MDPs, n = 10: the same GRU-128, trained by RL or by imitation")
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
fig.savefig(os.path.join(HERE, "imitation_vs_rl_n10.png"), dpi=120)
print("wrote", os.path.join(HERE, "imitation_vs_rl_n10.png"))
