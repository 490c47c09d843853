"""A GRU written out by hand, with the paper's weight normalisation and initialisation.

RL² (Duan et al. 2016, §2.3) represents the policy as a GRU fed phi(s, a_prev, r_prev, d_prev);
appendix A adds: weight normalisation without data-dependent initialisation on every weight matrix,
orthogonal initialisation for the hidden-to-hidden weights, Xavier for the others, zero biases.
torch.nn.GRU offers none of that, so the recurrence is written here with the same equations and
gate order (r, z, n) as torch.nn.GRU:

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

One call runs a whole sequence (T, B, I) from h0 (B, H); a rollout step is the same call with T = 1,
so acting and training share one code path.

    python gru.py                 # exactness check against torch.nn.GRU, then the benchmark
    python gru.py --threads 2     # the same with 2 intra-op threads
"""
import argparse
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F


def weight_norm(v, g):
    """W = g * v / ||v|| row by row (Salimans & Kingma 2016): each output unit's weight vector has
    its direction in v and its length in g. No data-dependent init (appendix A): g starts at ||v||,
    so the network starts exactly at its orthogonal / Xavier initialisation."""
    return v * (g / v.norm(dim=1)).unsqueeze(1)


class WNLinear(nn.Module):
    """A linear layer with the paper's weight normalisation, Xavier init and zero bias."""

    def __init__(self, in_features, out_features, weight_norm=True, gain=1.0):
        super().__init__()
        w = torch.empty(out_features, in_features)
        nn.init.xavier_uniform_(w, gain=gain)
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.g = nn.Parameter(w.norm(dim=1).clone()) if weight_norm else None

    def forward(self, x):
        w = self.weight if self.g is None else weight_norm(self.weight, self.g)
        return F.linear(x, w, self.bias)


