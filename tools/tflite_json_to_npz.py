#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Converts a TFLite model dumped to JSON (flatc --json --strict-json) into an uncompressed .npz
that tsq's own reader (include/tsq/io/npz.hpp) loads.

For every tensor i of subgraph 0 it writes
  t<i>             the constant data (weights, biases), typed and shaped, when the tensor has a buffer
  t<i>.shape       int32 shape
  t<i>.scale       float32 quantization scales (absent for float tensors)
  t<i>.zero_point  int32 zero points
  t<i>.axis        int32 [quantized_dimension] for per-axis tensors
and for every operator k
  op<k>            int32 [builtin_code, n_inputs, inputs..., n_outputs, outputs...]
It prints a table of tensor names so that a reader of the test knows which index is which.
Scales are parsed as double and rounded to float32, which gives the stored bits (the dumps write
the shortest round-tripping decimal).

Usage: tools/tflite_json_to_npz.py model.json out.npz
"""
import json
import sys

import numpy as np

BUILTIN_CODES = {  # the TFLite BuiltinOperator values of the ops tsq reads
    "CONV_2D": 3, "DEPTHWISE_CONV_2D": 4, "DEQUANTIZE": 6, "FULLY_CONNECTED": 9, "LOGISTIC": 14,
    "MAX_POOL_2D": 17, "RESHAPE": 22, "SOFTMAX": 25, "TANH": 28, "UNIDIRECTIONAL_SEQUENCE_LSTM": 44,
    "MEAN": 40, "ADD": 0, "AVERAGE_POOL_2D": 1, "QUANTIZE": 114,
}
TYPES = {  # TFLite TensorType enum names -> numpy dtypes
    None: np.float32, "FLOAT32": np.float32, "INT32": np.int32, "UINT8": np.uint8,
    "INT64": np.int64, "INT16": np.int16, "INT8": np.int8, "FLOAT64": np.float64,
}


def main(source, destination):
    with open(source) as f:
        model = json.load(f)
    graph = model["subgraphs"][0]
    buffers = model["buffers"]
    arrays = {}
    for i, tensor in enumerate(graph["tensors"]):
        dtype = TYPES[tensor.get("type")]
        shape = tensor.get("shape", [])
        arrays[f"t{i}.shape"] = np.array(shape, dtype=np.int32)
        data = buffers[tensor.get("buffer", 0)].get("data") if "buffer" in tensor else None
        if data:
            values = np.frombuffer(bytes(data), dtype=np.dtype(dtype).newbyteorder("<"))
            arrays[f"t{i}"] = values.reshape(shape).astype(dtype)
        q = tensor.get("quantization", {})
        if "scale" in q:
            arrays[f"t{i}.scale"] = np.array([float(s) for s in q["scale"]], dtype=np.float64).astype(np.float32)
            arrays[f"t{i}.zero_point"] = np.array(q.get("zero_point", [0] * len(q["scale"])), dtype=np.int32)
            if len(q["scale"]) > 1:
                arrays[f"t{i}.axis"] = np.array([q.get("quantized_dimension", 0)], dtype=np.int32)
        print(f"t{i:<3} {str(tensor.get('type') or 'FLOAT32'):8} {str(shape):18} {tensor['name']}")
    codes = model["operator_codes"]
    for k, op in enumerate(graph["operators"]):
        code = codes[op.get("opcode_index", 0)]
        builtin = code.get("builtin_code", code.get("deprecated_builtin_code", 0))
        if isinstance(builtin, str):  # newer dumps write the enum name
            builtin = BUILTIN_CODES.get(builtin, -1)
        builtin = max(builtin, code.get("deprecated_builtin_code", 0))
        ins, outs = op.get("inputs", []), op.get("outputs", [])
        arrays[f"op{k}"] = np.array([builtin, len(ins), *ins, len(outs), *outs], dtype=np.int32)
        print(f"op{k:<3} builtin {builtin:3} in {ins} out {outs} {op.get('builtin_options', '')}")
    np.savez(destination, **arrays)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
