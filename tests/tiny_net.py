"""The smallest binary classifier, for the tests that only need some network."""
from __future__ import annotations

from palm_utils.runtime import paddle

nn = paddle.nn
F = paddle.nn.functional


class Tiny(nn.Layer):
    """One strided convolution (3 -> 4 channels, kernel x kernel, stride 4),
    ReLU, global average pooling and a linear layer to one logit, times scale."""

    def __init__(self, kernel=5, scale=1):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, kernel, stride=4)
        self.fc = nn.Linear(4, 1)
        self.scale = scale

    def forward(self, x):
        return self.fc(F.relu(self.conv(x)).mean(axis=[2, 3])) * self.scale
