"""PyTorch 1.13 side of `nativenet train --model charlstm` (its defaults): the same model, data, recipe and throughput figure.

Model (src/NativeNet/Models/CharLstm.cs): Embedding(V, 64) -> LSTM(64, 256), one layer, time-major -> Linear(256, V), V = the
distinct characters of the text in ordinal order. Data (CharTask in src/NativeNet.Cli/TrainingTask.cs): the first 90% of the
text trains as 32 parallel streams (stream s reads characters s*L .. s*L + L, L = (train - 1) // 32), cut into chunks of 64
characters (truncated BPTT, the LSTM state carried across chunks and detached, reset each epoch), targets the next character;
the last 10% is evaluated as one stream in chunks of 64. Recipe: Adam lr 2e-3 (betas 0.9/0.999, eps 1e-8, no weight decay),
mean softmax cross-entropy over the T*N logits, gradients clipped to global norm 5, 5 epochs; each step also reads the loss and
counts the correct argmax predictions, as the Trainer does.

Throughput, as nativenet reports it: training characters (predicted targets, T*N per step) per second of training, timed from
the start of an epoch to the end of its last optimizer step (evaluation excluded); the run's figure is all epochs' characters
over all epochs' training seconds.

Run: OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=T OPENBLAS_NUM_THREADS=T python3 torch_charlstm.py T [EPOCHS] [TEXT]
Prints one line per epoch and a last line 'charlstm T=<threads> chars_per_s <x> train_seconds <s> test_acc <a> other-load <cores>'.
"""
import sys, time, torch, torch.nn as nn
from torch_bench import busy, other_load

T = int(sys.argv[1]) if len(sys.argv) > 1 else 1
EPOCHS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
PATH = sys.argv[3] if len(sys.argv) > 3 else "/usr/share/common-licenses/GPL-3"
STREAMS, SEQ, EMBED, HIDDEN, LR, CLIP, SEED = 32, 64, 64, 256, 2e-3, 5.0, 42
torch.set_num_threads(T); torch.manual_seed(SEED)

text = open(PATH, encoding="utf-8").read()
vocab = sorted(set(text)); index = {c: i for i, c in enumerate(vocab)}
ids = torch.tensor([index[c] for c in text], dtype=torch.long)
split = len(ids) * 9 // 10
train, test = ids[:split], ids[split:]
length = (len(train) - 1) // STREAMS
inputs_all = train[:STREAMS * length].view(STREAMS, length).t().contiguous()           # [L, streams]
targets_all = train[1:STREAMS * length + 1].view(STREAMS, length).t().contiguous()
assert all(targets_all[t, s] == train[s * length + t + 1] for s in (0, STREAMS - 1) for t in (0, length - 1))

class CharLstm(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, EMBED)
        self.lstm = nn.LSTM(EMBED, HIDDEN, 1)
        self.head = nn.Linear(HIDDEN, vocab_size)

    def forward(self, x, state=None):  # x [T, N] -> logits [T*N, V]
        out, state = self.lstm(self.embedding(x), state)
        return self.head(out.reshape(-1, HIDDEN)), state

model = CharLstm(len(vocab))
opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
loss_fn = nn.CrossEntropyLoss()

def evaluate():
    model.eval(); state = None; correct = 0; loss_sum = 0.0; n = len(test) - 1
    with torch.no_grad():
        for start in range(0, n, SEQ):
            steps = min(SEQ, n - start)
            x = test[start:start + steps].view(steps, 1); y = test[start + 1:start + 1 + steps]
            logits, state = model(x, state)
            loss_sum += loss_fn(logits, y).item() * steps; correct += (logits.argmax(1) == y).sum().item()
    model.train()
    return loss_sum / n, correct / n

total_chars = 0; total_seconds = 0.0; b0 = busy(); w0 = time.perf_counter()
for epoch in range(1, EPOCHS + 1):
    state = None; seen = 0; loss_sum = 0.0; correct = 0
    t0 = time.perf_counter()
    for start in range(0, length, SEQ):
        steps = min(SEQ, length - start)
        x = inputs_all[start:start + steps]; y = targets_all[start:start + steps].reshape(-1)
        opt.zero_grad(set_to_none=True)
        logits, (h, c) = model(x, state)
        loss = loss_fn(logits, y)
        loss.backward()
        n = y.numel(); loss_sum += loss.item() * n; correct += (logits.argmax(1) == y).sum().item(); seen += n
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        state = (h.detach(), c.detach())
    seconds = time.perf_counter() - t0
    total_chars += seen; total_seconds += seconds
    e0 = time.perf_counter(); test_loss, test_acc = evaluate(); eval_seconds = time.perf_counter() - e0
    print(f"epoch {epoch}/{EPOCHS}  train loss {loss_sum / seen:.4f}  train acc {100 * correct / seen:.2f}%  test loss {test_loss:.4f}  "
          f"test acc {100 * test_acc:.2f}%  ({seconds:.1f} s train, {eval_seconds:.1f} s eval, {seen / seconds:.0f} characters/s)", flush=True)
other = other_load(b0, w0)
print(f"charlstm T={T} chars_per_s {total_chars / total_seconds:.1f} train_seconds {total_seconds:.3f} test_acc {test_acc:.4f} other-load {other:.2f}", flush=True)
