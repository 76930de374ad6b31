"""PyTorch 1.13 CPU anchors for `nativenet bench attention` and `nativenet bench gpt-step` (median ms), with the bench() loop of
torch_bench.py. Torch 1.13 has no F.scaled_dot_product_attention: attention is the explicit formula softmax(QKᵀ/√D + causal)·V,
and the GPT uses nn.MultiheadAttention in the same pre-norm layout as NativeNet's TransformerBlock (GPT-2: ln_1, attention,
residual, ln_2, Linear(E→4E), exact GELU, Linear(4E→E), residual), learned positions, final LayerNorm, linear head.
Run: OMP_NUM_THREADS=T python3 torch_attention.py T attention [fwd|fwdbwd] [SEQ]   (B=8, heads 4, head dim 32, causal)
     OMP_NUM_THREADS=T python3 torch_attention.py T gpt-step                       (4 blocks, 4 heads, width 128, context 128,
                                                                                    batch 32, vocabulary 76, AdamW, no clipping)
Prints one line per case: '<case> T=<threads> median <ms> ms min <ms> ms n=<reps> other-load <cores>'."""
import math, sys, torch, torch.nn as nn, torch.nn.functional as F
from torch_bench import bench as bench_loop

T = int(sys.argv[1]) if len(sys.argv) > 1 else 1
case = sys.argv[2] if len(sys.argv) > 2 else "attention"
torch.set_num_threads(T); torch.manual_seed(0)

def bench(name, fn): bench_loop(name, fn, T, warm=3, reps=10)

def attention(q, k, v, causal):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        t = q.shape[-2]
        s = s.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, -1) @ v

class Block(nn.Module):
    def __init__(self, e, h):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(e), nn.LayerNorm(e)
        self.attn = nn.MultiheadAttention(e, h, batch_first=True)
        self.mlp_fc, self.mlp_proj = nn.Linear(e, 4 * e), nn.Linear(4 * e, e)
    def forward(self, x, mask):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp_proj(F.gelu(self.mlp_fc(self.ln_2(x))))

class Gpt(nn.Module):
    def __init__(self, vocab, context, e, h, layers):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocab, e), nn.Parameter(torch.randn(context, e) * 0.02)
        self.blocks = nn.ModuleList(Block(e, h) for _ in range(layers))
        self.ln_f, self.head = nn.LayerNorm(e), nn.Linear(e, vocab)
    def forward(self, idx):  # idx [T, N] time-major, as NativeNet's CharTransformer; logits [T·N, V]
        t, n = idx.shape
        x = self.tokens(idx.t()) + self.positions[:t]
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        for b in self.blocks: x = b(x, mask)
        return self.head(self.ln_f(x).transpose(0, 1).reshape(t * n, -1))

def gpt_step():
    """One chargpt training step of the issue's model (zero grads, forward, cross-entropy, backward, AdamW), as a closure."""
    vocab, context, batch = 76, 128, 32
    net = Gpt(vocab, context, 128, 4, 4)
    decay = [p for p in net.parameters() if p.dim() >= 2]
    rest = [p for p in net.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}], lr=1e-3)
    x = torch.randint(0, vocab, (context, batch)); y = torch.randint(0, vocab, (context * batch,))
    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return step

if case == "attention":
    passes = [sys.argv[3]] if len(sys.argv) > 3 else ["fwd", "fwdbwd"]
    seq = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    q, k, v, g = (torch.randn(8, 4, seq, 32) for _ in range(4))
    if "fwd" in passes:
        with torch.no_grad(): bench(f"attention fwd seq={seq}", lambda: attention(q, k, v, True))
    if "fwdbwd" in passes:
        q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
        def fb():
            for t in (q, k, v): t.grad = None
            attention(q, k, v, True).backward(g)
        bench(f"attention fwdbwd seq={seq}", fb)
elif case == "gpt-step":
    bench("gpt-step", gpt_step())
else:
    sys.exit(f"unknown case '{case}': expected attention or gpt-step")
