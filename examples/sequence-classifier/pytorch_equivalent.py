# The sequence-classifier example in PyTorch, line for line, to compare the
# two APIs (examples/line_counts.sh). Run: python3 pytorch_equivalent.py [STEPS [CHECKPOINT]]
import sys

import torch
import torch.nn as nn

MAX_LEN, HIDDEN = 24, 32


# Sequences of 4..24 values in [-1, 1], padded to 24 with 5; class 1 iff the last value exceeds the first.
def make_batch(size, gen):
    inputs = torch.full((size, MAX_LEN, 1), 5.0)
    lengths = torch.randint(4, MAX_LEN + 1, (size,), generator=gen)
    for i, n in enumerate(lengths):
        inputs[i, :n, 0] = torch.rand(n, generator=gen) * 2 - 1
    labels = torch.tensor([int(inputs[i, n - 1, 0] > inputs[i, 0, 0]) for i, n in enumerate(lengths)])
    return inputs, lengths, labels


# GRU (bidirectional) -> [h_forward, h_backward] -> Linear -> 2 logits.
class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(1, HIDDEN, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * HIDDEN, 2)

    def forward(self, inputs, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)  # (2, B, H): each direction's last state
        return self.fc(torch.cat([h_n[0], h_n[1]], 1))


steps = int(sys.argv[1]) if len(sys.argv) > 1 else 400
checkpoint = sys.argv[2] if len(sys.argv) > 2 else "sequence_classifier.pt"
torch.manual_seed(0)
data_gen = torch.Generator().manual_seed(1)
model = Classifier()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(1, steps + 1):
    inputs, lengths, labels = make_batch(64, data_gen)
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(inputs, lengths), labels)
    loss.backward()
    opt.step()
    if step % 100 == 0:
        print(f"step {step:4d}  loss {loss.item():.4f}")
model.eval()
with torch.no_grad():
    inputs, lengths, labels = make_batch(2000, data_gen)
    accuracy = (model(inputs, lengths).argmax(1) == labels).float().mean().item()
print(f"test accuracy on 2000 new sequences: {accuracy:.3f}")
torch.save(model.state_dict(), checkpoint)
print(f"saved {checkpoint}: {' '.join(model.state_dict())}")
sys.exit(0 if accuracy > 0.9 else 1)
