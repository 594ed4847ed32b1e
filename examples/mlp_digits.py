"""Train a multilayer perceptron on the bundled UCI digits, written the way a PyTorch user would.

    python examples/mlp_digits.py [--epochs 30] [--quick]

Writes nothing.
"""
import sys
import time

import lamina
import lamina.nn.functional as F
from lamina import nn, optim
from lamina.data import DataLoader
from lamina.data.datasets import Digits
from lamina.utils.scripts import positive_float, positive_int, run, tool_parser


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def main(argv=None):
    p = tool_parser(__doc__, quick="3 epochs (a smoke test)")
    p.add_argument("--epochs", type=positive_int, default=30, help="training epochs")
    p.add_argument("--lr", type=positive_float, default=0.05, help="SGD learning rate (momentum 0.9)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and shuffling")
    args = p.parse_args(argv)
    epochs = 3 if args.quick else args.epochs
    lamina.manual_seed(args.seed)
    train = DataLoader(Digits(train=True), batch_size=32, shuffle=True)
    test = DataLoader(Digits(train=False), batch_size=256)
    model = MLP()
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for x, y in train:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        model.eval()
        correct = total = 0
        with lamina.no_grad():
            for x, y in test:
                correct += int((model(x).argmax(1) == y).sum().item())
                total += y.shape[0]
        print(f"epoch {epoch + 1:2d}: loss {loss.item():.4f}, test accuracy {correct / total:.4f}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return correct / total


if __name__ == "__main__":
    sys.exit(run(main))
