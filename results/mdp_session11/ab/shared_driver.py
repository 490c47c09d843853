# A/B driver (not shipped): run rl2_mdp.py with a value head on the policy's GRU (gru.RecurrentAgent(shared=True)).
import runpy, sys, gru
orig = gru.make_agent
gru.make_agent = lambda *a, **k: orig(*a, **{**k, "shared": True})
sys.argv = ["rl2_mdp.py"] + sys.argv[1:]
runpy.run_path("rl2_mdp.py", run_name="__main__")
