"""Wrap the DAgger probe's weights (agent.pt) as an rl2_mdp.py checkpoint, so that `rl2_mdp.py --eval-only
--checkpoint` and `--init-from` read it like any other (same fields as rl2_mdp.py's own checkpoints).

    python results/session15/to_checkpoint.py runs/s15/dagger_lr3e-3/agent.pt runs/s15/dagger_lr3e-3/checkpoint.pt 10 128
"""
import os, sys
import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import trpo

src, dst, n, hidden = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
agent = torch.load(src, map_location="cpu", weights_only=True)["agent"]
trpo.save_checkpoint(dst, {"experiment": "mdp", "n": n, "hidden": hidden, "policy": "gru", "critic_sees_task": False,
                           "phi": "transition", "shared": True, "agent": agent, "iteration": 0, "steps": 0,
                           "seconds": 0.0, "args": {}})
print("wrote", dst)
