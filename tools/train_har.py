#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Trains the two HAR models of examples/har on data/har-st, split by recording, and writes their
float weights as .npz in the PyTorch layout tsq's layers read (WeightLayout::pytorch).

Usage: /usr/bin/python3 tools/train_har.py [--data DIR] [--epochs N] [--seed S]

  conv_lstm_model.npz  Conv+LSTM in the spirit of DeepConvLSTM: conv1 Conv1d(3, 16, 5) ReLU,
                       conv2 Conv1d(16, 32, 5) ReLU, lstm LSTM(32, 32) (last step), dense
                       Linear(32, 3), softmax
  cnn_model.npz        a small CNN in the spirit of the SmartWatch model: conv1 Conv1d(3, 16, 5)
                       ReLU, pool1 MaxPool(2), conv2 Conv1d(16, 32, 5) ReLU, pool2 MaxPool(2),
                       flatten, dense1 Linear(96, 32) ReLU, dense2 Linear(32, 3), softmax
  split.npy            uint8 (92,): 0 train, 1 test, per recording (recordings.npy's order)

Frames as the ST model's: 26 samples, hop 13 within each recording, milli-g / 4000, [T, 3]. Split
by recording, stratified by class: 30% of each class's recordings (rounded) go to the test split,
drawn with numpy's default_rng(seed). Training uses the training recordings only, a fixed number
of epochs (no selection on the test split), fixed seeds, one thread, deterministic algorithms.
Needs Debian's python3-torch and python3-numpy; nothing in tsq's build or tests needs them.
"""
import argparse
import io
import os
import zipfile

import numpy as np
import torch
from torch import nn

FRAME, HOP, SCALE = 26, 13, 4000.0


def frames_of(recordings, labels, which):
    xs, ys = [], []
    for r in which:
        for start in range(0, recordings.shape[1] - FRAME + 1, HOP):
            xs.append(recordings[r, start:start + FRAME, :].astype(np.float32) / np.float32(SCALE))
            ys.append(labels[r])
    return np.stack(xs), np.array(ys, dtype=np.int64)


def split_by_recording(labels, seed, test_share=0.3):
    rng = np.random.default_rng(seed)
    split = np.zeros(len(labels), dtype=np.uint8)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        test = rng.permutation(members)[: int(round(test_share * len(members)))]
        split[test] = 1
    return split


class ConvLstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(3, 16, 5)
        self.conv2 = nn.Conv1d(16, 32, 5)
        self.lstm = nn.LSTM(32, 32, batch_first=True)
        self.dense = nn.Linear(32, 3)

    def forward(self, x):  # x: (N, T, 3)
        h = torch.relu(self.conv1(x.transpose(1, 2)))
        h = torch.relu(self.conv2(h))
        out, _ = self.lstm(h.transpose(1, 2))
        return self.dense(out[:, -1, :])


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(3, 16, 5)
        self.conv2 = nn.Conv1d(16, 32, 5)
        self.dense1 = nn.Linear(3 * 32, 32)
        self.dense2 = nn.Linear(32, 3)

    def forward(self, x):
        h = torch.max_pool1d(torch.relu(self.conv1(x.transpose(1, 2))), 2)
        h = torch.max_pool1d(torch.relu(self.conv2(h)), 2)
        # Flatten time-major ([T, C], as tsq's Flatten reads the window) so dense1's kernel needs
        # no permutation on export.
        h = h.transpose(1, 2).flatten(1)
        return self.dense2(torch.relu(self.dense1(h)))


def train(model, x, y, epochs, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(order), 64):
            batch = order[i:i + 64]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[batch]), yt[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        print(f"  epoch {epoch + 1:2d}: training loss {total / len(xt):.4f}", flush=True)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def weights_of(model, layers):
    out = {}
    for name in layers:
        module = getattr(model, name)
        if isinstance(module, nn.LSTM):
            # tsq's LSTM reads weight_ih (4H, I), weight_hh (4H, H), bias_ih, bias_hh; gate order
            # i, f, g, o as PyTorch's.
            for member in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                out[f"{name}.{member}"] = getattr(module, f"{member}_l0").detach().numpy()
        else:
            out[f"{name}.kernel"] = module.weight.detach().numpy()
            out[f"{name}.bias"] = module.bias.detach().numpy()
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def write_npz(path, arrays):
    """np.savez's layout with fixed timestamps (as tools/keras_h5_to_npz.py): same weights, same
    bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            data = io.BytesIO()
            np.lib.format.write_array(data, array, allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data.getvalue())


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(root, "data", "har-st"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    recordings = np.load(os.path.join(args.data, "recordings.npy"))
    labels = np.load(os.path.join(args.data, "labels.npy"))
    split = split_by_recording(labels, args.seed)
    train_x, train_y = frames_of(recordings, labels, np.flatnonzero(split == 0))
    test_x, test_y = frames_of(recordings, labels, np.flatnonzero(split == 1))
    print(f"split by recording: {int((split == 0).sum())} train ({len(train_y)} frames), "
          f"{int((split == 1).sum())} test ({len(test_y)} frames)")
    np.save(os.path.join(args.data, "split.npy"), split)

    for file, make, layers in (
        ("conv_lstm_model.npz", ConvLstm, ("conv1", "conv2", "lstm", "dense")),
        ("cnn_model.npz", Cnn, ("conv1", "conv2", "dense1", "dense2")),
    ):
        torch.manual_seed(args.seed)
        model = make()
        print(f"{file}: {sum(p.numel() for p in model.parameters())} parameters")
        train(model, train_x, train_y, args.epochs, args.seed)
        print(f"{file}: float accuracy train {accuracy(model, train_x, train_y):.4f}, "
              f"test {accuracy(model, test_x, test_y):.4f}")
        write_npz(os.path.join(args.data, file), weights_of(model, layers))


if __name__ == "__main__":
    main()
