"""End-to-end check, ``python -m palm_utils demo``: find the data, train a tiny CNN, evaluate it.

:class:`TinyNet` trains in seconds per epoch on a CPU, so the demo checks the
whole pipeline (``find_dataset``, ``train_pm``, ``evaluation``) on a new
machine before a chapter is run. It teaches nothing about architectures: the
chapters define the real networks."""
from __future__ import annotations

from ..runtime import paddle

nn = paddle.nn


class TinyNet(nn.Layer):
    """Three conv-ReLU-pool stages, global average pooling, one logit."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2D(3, width, 5, stride=2, padding=2), nn.ReLU(), nn.MaxPool2D(2, 2),
            nn.Conv2D(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2, 2),
            nn.Conv2D(2 * width, 4 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2, 2),
        )
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(4 * width, 1)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.fc(paddle.flatten(x, 1))


def run_demo(epochs: int = 3, save_dir: str = "checkpoints/demo", data_path=None) -> dict:
    """Find the data, train :class:`TinyNet` with ``train_pm``, evaluate the
    best checkpoint, and print the history and metrics."""
    from ..evaluation import evaluation
    from ..session import setup
    from ..training import train_pm

    setup(data_path)
    model = TinyNet()
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    history = train_pm(model, opt, epochs=epochs, save_dir=save_dir, name="TinyNet")
    print("\nHistory:")
    print(f"{'epoch':>5} {'train_loss':>10} {'val_loss':>9} {'val_acc':>8} {'val_auc':>8} {'sec':>6}")
    for r in history:
        print(f"{r['epoch']:>5} {r['train_loss']:>10.4f} {r['val_loss']:>9.4f} "
              f"{r['val_acc']:>8.4f} {r['val_auc']:>8.4f} {r['seconds']:>6.1f}")
    print(f"\nBest checkpoint ({save_dir}/palm_best.pdparams):")
    return evaluation(model, f"{save_dir}/palm_best.pdparams")
