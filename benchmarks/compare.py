#!/usr/bin/env python3
"""Pairs pdm benchmark cases with their seed-style baselines and prints the ratios.

Benchmark names follow `<case>/pdm[/<args>]` and `<case>/baseline[/<args>]`. For every pair this
prints the median time of each side and the ratio baseline/pdm: how many times faster pdm is
(above 1: pdm is faster).

A case may also have a third side, `<case>/minimum[/<args>]`: the bare minimum any implementation
must do. For every pdm case with a minimum (the one with the same args, else the one without
args) a second table prints pdm/minimum, how many times the minimum pdm costs ("3.2x the minimum").

Inputs are benchmark binaries, which are run with
    --benchmark_format=json --benchmark_repetitions=N --benchmark_report_aggregates_only=true
or JSON files saved earlier from such a run (`--benchmark_out=file.json` or stdout).

Examples:
    benchmarks/compare.py build/gcc/benchmarks/bench_registry build/gcc/benchmarks/bench_interface
    benchmarks/compare.py --repetitions 20 --markdown build/gcc/benchmarks/bench_interface
    benchmarks/compare.py saved.json
"""

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys

NAME = re.compile(r"^(?P<case>[^/]+)/(?P<side>pdm|baseline|minimum)(?P<args>(?:/.*)?)$")
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def run_binary(path, args):
    """Runs one benchmark binary and returns its parsed JSON output."""
    cmd = [
        path,
        "--benchmark_format=json",
        f"--benchmark_repetitions={args.repetitions}",
        "--benchmark_report_aggregates_only=true",
    ]
    if args.min_time is not None:
        cmd.append(f"--benchmark_min_time={args.min_time}")  # 1.7.1: a plain number of seconds
    if args.filter:
        cmd.append(f"--benchmark_filter={args.filter}")
    print(f"running: {' '.join(cmd)}", file=sys.stderr)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"compare.py: {path} exited with status {proc.returncode}")
    return json.loads(proc.stdout)


def load(path, args):
    """Returns the JSON documents of one input: a binary's run, or a file of one or more documents."""
    if os.path.isfile(path) and os.access(path, os.X_OK) and not path.endswith(".json"):
        return [run_binary(path, args)]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return [json.loads(text)]
    except json.JSONDecodeError:  # --save writes one document per line
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def collect(doc, metric, errors, repetitions):
    """Returns {run_name: {"median": ns, "cv": fraction or None}} from one JSON document."""
    medians, cvs, samples = {}, {}, {}
    for b in doc.get("benchmarks", []):
        run_name = b.get("run_name", b["name"])
        repetitions.add(b.get("repetitions", 1))
        if b.get("error_occurred"):
            errors.append(f"{run_name}: {b.get('error_message', 'error')}")
            continue
        scale = TO_NS[b.get("time_unit", "ns")]
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[run_name] = b[metric] * scale
            elif b.get("aggregate_name") == "cv":
                cvs[run_name] = b[metric]  # a fraction, not a time
        else:
            samples.setdefault(run_name, []).append(b[metric] * scale)
    out = {}
    for run_name in dict.fromkeys(list(medians) + list(samples)):
        if run_name in medians:
            out[run_name] = {"median": medians[run_name], "cv": cvs.get(run_name)}
        else:  # one repetition: no aggregates were reported
            out[run_name] = {"median": statistics.median(samples[run_name]), "cv": None}
    return out