class GRU(nn.Module):
    """One GRU layer. forward(x (T,B,I), h0 (B,H), reset (T,B) or None) -> (outputs (T,B,H), h_T).
    fused=None runs whole sequences (T > 1) through PyTorch's fused kernel (see fused), single steps through the loop.

    reset[t] = 1 zeroes the hidden state before step t. RL² resets the state only between trials,
    never between the episodes of a trial (§2.2); a rollout buffer that holds several trials back
    to back in one sequence marks each trial's first step with reset = 1.
    """

    def __init__(self, input_size, hidden_size, weight_norm=True):
        super().__init__()
        H = hidden_size
        self.input_size, self.hidden_size = input_size, hidden_size
        w_ih = torch.empty(3 * H, input_size)
        w_hh = torch.empty(3 * H, H)
        for gate in range(3):  # each gate's block gets its own Xavier / orthogonal matrix
            nn.init.xavier_uniform_(w_ih[gate * H:(gate + 1) * H])
            nn.init.orthogonal_(w_hh[gate * H:(gate + 1) * H])
        self.weight_ih = nn.Parameter(w_ih)
        self.weight_hh = nn.Parameter(w_hh)
        self.bias_ih = nn.Parameter(torch.zeros(3 * H))
        self.bias_hh = nn.Parameter(torch.zeros(3 * H))
        if weight_norm:
            self.g_ih = nn.Parameter(w_ih.norm(dim=1).clone())
            self.g_hh = nn.Parameter(w_hh.norm(dim=1).clone())
        else:
            self.g_ih = self.g_hh = None

    def weights(self):
        if self.g_ih is None:
            return self.weight_ih, self.weight_hh
        return weight_norm(self.weight_ih, self.g_ih), weight_norm(self.weight_hh, self.g_hh)

    def forward(self, x, h0, reset=None, fused=None):
        T, B, _ = x.shape
        w_ih, w_hh = self.weights()  # normalised once per call, not once per step
        if fused is None:  # default: the fused kernel for whole sequences, on any device
            fused = T > 1
        if fused and (reset is None or not bool(reset.any())):
            return self.fused(x, h0, w_ih, w_hh)
        # The input projections of all T steps in one matrix product; only h @ W_hh is sequential.
        gi = torch.addmm(self.bias_ih, x.reshape(T * B, -1), w_ih.t()).view(T, B, -1)
        w_hh_t = w_hh.t()
        keep = None if reset is None else (1.0 - reset.to(x.dtype)).unsqueeze(-1).unbind(0)
        h, outputs = h0, []
        # unbind/chunk rather than gi[t] / gi[..., :H]: indexing one big tensor per step makes
        # autograd allocate a full-size zero tensor per slice in backward (reference card, pitfalls).
        for t, gi_t in enumerate(gi.unbind(0)):
            if keep is not None:
                h = h * keep[t]
            gh = torch.addmm(self.bias_hh, h, w_hh_t)
            i_r, i_z, i_n = gi_t.chunk(3, 1)
            h_r, h_z, h_n = gh.chunk(3, 1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = n + z * (h - n)  # = (1 - z) * n + z * h, one op fewer
            outputs.append(h)
        return torch.stack(outputs), h

    def fused(self, x, h0, w_ih, w_hh):
        """The same recurrence in one call of PyTorch's own GRU kernel (cuDNN on a GPU), with our
        weight-normed weights. On a GPU the loop above costs ~10 kernel launches per step, so a
        500-step trial is launch-bound whatever the batch; the fused kernel runs the sequence at once.
        On a CPU it runs the same loop in C++: no Python and autograd bookkeeping per step, 1.65x as fast
        without gradients at T=100, B=128, H=128 (the trust region's whole-batch passes), ~1.1x with.
        Same equations and gate order, so the two agree to rounding (test_rl2 checks outputs and
        gradients); used by default for whole sequences with no reset inside. Single steps (rollouts,
        T = 1) keep the loop: there the two cost the same."""
        with warnings.catch_warnings():  # weight norm makes new weights every call, so cuDNN must copy them
            warnings.filterwarnings("ignore", "RNN module weights are not part of single contiguous chunk")
            out, h_T = torch._VF.gru(x, h0.unsqueeze(0).contiguous(), [w_ih, w_hh, self.bias_ih, self.bias_hh],
                                     True, 1, 0.0, self.training, False, False)
        return out, h_T[0]


class RecurrentAgent(nn.Module):
    """The paper's recurrent policy and baseline (§2.3, appendix A) on top of an input embedding phi.

    Policy: phi -> GRU -> linear -> softmax logits. Baseline: a separate GRU of the same shape ->
    linear (appendix A: "separate neural networks with the same architecture until the final
    layer"), or, with shared=True, a value head on the policy's GRU (the maze, appendix A.3).
    The recurrent state h is (B, H) shared, or (B, 2H) = [policy state, value state] separate.

    critic_extra = E > 0 (beyond the paper): x carries E more features after phi that only the
    baseline reads, e.g. the task itself (the bandit's arm means). The policy sees x[..., :I] and
    nothing else, so the learned algorithm is unchanged; the baseline V(task, history) may use
    anything but the current action without biasing the policy gradient, and knowing the task it
    only has to predict what the policy will do with it (an "asymmetric" critic). Inputs of width I
    are accepted when no value is asked for (acting, evaluation).

    head_states = S > 0 (beyond the paper; the MDPs' `--head state`): the first S inputs are a one-hot
    of the current state, and the output layers have one weight matrix per state: logits = W[s] h + b[s]
    (and the value alike). No new information (phi holds the state); it does outside the network the
    lookup "the action values of the state I am in now", which a single linear layer leaves to the GRU.

    aux_outputs = M > 0 (beyond the paper; the MDPs' `--aux`): one more linear layer on the policy's GRU
    that predicts M numbers about the task (e.g. the true MDP's action values), trained by regression
    beside the TRPO loss (trpo.update's aux_coef). It shapes what the GRU keeps; the policy never reads
    it, so acting and the learned algorithm are unchanged. forward(..., need_aux=True) also returns it.
    """

    def __init__(self, input_size, n_actions, hidden_size=256, shared=False, weight_norm=True, critic_extra=0,
                 head_states=0, aux_outputs=0):
        super().__init__()
        if critic_extra and shared:
            raise ValueError("a value head on the policy's GRU cannot read inputs the policy must not see")
        if not 0 <= head_states <= input_size:
            raise ValueError(f"head_states {head_states} must lie in [0, input_size {input_size}]")
        self.hidden_size, self.shared = hidden_size, shared
        self.input_size, self.critic_extra, self.head_states = input_size, critic_extra, head_states
        self.pi_gru = GRU(input_size, hidden_size, weight_norm)
        self.pi_head = WNLinear(hidden_size, n_actions * max(head_states, 1), weight_norm)
        self.v_gru = None if shared else GRU(input_size + critic_extra, hidden_size, weight_norm)
        self.v_head = WNLinear(hidden_size, max(head_states, 1), weight_norm)
        self.aux_head = WNLinear(hidden_size, aux_outputs, weight_norm) if aux_outputs else None

    def read_out(self, head, out, x):
        """head(out), or with head_states the block of head(out) that belongs to the current state."""
        y = head(out)
        if not self.head_states:
            return y
        s = x[..., :self.head_states]  # one-hot: the sum picks one block
        return (y.unflatten(-1, (self.head_states, -1)) * s.unsqueeze(-1)).sum(-2)

    def initial_state(self, batch_size, device=None):
        return torch.zeros(batch_size, self.hidden_size * (1 if self.shared else 2), device=device)

    def policy_parameters(self):
        """What defines the action distribution: the trust region and backtracking act on these."""
        if self.shared:
            return [p for name, p in self.named_parameters() if not name.startswith(("v_head", "aux_head"))]
        return list(self.pi_gru.parameters()) + list(self.pi_head.parameters())

    def state_values(self, h):
        """With head_states: the baseline's value of every state given the recurrent state h (B, H or 2H),
        as (B, S): what the value head would say for each state it could be in next (--phi value)."""
        if not self.head_states:
            raise ValueError("state_values needs per-state output layers (head_states > 0)")
        return self.v_head(h[:, :self.hidden_size] if self.shared else h[:, self.hidden_size:])

    def forward(self, x, h0, reset=None, need_value=True, need_aux=False):
        """x (T, B, I), h0 (B, H or 2H) -> logits (T, B, A), values (T, B) or None, h_T.
        With need_value=False a separate value GRU is skipped and its state returned unchanged.
        need_aux=True (with aux_outputs): a fourth result, the auxiliary prediction (T, B, M)."""
        H = self.hidden_size
        out, h_pi = self.pi_gru(x[..., :self.input_size] if self.critic_extra else x, h0[:, :H], reset)
        if need_aux:
            return (*self.forward_heads(x, h0, reset, out, h_pi, need_value), self.aux_head(out))
        return self.forward_heads(x, h0, reset, out, h_pi, need_value)

    def forward_heads(self, x, h0, reset, out, h_pi, need_value):
        """The output layers (and the separate value GRU) on the policy GRU's outputs out (T, B, H)."""
        H = self.hidden_size
        logits = self.read_out(self.pi_head, out, x)
        if self.shared:
            values = self.read_out(self.v_head, out, x).squeeze(-1) if need_value else None
            return logits, values, h_pi
        if not need_value:
            return logits, None, torch.cat([h_pi, h0[:, H:]], 1)
        out_v, h_v = self.v_gru(x, h0[:, H:], reset)
        return logits, self.read_out(self.v_head, out_v, x).squeeze(-1), torch.cat([h_pi, h_v], 1)


class MLPAgent(nn.Module):
    """The memoryless control (`--policy mlp`): the same input phi through a feed-forward network,
    no recurrent state, so the action at step t depends on phi_t alone (the last action, reward and
    done flag; in the MDPs also the current state). Whatever RL² gains over it is what the GRU's
    memory buys (§2.2: the hidden state is the fast RL algorithm's only store of experience).

    Policy: phi -> 2 x (WN linear, ReLU; appendix A's activations) -> linear -> logits. Baseline: a
    separate network of the same shape -> linear (appendix A). The call interface is
    RecurrentAgent's, so play() and trpo.update run it unchanged: forward(x (T,B,I), h0, reset,
    need_value) -> (logits (T,B,A), values (T,B) or None, h), where the "state" is a dummy (B, 1)
    tensor of zeros passed through untouched."""

    def __init__(self, input_size, n_actions, hidden_size=256, weight_norm=True, critic_extra=0):
        super().__init__()
        self.hidden_size, self.shared = hidden_size, False
        self.input_size, self.critic_extra = input_size, critic_extra  # as in RecurrentAgent
        self.pi_body = nn.ModuleList([WNLinear(input_size, hidden_size, weight_norm),
                                      WNLinear(hidden_size, hidden_size, weight_norm)])
        self.pi_head = WNLinear(hidden_size, n_actions, weight_norm)
        self.v_body = nn.ModuleList([WNLinear(input_size + critic_extra, hidden_size, weight_norm),
                                     WNLinear(hidden_size, hidden_size, weight_norm)])
        self.v_head = WNLinear(hidden_size, 1, weight_norm)

    def initial_state(self, batch_size, device=None):
        return torch.zeros(batch_size, 1, device=device)  # no memory: a placeholder for the interface

    def policy_parameters(self):
        return list(self.pi_body.parameters()) + list(self.pi_head.parameters())

    def forward(self, x, h0, reset=None, need_value=True):
        h = x[..., :self.input_size] if self.critic_extra else x
        for layer in self.pi_body:
            h = torch.relu(layer(h))
        logits = self.pi_head(h)
        if not need_value:
            return logits, None, h0
        v = x
        for layer in self.v_body:
            v = torch.relu(layer(v))
        return logits, self.v_head(v).squeeze(-1), h0


POLICIES = ("gru", "mlp")


def make_agent(policy, input_size, n_actions, hidden_size, shared=False, critic_extra=0, head_states=0,
               aux_outputs=0):
    """The network for --policy: "gru" (RL², §2.3) or "mlp" (the memoryless control)."""
    if policy == "gru":
        return RecurrentAgent(input_size, n_actions, hidden_size, shared, critic_extra=critic_extra,
                              head_states=head_states, aux_outputs=aux_outputs)
    if head_states or aux_outputs:
        raise ValueError("per-state output layers (head_states) and auxiliary outputs are for the GRU policy")
    if policy == "mlp":
        return MLPAgent(input_size, n_actions, hidden_size, critic_extra=critic_extra)
    raise ValueError(f"unknown policy {policy!r}; choose from {POLICIES}")


def load_widened(agent, state_dict):
    """Load weights saved without the critic's extra inputs into an agent that has them (or the same
    shape): the new input columns of the baseline's first layer start at zero, so the loaded baseline
    is reproduced exactly and then learns to use the task (curriculum runs, --init-from)."""
    own = agent.state_dict()
    widened = dict(state_dict)
    for name, w in state_dict.items():
        if name in own and w.dim() == own[name].dim() == 2 and own[name].shape[0] == w.shape[0] and own[name].shape[1] > w.shape[1]:
            widened[name] = torch.cat([w, w.new_zeros(w.shape[0], own[name].shape[1] - w.shape[1])], 1)
    agent.load_state_dict(widened)


def copy_from_torch(gru, ref):
    """Load torch.nn.GRU(I, H) weights into our GRU (weight norm must be off)."""
    assert gru.g_ih is None, "copy into a GRU built with weight_norm=False"
    with torch.no_grad():
        gru.weight_ih.copy_(ref.weight_ih_l0)
        gru.weight_hh.copy_(ref.weight_hh_l0)
        gru.bias_ih.copy_(ref.bias_ih_l0)
        gru.bias_hh.copy_(ref.bias_hh_l0)


def check_against_torch(T=7, B=5, I=6, H=8, seed=0):
    """Max abs differences of outputs, last state and all gradients vs torch.nn.GRU (float64)."""
    torch.manual_seed(seed)
    ref = nn.GRU(I, H).double()
    for p in ref.parameters():  # non-zero biases so the bias paths are checked too
        nn.init.uniform_(p, -0.5, 0.5)
    ours = GRU(I, H, weight_norm=False).double()
    copy_from_torch(ours, ref)
    x = torch.randn(T, B, I, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    x1, h01 = x.clone().requires_grad_(), h0.clone().requires_grad_()
    x2, h02 = x.clone().requires_grad_(), h0.clone().requires_grad_()
    out1, hT1 = ours(x1, h01, fused=False)  # the hand-written loop, not PyTorch's kernel
    out2, hT2 = ref(x2, h02.unsqueeze(0))
    w = torch.randn_like(out1)
    ((out1 * w).sum() + hT1.sum()).backward()
    ((out2 * w).sum() + hT2.sum()).backward()
    diffs = {
        "output": (out1 - out2).abs().max().item(),
        "h_T": (hT1 - hT2[0]).abs().max().item(),
        "grad x": (x1.grad - x2.grad).abs().max().item(),
        "grad h0": (h01.grad - h02.grad).abs().max().item(),
    }
    for a, b in [("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"),
                 ("bias_ih", "bias_ih_l0"), ("bias_hh", "bias_hh_l0")]:
        diffs["grad " + a] = (getattr(ours, a).grad - getattr(ref, b).grad).abs().max().item()
    return diffs


def benchmark(T=100, B=256, I=256, H=256, repeats=5):
    """Forward+backward seconds per call, hand-written GRU (weight norm on and off, loop and fused) vs torch.nn.GRU,
    interleaved in one run so machine noise hits all of them alike. Returns the median times."""
    torch.manual_seed(0)
    x = torch.randn(T, B, I)
    h0 = torch.zeros(B, H)
    models = {"hand": GRU(I, H, weight_norm=False), "hand+wn": GRU(I, H, weight_norm=True),
              "wn fused": GRU(I, H, weight_norm=True), "torch": nn.GRU(I, H)}

    def step(name):
        m = models[name]
        m.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        if name == "torch":
            out, hT = m(x, h0.unsqueeze(0))
        else:  # "wn fused": our weights through PyTorch's GRU kernel (GRU.fused, the default for T > 1)
            out, hT = m(x, h0, fused=name == "wn fused")
        out.sum().backward()
        return time.perf_counter() - t0

    for name in models:  # warm-up
        step(name)
    times = {name: [] for name in models}
    for _ in range(repeats):
        for name in models:
            times[name].append(step(name))
    return {name: sorted(v)[len(v) // 2] for name, v in times.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--T", type=int, default=100)
    parser.add_argument("--B", type=int, default=256)
    parser.add_argument("--H", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for name in ("threads", "T", "B", "H", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    torch.set_num_threads(args.threads)
    diffs = check_against_torch()
    worst = max(diffs.values())
    print("exactness vs torch.nn.GRU (float64): " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    print(f"max abs difference {worst:.1e}: {'OK' if worst < 1e-5 else 'MISMATCH'}")
    t = benchmark(args.T, args.B, args.H, args.H, args.repeats)
    print(f"forward+backward T={args.T} B={args.B} H={args.H} threads={args.threads} (median of {args.repeats}):")
    for name, sec in t.items():
        print(f"  {name:8s} {sec * 1000:8.1f} ms")
    print(f"ratio {t['hand'] / t['torch']:.2f}")
