# A/B driver (probe, not shipped): rl2_mdp.py with state-conditioned output heads.
# The policy's logits and the baseline's value are read from the GRU output by a linear map chosen by
# the *current* state (one weight matrix per state: logits = W[s] h), instead of one shared linear map.
# No new information (phi already holds the one-hot state); it only does outside the network the
# lookup "the 5 action values of the state I am in now" that a plain linear head needs the GRU to do.
import runpy, sys, torch, gru

N_STATES, N_ACTIONS = 10, 5


class StateHeadAgent(gru.RecurrentAgent):
    def __init__(self, input_size, n_actions, hidden_size=256, shared=False, weight_norm=True, critic_extra=0):
        super().__init__(input_size, n_actions, hidden_size, shared, weight_norm, critic_extra)
        self.pi_head = gru.WNLinear(hidden_size, N_STATES * n_actions, weight_norm)
        self.v_head = gru.WNLinear(hidden_size, N_STATES, weight_norm)
        self.n_actions = n_actions

    def forward(self, x, h0, reset=None, need_value=True):
        H = self.hidden_size
        s = x[..., :N_STATES]  # one-hot current state, phi's first block
        out, h_pi = self.pi_gru(x[..., :self.input_size] if self.critic_extra else x, h0[:, :H], reset)
        logits = (self.pi_head(out).unflatten(-1, (N_STATES, self.n_actions)) * s.unsqueeze(-1)).sum(-2)
        if self.shared:
            values = (self.v_head(out) * s).sum(-1) if need_value else None
            return logits, values, h_pi
        if not need_value:
            return logits, None, torch.cat([h_pi, h0[:, H:]], 1)
        out_v, h_v = self.v_gru(x, h0[:, H:], reset)
        return logits, (self.v_head(out_v) * s).sum(-1), torch.cat([h_pi, h_v], 1)


gru.make_agent = lambda policy, *a, **k: StateHeadAgent(*a, **k)
sys.argv = ["rl2_mdp.py"] + sys.argv[1:]
runpy.run_path("rl2_mdp.py", run_name="__main__")
