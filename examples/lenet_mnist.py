"""Train LeNet-5 on MNIST IDX files (or on the bundled digits when no --data is given), written
as a plain PyTorch-style loop; saves the weights to OUT/lenet5.lam.

    python examples/lenet_mnist.py --data ../shared/data/mnist   # 8,000 / 2,000 split of the 10k set
    python examples/lenet_mnist.py                               # bundled 8x8 digits
    python examples/lenet_mnist.py --quick                       # 2 epochs
"""
import os
import sys
import time

import lamina
from lamina import nn, optim
from lamina.data import DataLoader, transforms
from lamina.data.datasets import Digits, mnist_split
from lamina.utils.scripts import existing_dir, out_dir, positive_int, run, tool_parser


class LeNet5(nn.Module):
    def __init__(self, size=28):
        super().__init__()
        p2 = 2 if size < 20 else 0
        s = ((size // 2) - 4 + 2 * p2) // 2
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5, padding=p2)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * s * s, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(self.conv1(x).relu())
        x = self.pool(self.conv2(x).relu())
        x = x.flatten(1)
        x = self.fc1(x).relu()
        x = self.fc2(x).relu()
        return self.fc3(x)


def main(argv=None):
    p = tool_parser(__doc__, out="lenet_out", quick="2 epochs (a smoke test)")
    p.add_argument("--data", type=existing_dir, default=None,
                   help="folder with MNIST IDX files (default: the bundled 8x8 digits)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (default: MNIST 12, digits 30)")
    args = p.parse_args(argv)
    out_dir(args.out, "lenet_mnist")
    lamina.manual_seed(0)
    if args.data:
        norm = transforms.Normalize((0.1307,), (0.3081,))
        train_ds, test_ds = mnist_split(args.data, n_train=8000, seed=0, transform=norm)
        size, epochs = 28, 12
    else:
        train_ds, test_ds = Digits(train=True), Digits(train=False)
        size, epochs = 8, 30
    epochs = 2 if args.quick else (args.epochs or epochs)
    model = LeNet5(size)
    print(lamina.summary(model, (1, size, size)))
    opt = optim.Adam(model.parameters(), lr=2e-3)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loss_fn = nn.CrossEntropyLoss()
    train = DataLoader(train_ds, batch_size=64, shuffle=True)
    test = DataLoader(test_ds, batch_size=500)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for x, y in train:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with lamina.no_grad():
            correct = sum(int((model(x).argmax(1) == y).sum().item()) for x, y in test)
        print(f"epoch {epoch + 1:2d}: test accuracy {correct / len(test_ds):.4f} "
              f"({time.perf_counter() - t0:.1f} s)")
    path = os.path.join(args.out, "lenet5.lam")
    lamina.save(model.state_dict(), path)
    print(f"saved the weights to {path}")
    return correct / len(test_ds)


if __name__ == "__main__":
    sys.exit(run(main))
