#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Derives the compact copies of the real data sets that tsq's tests, examples and demo read
(data/<set>/), with each folder's LICENSE and PROVENANCE.md, from the original data sets.

Usage: /usr/bin/python3 tools/derive_data.py --source DIR [--out DIR]

--source is a folder holding the original data sets in their published layout:
  har-st/               recordings/{stationary,walking,running}/*_26Hz_4g_mg.csv, st_har_model.h5,
                        DATA-LICENSE, DATA-README-ORIGINAL.md, MODEL-LICENSE.md
  ecg-mitbih/           beats.npy (float32), labels.npy, records.npy,
                        classify_heartbeats_{float,int8}.{tflite,json}, LICENSE
  mnist-lstm/           samples.npy, sample_labels.npy, trained_lstm{,_int8}.{tflite,json}, LICENSE
  deepconvlstm-ucihar/  ordonez2016_deepconvlstm.npz, LICENSE
--out defaults to the repository's data/ folder.

What it writes (every output is byte-for-byte reproducible: no timestamps, fixed seeds):
  har-st/        recordings.npy int16 (92, 1000, 3) milli-g, labels.npy, recording_ids.npy,
                 recordings.csv; st_har_model.npz + st_har_model.layers.json (by
                 tools/keras_h5_to_npz.py); st_har_reference.npz (20 frames and the softmax
                 outputs of a float64 numpy forward pass of the .h5 weights)
  ecg-mitbih/    beats.npy as float16 (half the bytes; tsq's .npy reader widens it to float32),
                 labels.npy and records.npy as they are
  mnist-lstm/    samples.npy, sample_labels.npy as they are
  deepconvlstm-ucihar/  ordonez2016_deepconvlstm.npz as it is
The trained TFLite models live in tests/data/ (converted to .npz by tools/tflite_json_to_npz.py,
and as .tflite files): this script checks them against the originals (same arrays, same bytes)
and writes that folder's LICENSE and PROVENANCE.md.
Needs numpy and h5py (Debian: python3-numpy python3-h5py); offline.
"""
import argparse
import glob
import hashlib
import os
import re
import shutil
import sys
import tempfile
import textwrap

import numpy as np

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

import keras_h5_to_npz  # noqa: E402 (needs the path above)

COMMAND = "/usr/bin/python3 tools/derive_data.py --source <folder with the original data sets>"
HAR_CLASSES = ("stationary", "walking", "running")
HAR_FRAME, HAR_HOP, HAR_SCALE = 26, 13, 4000.0
REFERENCE_SEED = 20240611
REFERENCE_PER_CLASS = (7, 7, 6)


def sha256(path):
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def save_npy(path, array):
    with open(path, "wb") as stream:
        np.lib.format.write_array(stream, np.ascontiguousarray(array), version=(1, 0),
                                  allow_pickle=False)


def copy(source, destination):
    shutil.copyfile(source, destination)


def file_table(folder, names):
    rows = ["| file | bytes | content | sha256 |", "|---|---|---|---|"]
    for name in names:
        path = os.path.join(folder, name)
        content = ""
        if name.endswith(".npy"):
            array = np.load(path)
            content = f"{array.dtype.name} {tuple(array.shape)}"
        elif name.endswith(".npz"):
            with np.load(path) as archive:
                content = f"{len(archive.files)} arrays"
        rows.append(f"| `{name}` | {os.path.getsize(path):,} | {content} | `{sha256(path)[:16]}` |")
    return "\n".join(rows)


def source_table(source, names):
    rows = ["| original file | sha256 |", "|---|---|"]
    rows += [f"| `{n}` | `{sha256(os.path.join(source, n))[:16]}` |" for n in names]
    return "\n".join(rows)


def write_text(path, text):
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text.rstrip("\n") + "\n")


def kept_training_note(path):
    """The part of a PROVENANCE.md from its "## Trained models" heading on: the note on the
    models that tools/train_har.py trained on this data, which a new derivation keeps as it is."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        return ""
    start = text.find("## Trained models")
    return "\n" + text[start:] if start >= 0 else ""


def reflow(markdown, width=98):
    """Rewraps paragraphs and list items (the notes are filled in from numbers); code blocks,
    tables and headings stay as they are."""
    out, block, fenced = [], [], False

    def flush():
        if block:
            first = block[0]
            indent = "  " if first.startswith("- ") else ""
            out.extend(textwrap.wrap(" ".join(line.strip() for line in block), width,
                                     subsequent_indent=indent, break_on_hyphens=False,
                                     break_long_words=False))
            block.clear()

    for line in markdown.split("\n"):
        if line.startswith("```"):
            flush()
            fenced = not fenced
            out.append(line)
        elif fenced or not line.strip() or line.startswith(("#", "|")):
            flush()
            out.append(line)
        elif line.startswith("- "):
            flush()
            block.append(line)
        else:
            block.append(line)
    flush()
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# har-st


def har_recordings(source):
    recordings, labels, ids, names = [], [], [], []
    for label, name in enumerate(HAR_CLASSES):
        files = sorted(glob.glob(os.path.join(source, "recordings", name, "*.csv")))
        for path in files:
            values = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
            if values.shape != (1000, 3):
                raise SystemExit(f"{path}: shape {values.shape}, expected (1000, 3)")
            if values.min() < -32768 or values.max() > 32767:
                raise SystemExit(f"{path}: values beyond int16")
            match = re.match(rf"{name}_(\d+)_", os.path.basename(path))
            recordings.append(values.astype("<i2"))
            labels.append(label)
            ids.append(int(match.group(1)))
            names.append(f"recordings/{name}/{os.path.basename(path)}")
    return np.stack(recordings), np.array(labels, "u1"), np.array(ids, "u1"), names


def har_frames(recordings):
    """Frames of 26 samples, hop 13, within each recording, divided by 4000 (float64)."""
    starts = range(0, recordings.shape[1] - HAR_FRAME + 1, HAR_HOP)
    frames = [recordings[r, s:s + HAR_FRAME] for r in range(len(recordings)) for s in starts]
    return np.array(frames, dtype=np.float64) / HAR_SCALE, len(starts)


def st_forward(h5_path, frames):
    """The ST model in float64 numpy, read straight from the .h5 (not through the converter)."""
    import h5py

    with h5py.File(h5_path, "r") as h5:
        root = h5["model_weights"]

        def weight(layer, name):
            return np.asarray(root[layer][layer][name + ":0"], dtype=np.float64)

        def conv_relu(x, layer):  # Conv1D, valid padding, stride 1; kernel (K, C_in, C_out)
            kernel, bias = weight(layer, "kernel"), weight(layer, "bias")
            steps = x.shape[1] - kernel.shape[0] + 1
            y = sum(np.einsum("ntc,co->nto", x[:, k:k + steps], kernel[k])
                    for k in range(kernel.shape[0]))
            return np.maximum(y + bias, 0.0)

        y = conv_relu(conv_relu(frames, "conv1d"), "conv1d_1")  # dropout: identity
        y = y.reshape(len(y), -1)  # Flatten, (time, channel) order
        y = np.maximum(y @ weight("dense", "kernel") + weight("dense", "bias"), 0.0)
        logits = y @ weight("dense_1", "kernel") + weight("dense_1", "bias")
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def derive_har(source, out):
    recordings, labels, ids, names = har_recordings(source)
    save_npy(os.path.join(out, "recordings.npy"), recordings)
    save_npy(os.path.join(out, "labels.npy"), labels)
    save_npy(os.path.join(out, "recording_ids.npy"), ids)
    lines = ["index,label,class,id,source_file"]
    lines += [f"{i},{labels[i]},{HAR_CLASSES[labels[i]]},{ids[i]},{names[i]}"
              for i in range(len(names))]
    write_text(os.path.join(out, "recordings.csv"), "\n".join(lines))

    h5 = os.path.join(source, "st_har_model.h5")
    keras_h5_to_npz.convert(h5, os.path.join(out, "st_har_model.npz"),
                            os.path.join(out, "st_har_model.layers.json"))

    frames, per_recording = har_frames(recordings)
    frame_labels = np.repeat(labels, per_recording)
    probabilities = st_forward(h5, frames)
    predicted = probabilities.argmax(axis=1)
    correct = int((predicted == frame_labels).sum())
    per_class = [float((predicted[frame_labels == c] == c).mean()) for c in range(3)]
    # 20 reference frames, stratified by class, drawn with a fixed seed.
    rng = np.random.default_rng(REFERENCE_SEED)
    chosen = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(frame_labels == c), count, replace=False)
        for c, count in enumerate(REFERENCE_PER_CLASS)]))
    keras_h5_to_npz.write_npz(os.path.join(out, "st_har_reference.npz"), {
        "frame_index": chosen.astype("<i4"),
        "frames": frames[chosen].astype("<f4"),
        "labels": frame_labels[chosen].astype("u1"),
        "probabilities": probabilities[chosen].astype("<f4"),
    })
    for name in ("DATA-README-ORIGINAL.md",):
        copy(os.path.join(source, name), os.path.join(out, name))
    with open(os.path.join(source, "DATA-LICENSE"), encoding="utf-8") as stream:
        bsd = stream.read().rstrip("\n")
    with open(os.path.join(source, "MODEL-LICENSE.md"), encoding="utf-8") as stream:
        components = stream.read().rstrip("\n")
    write_text(os.path.join(out, "LICENSE"), f"""\
The recordings (recordings.npy and the files derived with it) and the trained model
(st_har_model.h5, converted here into st_har_model.npz) are STMicroelectronics' human activity
data set and model, under the BSD 3-Clause License below. The components as the original
distribution lists them:

{components}

{bsd}""")

    outputs = ["recordings.npy", "labels.npy", "recording_ids.npy", "recordings.csv",
               "st_har_model.npz", "st_har_model.layers.json", "st_har_reference.npz",
               "DATA-README-ORIGINAL.md", "LICENSE"]
    counts = np.bincount(labels, minlength=3)
    training_note = kept_training_note(os.path.join(out, "PROVENANCE.md"))
    write_text(os.path.join(out, "PROVENANCE.md"), reflow(f"""\
# har-st: provenance

**Source:** the original data set har-st, STMicroelectronics' "Human activities dataset" v1.0.1
(3-axis accelerometer, LSM6DSL, 26 Hz, +-4 g, worn on the wrist, in the hand, over the arm or in
a pocket; see `DATA-README-ORIGINAL.md`) and its trained Keras 2.5 model `st_har_model.h5`.
Licence: BSD-3-Clause (`LICENSE`).

**Derived by** `tools/derive_data.py` (which calls `tools/keras_h5_to_npz.py` for the model):

```sh
{COMMAND}
```

- `recordings.npy`: the {len(names)} recordings ({counts[0]} stationary, {counts[1]} walking,
  {counts[2]} running), each the 1,000 `x,y,z` lines of its CSV file, as int16 milli-g (the CSV
  integers, unchanged), shape (recordings, 1000, 3). Order: by class (stationary, walking,
  running), then by file name.
- `labels.npy` (uint8: 0 stationary, 1 walking, 2 running), `recording_ids.npy` (uint8: the
  number in the file name, unique within a class), `recordings.csv` (index, label, class, id and
  the original file name of each recording).
- No preprocessing is baked in. The model was trained on frames of 26 samples with a hop of 13
  (50% overlap) within each recording, divided by 4000; the code that reads these files does
  that ({per_recording} frames per recording, {len(frames):,} frames in all).
- `st_har_model.npz`: the weights of `st_har_model.h5` under tsq's names (`conv1d.kernel`,
  `conv1d.bias`, ..., Keras layout, float32, unchanged) and the member `model.layers` (the layer
  list as UTF-8 JSON); `st_har_model.layers.json` is the same list, indented. Command alone:
  `/usr/bin/python3 tools/keras_h5_to_npz.py st_har_model.h5 st_har_model.npz --layers-json
  st_har_model.layers.json`.
- `st_har_reference.npz`: a fixture for the importer's test. A float64 numpy forward pass of the
  model, with the weights read from the `.h5` directly (not through the converter), over all
  {len(frames):,} frames classifies {correct:,} correctly ({100.0 * correct / len(frames):.2f}%;
  per class {per_class[0]:.3f} / {per_class[1]:.3f} / {per_class[2]:.3f}). 20 of the frames
  ({REFERENCE_PER_CLASS[0]} / {REFERENCE_PER_CLASS[1]} / {REFERENCE_PER_CLASS[2]} per class, numpy
  `default_rng({REFERENCE_SEED})`) are stored with their softmax outputs: `frame_index` (int32,
  frame number in the order above), `frames` (float32 (20, 26, 3), already divided by 4000),
  `labels` (uint8) and `probabilities` (float32 (20, 3)).
- The model's original train/test split was random over frames without a seed, so most frames
  were seen in training: use them for float-vs-quantized agreement, and split by recording to
  test models trained on them.

{file_table(out, outputs)}

{source_table(source, ["st_har_model.h5"])}
""") + training_note)
    print(f"har-st: {len(names)} recordings, {len(frames)} frames, float accuracy "
          f"{correct}/{len(frames)}")


# ---------------------------------------------------------------------------------------------
# ecg-mitbih

ECG_DATA_LICENSE = """\
The heartbeats (beats.npy, labels.npy, records.npy) are derived from the MIT-BIH Arrhythmia
Database, made available by PhysioNet under the Open Data Commons Attribution License v1.0
(ODC-By 1.0, https://opendatacommons.org/licenses/by/1-0/). Attribution:
  Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. IEEE Engineering in Medicine
  and Biology 20(3):45-50 (May-June 2001).
  Goldberger AL, Amaral LAN, Glass L, Hausdorff JM, Ivanov PCh, Mark RG, Mietus JE, Moody GB,
  Peng C-K, Stanley HE. PhysioBank, PhysioToolkit, and PhysioNet: components of a new research
  resource for complex physiologic signals. Circulation 101(23):e215-e220 (2000).

The trained heartbeat classifier (in tests/data, as TFLite files and converted weights) is under
the Apache License, Version 2.0, reproduced here because this folder is distributed with it:
"""


def derive_ecg(source, out):
    beats = np.load(os.path.join(source, "beats.npy"))
    labels = np.load(os.path.join(source, "labels.npy"))
    records = np.load(os.path.join(source, "records.npy"))
    if beats.dtype != np.float32 or labels.dtype != np.uint8 or records.dtype != np.int16:
        raise SystemExit("ecg-mitbih: unexpected dtypes")
    half = beats.astype("<f2")
    if not np.all(np.isfinite(half)):
        raise SystemExit("ecg-mitbih: a beat overflows float16")
    error = np.abs(half.astype(np.float64) - beats.astype(np.float64))
    normal = np.abs(beats) >= 2.0 ** -14  # half's normal range: relative error <= 2^-11
    relative = error[normal] / np.abs(beats[normal].astype(np.float64))
    step = 0.049096  # the int8 input scale of the TFLite model
    save_npy(os.path.join(out, "beats.npy"), half)
    for name in ("labels.npy", "records.npy"):
        copy(os.path.join(source, name), os.path.join(out, name))
    with open(os.path.join(source, "LICENSE"), encoding="utf-8") as stream:
        apache = stream.read().rstrip("\n")
    write_text(os.path.join(out, "LICENSE"), ECG_DATA_LICENSE + "\n" + apache)

    counts = np.bincount(labels, minlength=5)
    outputs = ["beats.npy", "labels.npy", "records.npy", "LICENSE"]
    write_text(os.path.join(out, "PROVENANCE.md"), reflow(f"""\
# ecg-mitbih: provenance

**Source:** the original data set ecg-mitbih: single MLII heartbeats of the MIT-BIH Arrhythmia
Database (360 Hz), cut from R-90 to R+170 samples (260 samples) and each z-scored, with their
AAMI classes (0 N, 1 S, 2 V, 3 F, 4 Q) and MIT-BIH record numbers: every non-N beat of 32
records plus 10,000 N beats drawn with a fixed seed; and a trained CNN after Acharya et al. 2017
(Conv1D 5 k3, Conv1D 10 k4, Conv1D 20 k4 with max pooling, Dense 30, 20, 5, softmax), as TFLite
float and full-integer files. Licences: data ODC-By 1.0, model Apache-2.0 (`LICENSE`).

**Derived by** `tools/derive_data.py`:

```sh
{COMMAND}
```

- `beats.npy`: all {len(beats):,} beats, the original float32 values rounded to IEEE float16
  (`astype('<f2')`, round to nearest even), shape {tuple(half.shape)}: {half.nbytes / 1e6:.1f} MB
  instead of {beats.nbytes / 1e6:.1f} MB. tsq's `.npy` reader widens float16 to float32 (exactly),
  so readers get float32 values. Rounding error (values span {beats.min():.2f} ..
  {beats.max():.2f}): max |error| {error.max():.2e}, rms {np.sqrt((error ** 2).mean()):.2e}, max
  relative error {relative.max():.2e} for |value| >= 2^-14; the int8 input step of the TFLite
  model ({step}) is {step / error.max():.0f} times the largest error and
  {step / np.sqrt((error ** 2).mean()):.0f} times the rms.
- `labels.npy` (uint8; counts N {counts[0]:,}, S {counts[1]:,}, V {counts[2]:,}, F {counts[3]:,},
  Q {counts[4]:,}) and `records.npy` (int16, the MIT-BIH record of each beat, for splits by
  record): the original files, unchanged.
- The trained model (float and full-integer TFLite files, and their conversions to `.npz`) is in
  `tests/data/` (`ecg_classifier_*`), with its own provenance note.
- No beat is left out: every figure is over the same 18,282 beats as on the original float32
  beats. What the float16 rounding changes, measured with tsq on both sets. The float model:
  0 predictions change (a float64 numpy pass over both sets), accuracy 98.239% on both with tsq's
  float kernels. The TFLite int8 model run by tsq's integer kernels (`tsq_kernels_test
  "[ecg_model]"`): accuracy 98.211% -> 98.206% (double rounding) and 98.200% -> 98.184% (single
  rounding); class agreement with the float model 99.814% -> 99.819% (double) and 99.814% ->
  99.809% (single); double and single rounding differ on 2 -> 4 beats. The demo, which
  calibrates on 300 of the beats and quantizes the float model itself, so its scales move
  slightly: int8 accuracy 98.217% -> 98.233% (double) and 98.244% -> 98.200% (single),
  agreement with float 99.880% -> 99.885% (double) and 99.863% (single, unchanged), macro F1
  0.8235 -> 0.8038 (one of the 17 F beats fewer recognised: F recall 2/17 -> 1/17).

{file_table(out, outputs)}

{source_table(source, ["beats.npy", "labels.npy", "records.npy"])}
"""))
    print(f"ecg-mitbih: {len(beats)} beats as float16, max |error| {error.max():.2e}")


# ---------------------------------------------------------------------------------------------
# mnist-lstm and deepconvlstm-ucihar: copies


def derive_mnist(source, out):
    names = ["samples.npy", "sample_labels.npy", "LICENSE"]
    for name in names:
        copy(os.path.join(source, name), os.path.join(out, name))
    write_text(os.path.join(out, "PROVENANCE.md"), reflow(f"""\
# mnist-lstm: provenance

**Source:** the original data set mnist-lstm: ten MNIST sample digits of the TensorFlow Lite Micro
example of a trained LSTM on MNIST (Keras Input (28, 28) -> LSTM 20, return sequences -> Flatten
-> Dense 10 softmax; an image is read as 28 time steps of 28 features, pixels / 255). Licence:
Apache-2.0 (`LICENSE`).

**Copied unchanged by** `tools/derive_data.py`:

```sh
{COMMAND}
```

- `samples.npy`: ten 28x28 grey digits, uint8 (10, 28, 28), 0..255; image k shows digit k.
- `sample_labels.npy`: their labels, uint8 0..9.
- The trained model (the full-integer TFLite file and the float and int8 models converted to
  `.npz`) is in `tests/data/` (`mnist_lstm_*`), with its own provenance note.

{file_table(out, names)}
"""))
    print("mnist-lstm: copied")


def derive_deepconvlstm(source, out):
    names = ["ordonez2016_deepconvlstm.npz", "LICENSE"]
    for name in names:
        copy(os.path.join(source, name), os.path.join(out, name))
    write_text(os.path.join(out, "PROVENANCE.md"), reflow(f"""\
# deepconvlstm-ucihar: provenance

**Source:** the original data set deepconvlstm-ucihar: the float32 weights of the
"Ordonez2016DeepOriginal" DeepConvLSTM trained on UCI-HAR by M. Malekzadeh (2020) (input
(128, 6, 1): 128 steps of body acceleration xyz and gyroscope xyz; four Conv (5 x 1, 64 filters),
two LSTM (128 units, Keras gate order i, f, c, o), Dense 6; reported test accuracy 93.65%).
Licence: MIT (`LICENSE`).

**Copied unchanged by** `tools/derive_data.py`:

```sh
{COMMAND}
```

- `ordonez2016_deepconvlstm.npz`: conv1..conv4 `_kernel` (5, 1, C_in, 64) and `_bias`;
  `lstm1_kernel` (384, 512), `lstm1_recurrent_kernel` (128, 512), `lstm1_bias` (512); the same for
  `lstm2` with input 128; `dense_kernel` (128, 6), `dense_bias` (6).
- The UCI-HAR windows themselves are not included: the weights serve as a real trained weight set
  (ranges, LSTM behaviour), not for an accuracy figure.

{file_table(out, names)}
"""))
    print("deepconvlstm-ucihar: copied")


# ---------------------------------------------------------------------------------------------
# tests/data: the trained TFLite models, checked against the originals (not rewritten)

TESTS_DATA_NPZ = {  # tests/data member -> the original model's JSON dump
    "ecg_classifier_float.npz": "ecg-mitbih/classify_heartbeats_float.json",
    "ecg_classifier_int8.npz": "ecg-mitbih/classify_heartbeats_int8.json",
    "mnist_lstm_float.npz": "mnist-lstm/trained_lstm.json",
    "mnist_lstm_int8.npz": "mnist-lstm/trained_lstm_int8.json",
}
TESTS_DATA_TFLITE = {  # tests/data member -> the original file
    "ecg_classifier_float.tflite": "ecg-mitbih/classify_heartbeats_float.tflite",
    "ecg_classifier_int8.tflite": "ecg-mitbih/classify_heartbeats_int8.tflite",
    "mnist_lstm_float.tflite": "mnist-lstm/trained_lstm.tflite",
    "mnist_lstm_int8.tflite": "mnist-lstm/trained_lstm_int8.tflite",
}


def same_arrays(path_a, path_b):
    with np.load(path_a) as a, np.load(path_b) as b:
        return a.files == b.files and all(
            a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a.files)


def derive_tests_data(source, folder):
    import tflite_json_to_npz

    present = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, dump in TESTS_DATA_NPZ.items():
            fresh = os.path.join(scratch, name)
            with open(os.devnull, "w") as quiet:
                stdout, sys.stdout = sys.stdout, quiet
                try:
                    tflite_json_to_npz.main(os.path.join(source, dump), fresh)
                finally:
                    sys.stdout = stdout
            if not same_arrays(fresh, os.path.join(folder, name)):
                raise SystemExit(f"tests/data/{name} differs from a fresh conversion of {dump}")
            present.append(name)
    for name, original in TESTS_DATA_TFLITE.items():
        path = os.path.join(folder, name)
        if os.path.exists(path):
            if sha256(path) != sha256(os.path.join(source, original)):
                raise SystemExit(f"tests/data/{name} is not a copy of {original}")
            present.append(name)
    with open(os.path.join(source, "mnist-lstm", "LICENSE"), encoding="utf-8") as stream:
        apache = stream.read().rstrip("\n")
    write_text(os.path.join(folder, "LICENSE"), f"""\
The trained models in this folder (the MIT-BIH heartbeat classifier, ecg_classifier_*, and the
MNIST LSTM of the TensorFlow Lite Micro examples, mnist_lstm_*) are under the Apache License,
Version 2.0:

{apache}""")
    rows = []
    for name in present:
        how = "converted" if name.endswith(".npz") else "copied"
        original = TESTS_DATA_NPZ.get(name) or TESTS_DATA_TFLITE[name]
        digest = sha256(os.path.join(folder, name))[:16]
        rows.append(f"| `{name}` | `{original}` | {how} | `{digest}` |")
    write_text(os.path.join(folder, "PROVENANCE.md"), reflow(f"""\
# tests/data: provenance

Two trained TFLite models of the original data sets ecg-mitbih (a heartbeat CNN after Acharya et
al. 2017, float and full-integer) and mnist-lstm (the TensorFlow Lite Micro LSTM example, float
and full-integer). Licence: Apache-2.0 (`LICENSE`).

- `*.tflite`: the original files, unchanged.
- `*.npz`: the models' JSON dumps (`flatc --json --strict-json`, quantization scales written as
  the shortest decimal that round-trips the stored float32) converted by
  `tools/tflite_json_to_npz.py <model>.json <name>.npz`: per tensor `t<i>` (constant data),
  `t<i>.shape`, `t<i>.scale`, `t<i>.zero_point`, `t<i>.axis`; per operator `op<k>`.

`tools/derive_data.py` checks these files against the originals (every `.npz` has the arrays of a
fresh conversion, every `.tflite` the original's bytes) and writes this note:

```sh
{COMMAND}
```

| file | from the original | how | sha256 |
|---|---|---|---|
""" + "\n".join(rows)))
    print(f"tests/data: {len(present)} files match the originals")


README = f"""\
# Real data for tsq's tests, examples and demo

Compact copies of public third-party data sets and trained models. Each folder keeps its licence
(`LICENSE`) and says where its files come from and how they were derived (`PROVENANCE.md`). All
of it is written by one script, reproducibly:

```sh
{COMMAND}
```

| folder | what | licence |
|---|---|---|
| `har-st/` | 92 wrist accelerometer recordings (int16 milli-g, 26 Hz) and ST's Conv1D model | BSD-3-Clause |
| `ecg-mitbih/` | 18,282 MIT-BIH heartbeats (float16) with AAMI labels and record numbers | ODC-By 1.0 |
| `mnist-lstm/` | ten MNIST sample digits of the TensorFlow Lite Micro LSTM example | Apache-2.0 |
| `deepconvlstm-ucihar/` | trained DeepConvLSTM weights (float32, UCI-HAR) | MIT |

The trained TFLite models these go with (the heartbeat CNN and the MNIST LSTM, as `.tflite` and
converted to `.npz`) are in `tests/data/`, with their licence (Apache-2.0) and provenance note.

Tests read these files only. The demo reads `ecg-mitbih/` from here too, unless `--data DIR` or
the environment variable `TSQ_DATA_DIR` names another folder with the same layout (for example
the beats in float32, or more of them).
"""


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="folder with the original data sets")
    parser.add_argument("--out", default=os.path.join(REPO, "data"), help="default: data/")
    parser.add_argument("--tests-data", default=os.path.join(REPO, "tests", "data"),
                        help="the folder of the converted models (default: tests/data/)")
    args = parser.parse_args(argv)
    steps = (("har-st", derive_har), ("ecg-mitbih", derive_ecg), ("mnist-lstm", derive_mnist),
             ("deepconvlstm-ucihar", derive_deepconvlstm))
    for name, derive in steps:
        out = os.path.join(args.out, name)
        os.makedirs(out, exist_ok=True)
        derive(os.path.join(args.source, name), out)
    write_text(os.path.join(args.out, "README.md"), README)
    derive_tests_data(args.source, args.tests_data)


if __name__ == "__main__":
    main(sys.argv[1:])
