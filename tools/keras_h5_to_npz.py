#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Converts a Keras .h5 model (HDF5, as model.save() writes it in Keras 2.x) into an uncompressed
.npz that tsq's model API loads with Model::load_weights(), plus the layer list needed to rebuild
the model with tsq's layers.

Weights: every weight of layer L is written as the member "L.<weight>" in Keras' own layout (which
is tsq's WeightLayout::keras), float32:
  kernel, bias, recurrent_kernel         Conv1D/2D, Dense, LSTM
  gamma, beta, moving_mean, moving_variance  BatchNormalization
  embeddings                             Embedding
  depthwise_kernel -> kernel             DepthwiseConv1D/2D (tsq names it kernel)
The weights of a Bidirectional layer B go under "B/forward.<weight>" and "B/backward.<weight>",
the names tsq's Bidirectional reads. Keras' cell scopes ("lstm/lstm_cell/kernel:0") are dropped.

Layer list: the member "model.layers" holds UTF-8 JSON (as uint8 bytes, so tsq's .npy reader
loads it) of the form
  {"format": "tsq-keras-layers/1", "model_class": "Sequential", "keras_version": "2.5.0",
   "input_shape": [26, 3],
   "layers": [{"class_name": "Conv1D", "name": "conv1d", "filters": 16, "kernel_size": [3],
               "strides": [1], "padding": "valid", "activation": "relu", "use_bias": true,
               "weights": ["conv1d.kernel", "conv1d.bias"]}, ...]}
with, per layer, only the options that shape the computation (units, filters, kernel_size,
strides, padding, activation, return_sequences, rate, ...), "inputs" (the names of the layers
feeding it) for functional models, and the wrapped layer of a Bidirectional under "layer".
--layers-json PATH also writes that JSON to a file, indented, for people to read.

Needs only numpy and h5py (Debian: python3-numpy python3-h5py); offline.

Usage: tools/keras_h5_to_npz.py model.h5 out.npz [--layers-json out.json]
"""
import argparse
import io
import json
import sys
import zipfile

import h5py
import numpy as np

# Keras config keys that change what a layer computes or its shapes; the rest (initializers,
# regularizers, constraints, trainable, dtype) do not matter for inference.
KEPT_OPTIONS = (
    "units", "filters", "kernel_size", "strides", "padding", "dilation_rate", "groups",
    "depth_multiplier", "activation", "recurrent_activation", "use_bias", "return_sequences",
    "return_state", "go_backwards", "unroll", "time_major", "rate", "pool_size", "data_format",
    "target_shape", "input_dim", "output_dim", "axis", "epsilon", "center", "scale", "merge_mode",
    "max_value", "negative_slope", "threshold", "alpha", "keepdims", "dims", "n",
)
RENAMED_WEIGHTS = {"depthwise_kernel": "kernel"}
DEPTHWISE_CLASSES = ("DepthwiseConv1D", "DepthwiseConv2D")


def attr_text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def input_shape_of(config):
    shape = config.get("batch_input_shape") or config.get("batch_shape")
    return None if shape is None else list(shape[1:])


def inbound_names(layer):
    """Names of the layers feeding a layer of a functional model (Keras 2 node format)."""
    names = []
    for node in layer.get("inbound_nodes", []):
        entries = node if isinstance(node, list) else node.get("args", [])
        for entry in entries:
            if isinstance(entry, list) and entry and isinstance(entry[0], str):
                names.append(entry[0])
    return names


def layer_entry(layer, functional):
    config = layer.get("config", {})
    entry = {"class_name": layer["class_name"], "name": config.get("name", layer.get("name"))}
    for key in KEPT_OPTIONS:
        if key in config:
            entry[key] = config[key]
    if layer["class_name"] == "Bidirectional":
        inner = config["layer"]
        entry["layer"] = {"class_name": inner["class_name"]}
        for key in KEPT_OPTIONS:
            if key in inner.get("config", {}):
                entry["layer"][key] = inner["config"][key]
    shape = input_shape_of(config)
    if shape is not None:
        entry["input_shape"] = shape
    if functional:
        entry["inputs"] = inbound_names(layer)
    return entry


def layer_list(model_config, keras_version):
    config = model_config["config"]
    functional = model_config["class_name"] not in ("Sequential",)
    layers, input_shape = [], None
    for layer in config["layers"]:
        if layer["class_name"] in ("Sequential", "Functional", "Model"):
            raise SystemExit(f"nested model '{layer['config'].get('name')}' is not supported: "
                             "save the inner model on its own")
        if layer["class_name"] == "InputLayer":
            input_shape = input_shape_of(layer["config"])
            if functional:
                layers.append({"class_name": "InputLayer", "name": layer["config"]["name"],
                               "input_shape": input_shape})
            continue
        entry = layer_entry(layer, functional)
        if input_shape is None and "input_shape" in entry:
            input_shape = entry["input_shape"]
        layers.append(entry)
    return {"format": "tsq-keras-layers/1", "model_class": model_config["class_name"],
            "keras_version": keras_version, "input_shape": input_shape, "layers": layers}


def member_name(layer_name, class_name, weight_path):
    """'bidirectional/forward_lstm/lstm_cell_1/kernel:0' -> 'bidirectional/forward.kernel'."""
    parts = weight_path.split(":")[0].split("/")
    weight = parts[-1]
    if class_name in DEPTHWISE_CLASSES or class_name is None:
        weight = RENAMED_WEIGHTS.get(weight, weight)
    scope = layer_name
    if any(p.startswith("forward_") for p in parts[1:-1]):
        scope += "/forward"
    elif any(p.startswith("backward_") for p in parts[1:-1]):
        scope += "/backward"
    return f"{scope}.{weight}"


def read_weights(h5, classes):
    root = h5["model_weights"] if "model_weights" in h5 else h5
    weights = {}
    for layer_name in (attr_text(n) for n in root.attrs["layer_names"]):
        group = root[layer_name]
        for weight_path in (attr_text(n) for n in group.attrs["weight_names"]):
            name = member_name(layer_name, classes.get(layer_name), weight_path)
            if name in weights:
                raise SystemExit(f"two weights map to the member '{name}'")
            weights[name] = np.asarray(group[weight_path], dtype=np.float32)
    return weights


def npy_bytes(array):
    out = io.BytesIO()
    np.lib.format.write_array(out, np.ascontiguousarray(array), allow_pickle=False)
    return out.getvalue()


def write_npz(path, arrays):
    """np.savez's layout (stored members) with fixed timestamps, so the output is reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, npy_bytes(array))


