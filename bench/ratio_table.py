#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Markdown table of one tsq_bench run: integer (int8, int16, hybrid) vs float time per op and shape.

Usage:
    tsq_bench --benchmark_format=json --benchmark_out=bench.json
    bench/ratio_table.py bench.json            # or: tsq_bench --benchmark_format=json | ratio_table.py
    bench/ratio_table.py --time real bench.json  # real_time instead of cpu_time

Rows are the benchmarks named <op>/<flavour>/<shape>, paired by <op>/<shape>. The ratio columns are
float time / integer time from this one run: the speedup of the integer kernel over the float one
(> 1 means the integer kernel is faster). With --benchmark_repetitions the median is used. Standard
library only.
"""

import argparse
import json
import statistics
import sys

FLAVOURS = ("int8", "int16", "hybrid", "float")
INTEGER_FLAVOURS = ("int8", "int16", "hybrid")
TO_MICROSECONDS = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="?", default="-", help="tsq_bench JSON output ('-' = stdin)")
    parser.add_argument("--time", choices=("real", "cpu"), default="cpu",
                        help="which time to compare (default: cpu, robust on a shared machine)")
    return parser.parse_args()


def load(path):
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def collect(report, time_key):
    """{(op, shape): {flavour: microseconds or 'error'}}, in the order of the run."""
    iterations = {}  # name -> [times]
    medians = {}  # name -> time, from --benchmark_repetitions aggregates
    errors = set()
    order = []
    for row in report.get("benchmarks", []):
        name = row.get("run_name", row["name"])
        parts = name.split("/")
        if len(parts) < 3 or parts[1] not in FLAVOURS:
            continue
        if name not in iterations:
            iterations[name] = []
            order.append(name)
        if row.get("error_occurred"):
            errors.add(name)
            continue
        time = row[time_key] * TO_MICROSECONDS[row.get("time_unit", "ns")]
        if row.get("run_type") == "aggregate":
            if row.get("aggregate_name") == "median":
                medians[name] = time
        else:
            iterations[name].append(time)
    table = {}
    for name in order:
        op, flavour, shape = name.split("/")[:3]
        cell = table.setdefault((op, shape), {})
        if name in errors:
            cell[flavour] = "error"
        elif name in medians:
            cell[flavour] = medians[name]
        elif iterations[name]:
            cell[flavour] = statistics.median(iterations[name])
    return table


def format_time(value):
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_ratio(float_time, integer_time):
    if not isinstance(float_time, float) or not isinstance(integer_time, float) or integer_time <= 0:
        return "—"
    return f"{float_time / integer_time:.2f}"


def main():
    args = parse_args()
    report = load(args.json)
    table = collect(report, f"{args.time}_time")
    if not table:
        sys.exit("ratio_table.py: no <op>/<flavour>/<shape> benchmarks in the input")
    context = report.get("context", {})
    print(f"tsq_bench {context.get('date', '')} on {context.get('host_name', '?')}: "
          f"{context.get('num_cpus', '?')} CPUs at {context.get('mhz_per_cpu', '?')} MHz, "
          f"{args.time} time in µs; ratio = float / integer (> 1: integer faster)")
    print()
    header = ["op", "shape"] + [f"{f} µs" for f in FLAVOURS] + [f"float/{f}" for f in INTEGER_FLAVOURS]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")
    for (op, shape), cell in table.items():
        times = [format_time(cell.get(f)) for f in FLAVOURS]
        ratios = [format_ratio(cell.get("float"), cell.get(f)) for f in INTEGER_FLAVOURS]
        print("| " + " | ".join([op, shape] + times + ratios) + " |")


if __name__ == "__main__":
    main()
