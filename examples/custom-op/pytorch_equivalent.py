# The custom-op example in PyTorch, line for line, to compare the two APIs
# (examples/line_counts.sh): Mish as a torch.autograd.Function with its
# derivative, checked by torch.autograd.gradcheck, then trained in an MLP;
# last, Mish composed of ops, differentiated by autograd, against the rule.
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mish(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * torch.tanh(F.softplus(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        t = torch.tanh(F.softplus(x))
        return g * (t + x * (1 - t * t) * torch.sigmoid(x))


class MishLayer(nn.Module):
    def forward(self, x):
        return Mish.apply(x)


# 1. The derivative rule against central finite differences, in double.
gen = torch.Generator().manual_seed(7)
x = (torch.randn(4, 5, generator=gen, dtype=torch.float64) * 2).requires_grad_()
passed = torch.autograd.gradcheck(Mish.apply, (x,), raise_exception=False)
print(f"gradcheck mish (4, 5): {'passed' if passed else 'FAILED'}")
if not passed:
    sys.exit(1)
# 2. Known values: mish(0) = 0, mish(1) = 0.8650984, mish(-1) = -0.3034015.
probe = Mish.apply(torch.tensor([0.0, 1.0, -1.0]))
if not torch.allclose(probe, torch.tensor([0.0, 0.8650984, -0.3034015]), atol=1e-6):
    sys.exit(f"mish values {probe.tolist()}")
# 3. The op inside a model: a 2-layer MLP with Mish fits y = sin(3x).
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(1, 32), MishLayer(), nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=0.01)
inputs = torch.rand(256, 1) * 2 - 1
targets = torch.sin(3 * inputs)
for step in range(500):
    opt.zero_grad()
    loss = F.mse_loss(model(inputs), targets)
    loss.backward()
    opt.step()
    if step == 0:
        first = loss.item()
print(f"MLP with mish on sin(3x): MSE {first:.3e} -> {loss.item():.3e} after 500 Adam steps")
if not loss.item() < 0.1 * first:
    sys.exit(1)


# 4. Mish with no derivative written: autograd differentiates the composed ops.
def mish_composed(v):
    return v * torch.tanh(F.softplus(v))


passed = torch.autograd.gradcheck(mish_composed, (x,), raise_exception=False)
print(f"gradcheck composed mish (4, 5): {'passed' if passed else 'FAILED'}")
by_rule = Mish.apply(x)
by_rule.sum().backward()
rule_grad = x.grad.clone()
composed = mish_composed(x)
composed.sum().backward()  # adds to x.grad: twice the rule's if they agree
same = torch.allclose(composed, by_rule, rtol=1e-14, atol=1e-14) and torch.allclose(
    x.grad, 2 * rule_grad, rtol=1e-12, atol=1e-14)
print(f"composed mish vs the rule: values and gradients {'agree' if same else 'DIFFER'}")
sys.exit(0 if passed and same else 1)