def natural_key(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def fmt_ns(ns):
    if ns >= 100:
        return f"{ns:,.0f}"
    if ns >= 10:
        return f"{ns:.1f}"
    return f"{ns:.2f}"


def fmt_cv(cv):
    return "-" if cv is None or math.isnan(cv) else f"{100 * cv:.1f}%"


def print_table(header, rows, markdown):
    """Prints rows under header, as aligned text or as a Markdown table; the first two columns are text."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        for i, r in enumerate([header] + rows):
            cells = [str(c).ljust(w) if j < 2 else str(c).rjust(w) for j, (c, w) in enumerate(zip(r, widths))]
            print("  ".join(cells))
            if i == 0:
                print("  ".join("-" * w for w in widths))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="benchmark binaries to run, or JSON files to read")
    p.add_argument("--repetitions", type=int, default=10, help="repetitions per case (default 10)")
    p.add_argument("--min-time", help="--benchmark_min_time in seconds per repetition (default: the binary's)")
    p.add_argument("--filter", help="--benchmark_filter regex")
    p.add_argument("--metric", choices=["cpu_time", "real_time"], default="cpu_time",
                   help="which time to compare (default cpu_time, robust on a busy machine)")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--save", help="write the JSON documents read or produced to this file, one per line")
    p.add_argument("--require-pairs", action="store_true",
                   help="fail if a case has no partner or a benchmark reported an error")
    args = p.parse_args()

    results, contexts, errors, repetitions = {}, [], [], set()
    if args.save:
        open(args.save, "w", encoding="utf-8").close()
    for path in args.inputs:
        for doc in load(path, args):
            contexts.append(doc.get("context", {}))
            results.update(collect(doc, args.metric, errors, repetitions))
            if args.save:
                with open(args.save, "a", encoding="utf-8") as f:
                    json.dump(doc, f)
                    f.write("\n")

    pairs, unmatched, case_order, minimums = {}, [], {}, {}
    for run_name, r in results.items():
        m = NAME.match(run_name)
        if not m:
            unmatched.append(run_name)
            continue
        case_order.setdefault(m["case"], len(case_order))  # cases in the order the binaries ran them
        if m["side"] == "minimum":
            minimums[(m["case"], m["args"].lstrip("/"))] = r
            continue
        pairs.setdefault((m["case"], m["args"].lstrip("/")), {})[m["side"]] = r

    rows = []
    for (case, case_args), sides in sorted(pairs.items(), key=lambda kv: (case_order[kv[0][0]], natural_key(kv[0][1]))):
        if "pdm" not in sides or "baseline" not in sides:
            unmatched.append(f"{case}/{'pdm' if 'pdm' in sides else 'baseline'}/{case_args} (no partner)")
            continue
        pdm, base = sides["pdm"], sides["baseline"]
        ratio = base["median"] / pdm["median"] if pdm["median"] > 0 else float("inf")
        rows.append((case, case_args or "-", fmt_ns(pdm["median"]), fmt_cv(pdm["cv"]), fmt_ns(base["median"]),
                     fmt_cv(base["cv"]), f"{ratio:.1f}x"))

    # pdm against the minimum: the minimum with the same args, else the case's minimum without args.
    floor_rows, used_minimums = [], set()
    for (case, case_args), sides in sorted(pairs.items(), key=lambda kv: (case_order[kv[0][0]], natural_key(kv[0][1]))):
        key = next((k for k in ((case, case_args), (case, "")) if k in minimums), None)
        if "pdm" not in sides or key is None:
            continue
        used_minimums.add(key)
        pdm, floor = sides["pdm"], minimums[key]
        ratio = pdm["median"] / floor["median"] if floor["median"] > 0 else float("inf")
        floor_rows.append((case, case_args or "-", fmt_ns(pdm["median"]), fmt_ns(floor["median"]), fmt_cv(floor["cv"]),
                           f"{ratio:.1f}x the minimum"))
    for case, case_args in minimums:
        if (case, case_args) not in used_minimums:
            unmatched.append(f"{case}/minimum{'/' + case_args if case_args else ''} (no pdm case)")

    ctx = contexts[0] if contexts else {}
    print(f"# host: {ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, "
          f"load {ctx.get('load_avg', '?')}")
    for c in contexts:
        if "pdm_compiler" in c:
            print(f"# built by: {c['pdm_compiler']}, library build type: {c.get('library_build_type', '?')}")
            break
    reps = "/".join(str(r) for r in sorted(repetitions)) or "?"
    print(f"# metric: median {args.metric} in ns over {reps} repetitions; ratio = baseline / pdm")

    header = ("case", "args", "pdm ns", "pdm cv", "baseline ns", "baseline cv", "baseline/pdm")
    print_table(header, rows, args.markdown)
    if floor_rows:
        print()
        print(f"# pdm against the bare minimum: median {args.metric} in ns; ratio = pdm / minimum")
        print_table(("case", "args", "pdm ns", "minimum ns", "minimum cv", "pdm/minimum"), floor_rows, args.markdown)

    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    for u in unmatched:
        print(f"unpaired: {u}", file=sys.stderr)
    if args.require_pairs and (errors or unmatched or not rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
