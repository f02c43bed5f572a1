#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The speed table of one tsq_bench run: int8_simd against the CPU's measured peak, Eigen and the
integer reference, and whole models float against int8.

Usage:
    tsq_bench --benchmark_format=json --benchmark_out=bench.json
    bench/speed_table.py bench.json

Per <op>/<shape> with an int8_simd row: its time, its rate in G int8 MAC/s and GOPS (one MAC is
two operations), its share of peak/vnni, and the time of the eigen, float and int8 (reference)
rows over the int8_simd time (> 1: int8_simd faster). fc_big is also given against the time of
peak/stream_8mb (reading 8 MB once). Then the hybrid_simd rows (DRQ on kernels/simd) against
the hybrid reference and Eigen, and the model/float and model/int8 rows. All from this one
run (medians when it has repetitions). Standard library only.
"""

import json
import statistics
import sys

TO_MICROSECONDS = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}


def load(path):
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def collect(report):
    """{name: (microseconds, row)}: the median over repetitions where the run has them."""
    times, rows, medians = {}, {}, {}
    for row in report.get("benchmarks", []):
        if row.get("error_occurred"):
            continue
        name = row.get("run_name", row["name"])
        time = row["cpu_time"] * TO_MICROSECONDS[row.get("time_unit", "ns")]
        if row.get("run_type") == "aggregate":
            if row.get("aggregate_name") == "median":
                medians[name] = (time, row)
            continue
        times.setdefault(name, []).append(time)
        rows[name] = row
    result = {name: (statistics.median(values), rows[name]) for name, values in times.items()}
    result.update(medians)
    return result


def fmt(value, digits=1):
    return "—" if value is None else f"{value:,.{digits}f}"


def main():
    report = load(sys.argv[1] if len(sys.argv) > 1 else "-")
    rows = collect(report)
    peak = rows.get("peak/vnni")
    peak_macs = peak[1].get("items_per_second") if peak else None
    stream = rows.get("peak/stream_8mb")
    fma = rows.get("peak/fma")
    print("peaks of this run: "
          f"peak/vnni {fmt(peak_macs / 1e9 if peak_macs else None)} G int8 MAC/s, "
          f"peak/fma {fmt(fma[1].get('items_per_second') / 1e9 if fma else None)} G FMA/s, "
          f"peak/stream_8mb {fmt(stream[0] if stream else None)} µs per 8 MB")
    print()
    print("| op / shape | int8_simd µs | G MAC/s | GOPS | % peak/vnni | eigen / simd | "
          "float / simd | reference / simd |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (time, row) in rows.items():
        parts = name.split("/")
        if len(parts) != 3 or parts[1] != "int8_simd":
            continue
        op, _, shape = parts
        macs = row.get("MACs")
        rate = macs / time / 1e3 if macs else None  # MACs per µs / 1e3 = G MAC/s
        share = 100.0 * rate * 1e9 / peak_macs if rate and peak_macs else None

        def ratio(flavour):
            other = rows.get(f"{op}/{flavour}/{shape}")
            return fmt(other[0] / time, 2) if other else "—"

        label = f"{op} / {shape}"
        if shape == "fc_big" and stream:
            label += f" ({time / stream[0]:.2f}x the 8 MB stream)"
        print(f"| {label} | {fmt(time, 2)} | {fmt(rate)} | {fmt(2 * rate if rate else None)} | "
              f"{fmt(share)} | {ratio('eigen')} | {ratio('float')} | {ratio('int8')} |")
    hybrid = [(name, entry) for name, entry in rows.items()
              if len(name.split("/")) == 3 and name.split("/")[1] == "hybrid_simd"]
    if hybrid:  # DRQ: float in and out, int8 weights; the reference is the `hybrid` row
        print()
        print("| op / shape | hybrid_simd µs | G MAC/s | hybrid reference / simd | eigen / simd |")
        print("|---|---:|---:|---:|---:|")
        for name, (time, row) in hybrid:
            op, _, shape = name.split("/")
            macs = row.get("MACs")
            reference = rows.get(f"{op}/hybrid/{shape}")
            eigen = rows.get(f"{op}/eigen/{shape}")
            print(f"| {op} / {shape} | {fmt(time, 2)} | {fmt(macs / time / 1e3 if macs else None)} | "
                  f"{fmt(reference[0] / time, 2) if reference else '—'} | "
                  f"{fmt(eigen[0] / time, 2) if eigen else '—'} |")
    models = sorted({name.split("/")[2] for name in rows if name.startswith("model/")})
    if models:
        print()
        print("| model | float µs | int8 µs | float / int8 |")
        print("|---|---:|---:|---:|")
        for model in models:
            f = rows.get(f"model/float/{model}")
            i = rows.get(f"model/int8/{model}")
            ratio = fmt(f[0] / i[0], 2) if f and i else "—"
            print(f"| {model} | {fmt(f[0] if f else None, 2)} | {fmt(i[0] if i else None, 2)} | "
                  f"{ratio} |")


if __name__ == "__main__":
    main()
