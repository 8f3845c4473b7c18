# Loads the checkpoint written by sequence_classifier into the same model
# built in PyTorch, and checks it predicts like the C++ program's model:
#   python3 load_in_pytorch.py sequence_classifier.npz
import sys
import numpy as np
import torch

ckpt = np.load(sys.argv[1] if len(sys.argv) > 1 else "sequence_classifier.npz")


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(1, 32, batch_first=True, bidirectional=True)
        self.fc = torch.nn.Linear(64, 2)

    def forward(self, x, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)
        return self.fc(torch.cat([h_n[0], h_n[1]], 1))


model = Classifier()
model.load_state_dict({k: torch.from_numpy(ckpt[k]) for k in model.state_dict()})
# The same task: is the last of 4..24 values greater than the first (padded with 5)?
gen = torch.Generator().manual_seed(0)
lengths = torch.randint(4, 25, (2000,), generator=gen)
x = torch.full((2000, 24, 1), 5.0)
for i, n in enumerate(lengths):
    x[i, :n, 0] = torch.rand(n, generator=gen) * 2 - 1
labels = torch.tensor([int(x[i, n - 1, 0] > x[i, 0, 0]) for i, n in enumerate(lengths)])
with torch.no_grad():
    accuracy = (model(x, lengths).argmax(1) == labels).float().mean().item()
print(f"PyTorch, with the weights xgrad trained: accuracy {accuracy:.3f} on 2000 new sequences")