def convert(source, destination, layers_json=None):
    """Converts `source` (.h5) into `destination` (.npz); returns (weights, layer list)."""
    with h5py.File(source, "r") as h5:
        if "model_config" not in h5.attrs:
            raise SystemExit(f"{source}: no model_config attribute (saved with save_weights?); "
                             "the layer list cannot be rebuilt")
        model_config = json.loads(attr_text(h5.attrs["model_config"]))
        keras_version = attr_text(h5.attrs.get("keras_version", "unknown"))
        layers = layer_list(model_config, keras_version)
        classes = {entry["name"]: entry["class_name"] for entry in layers["layers"]}
        weights = read_weights(h5, classes)
    by_layer = {}
    for name in weights:
        by_layer.setdefault(name.split(".")[0].split("/")[0], []).append(name)
    for entry in layers["layers"]:
        entry["weights"] = by_layer.get(entry["name"], [])
    text = json.dumps(layers, sort_keys=False)
    arrays = dict(weights)
    arrays["model.layers"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    write_npz(destination, arrays)
    if layers_json:
        with open(layers_json, "w", encoding="utf-8") as stream:
            json.dump(layers, stream, indent=2)
            stream.write("\n")
    return weights, layers


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="Keras .h5 model")
    parser.add_argument("destination", help=".npz to write")
    parser.add_argument("--layers-json", help="also write the layer list to this JSON file")
    args = parser.parse_args(argv)
    weights, layers = convert(args.source, args.destination, args.layers_json)
    for entry in layers["layers"]:
        print(f"{entry['class_name']:20} {entry['name']:20} {', '.join(entry['weights'])}")
    for name, array in weights.items():
        print(f"  {name:36} {str(array.shape):16} float32")
    print(f"{args.destination}: {len(weights)} weights, "
          f"{sum(a.size for a in weights.values())} parameters, input {layers['input_shape']}")


if __name__ == "__main__":
    main(sys.argv[1:])
