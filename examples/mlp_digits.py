"""Train a multilayer perceptron on the bundled UCI digits, written the way a PyTorch user would.

    python examples/mlp_digits.py
"""
import time

import lamina
import lamina.nn.functional as F
from lamina import nn, optim
from lamina.data import DataLoader
from lamina.data.datasets import Digits


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


def main():
    lamina.manual_seed(0)
    train = DataLoader(Digits(train=True), batch_size=32, shuffle=True)
    test = DataLoader(Digits(train=False), batch_size=256)
    model = MLP()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    t0 = time.perf_counter()
    for epoch in range(30):
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


if __name__ == "__main__":
    main()
