# The char-lm example in PyTorch, line for line, to compare the two APIs
# (examples/line_counts.sh). Run: python3 pytorch_equivalent.py [TEXT_FILE [STEPS]]
import math
import sys

import torch
import torch.nn as nn


# Embedding (256 bytes -> 64) -> LSTM (2 layers) -> Linear (-> 256 logits).
class CharModel(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.embed = nn.Embedding(256, 64)
        self.lstm = nn.LSTM(64, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, 256)

    def forward(self, ids, state):
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out.flatten(0, 1)), state


path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/common-licenses/GPL-3"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
batch, seq_len, hidden, sample_len = 32, 64, 256, 400
lr, temperature = 2e-3, 0.8
torch.manual_seed(1)
text = open(path, "rb").read()
stream_len = len(text) // batch
streams = torch.tensor(list(text[: batch * stream_len])).view(batch, stream_len)
model = CharModel(hidden)
opt = torch.optim.Adam(model.parameters(), lr=lr)
state, pos, first, recent = None, 0, 0.0, 0.0
for step in range(1, steps + 1):
    if pos + seq_len + 1 > stream_len or step == 1:
        pos, state = 0, None
    ids = streams[:, pos : pos + seq_len]
    target = streams[:, pos + 1 : pos + seq_len + 1].flatten()
    pos += seq_len
    opt.zero_grad()
    logits, state = model(ids, state)
    loss = nn.functional.cross_entropy(logits, target)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    state = tuple(s.detach() for s in state)  # truncated BPTT
    if step == 1:
        first = loss.item()
    recent = loss.item() if step == 1 else 0.9 * recent + 0.1 * loss.item()
    if step == 1 or step % 50 == 0 or step == steps:
        print(f"step {step:4d}  loss {recent:.3f} ({recent / math.log(2):.2f} bits per byte)")
model.eval()
out = "The "
with torch.no_grad():
    logits, state = model(torch.tensor([list(out.encode())]), None)
    for _ in range(sample_len):
        byte = torch.multinomial(torch.softmax(logits[-1] / temperature, -1), 1).item()
        out += chr(byte)
        logits, state = model(torch.tensor([[byte]]), state)
print(f"\nsample (temperature {temperature:.2f}):\n{out}")
sys.exit(0 if recent < 0.8 * first else 1)
