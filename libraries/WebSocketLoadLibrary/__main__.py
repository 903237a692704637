"""Command line: one load step from the shell, without Robot Framework; merging and comparing
saved results.

    python -m WebSocketLoadLibrary run --rate 1000 --messages 5000 --connections 10
    python -m WebSocketLoadLibrary run --uri wss://host/ws --token-env API_TOKEN --rate max --duration 10
    python -m WebSocketLoadLibrary merge output --json merged.json --html merged.html
    python -m WebSocketLoadLibrary compare baseline.json output --tolerance 10%
    LOAD_AGENT_SECRET=... python -m WebSocketLoadLibrary agent --host 10.0.0.5 --port 8270
    LOAD_AGENT_SECRET=... python -m WebSocketLoadLibrary agent --tls-cert agent.pem --tls-key agent.key

run: without --uri it starts the embedded mock server. Exits 0 when the load was applied and
the delivery ratio is at least --min-delivery, 1 when not, 2 on bad input or a failed
connection.
merge: every result saved under a folder (recursively: pabot_results/*/load-results/ too)
into one summary with percentiles from the merged histograms. Exits 2 if there is none.
compare: throughput and p95/p99 per step, matched by name, against a baseline (a result
file, a merged file or a folder). Exits 1 on a regression or a missing step, 2 on bad input.
agent: serve this machine's share of distributed load steps to a controller suite (a Robot
Framework remote library; every request must be signed with the shared secret; https:// with
--tls-cert/--tls-key; --request-threads and --request-timeout bound what clients can hold).
`agent --help` tells more.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .engine import ConnectionOptions, LoadEngine, LoadPlan, MessageTemplate
from .errors import WebSocketLoadError
from .mockserver import MockServerProcess


def _rate(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    value = text.strip().lower().removesuffix("/s")
    scale = 1000.0 if value.endswith("k") else 1.0
    try:
        return float(value.removesuffix("k")) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"rate must be a number of messages per second (1000, 1000/s, 2k/s) or max, "
            f"got {text!r}") from None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m WebSocketLoadLibrary", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one load step and print its summary")
    run.add_argument("--uri", help="server to load (default: start the embedded mock server)")
    run.add_argument("--connections", type=int, default=1)
    run.add_argument("--rate", type=_rate, default=1000.0, help="msg/s in all, or max")
    run.add_argument("--messages", type=int)
    run.add_argument("--duration", type=float, metavar="SECONDS")
    run.add_argument("--window", type=int, default=16, help="in flight per connection (max)")
    run.add_argument("--payload-size", type=int, default=32)
    run.add_argument("--reply-timeout", type=float, default=5.0, metavar="SECONDS")
    run.add_argument("--token-env", metavar="NAME", help="bearer token from $NAME")
    run.add_argument("--ca-file")
    run.add_argument("--insecure", action="store_true")
    run.add_argument("--compression", action="store_true")
    run.add_argument("--min-delivery", type=float, default=1.0)
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    merge = commands.add_parser("merge", help="merge the results saved under a folder")
    merge.add_argument("folder", help="a Robot or pabot output directory")
    merge.add_argument("--json", dest="json_path", metavar="FILE",
                       help="default: FOLDER/merged-load-results.json")
    merge.add_argument("--html", dest="html_path", metavar="FILE",
                       help="default: FOLDER/merged-load-results.html")
    commands.add_parser("agent", help="serve load steps to a controller, optionally over TLS "
                                      "(agent --help)")
    compare = commands.add_parser("compare", help="check results against a baseline")
    compare.add_argument("baseline", help="result file, merged file or folder")
    compare.add_argument("current", help="result file, merged file or folder")
    compare.add_argument("--tolerance", default="10%", help="e.g. 10%% or 0.1 (default 10%%)")
    compare.add_argument("--latency-margin-ms", type=float, default=1.0,
                         help="latency must also rise by more than this to regress (default 1)")
    args = parser.parse_args(argv)
    if args.command == "run" and args.messages is None and args.duration is None:
        args.messages = 1000
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["agent"]:
        from .agents.agent_server import main as agent_main
        return agent_main(argv[1:])
    args = parse_args(argv)
    if args.command == "merge":
        return merge_command(args)
    if args.command == "compare":
        return compare_command(args)
    return run_command(args)


def merge_command(args) -> int:
    from pathlib import Path

    from .reports.merge import merge_folder
    from .reports.records import write_json_atomically, write_text_atomically
    folder = Path(args.folder)
    try:
        merged = merge_folder(folder)
    except WebSocketLoadError as error:  # anything else is a bug: its traceback shows
        print(f"error: {error}", file=sys.stderr)
        return 2
    json_path = Path(args.json_path or folder / "merged-load-results.json")
    html_path = Path(args.html_path or folder / "merged-load-results.html")
    write_json_atomically(json_path, merged.to_document())
    html_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(html_path, merged.html_page())
    print(merged.text())
    print(f"\n{len(merged.records)} step(s) from {len(merged.sources)} file(s); "
          f"written: {json_path}, {html_path}")
    return 0


def compare_command(args) -> int:
    from .reports.records import read_records
    from .reports.regression import compare, parse_tolerance
    try:
        comparison = compare(read_records(args.baseline), read_records(args.current),
                             parse_tolerance(args.tolerance), args.latency_margin_ms)
    except WebSocketLoadError as error:  # anything else is a bug: its traceback shows
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(comparison.text())
    print()
    print(comparison.summary())
    return 0 if comparison.passed else 1


def run_command(args) -> int:
    server = None
    engine = LoadEngine()
    try:
        uri = args.uri
        if uri is None:
            server = MockServerProcess(compression=args.compression)
            uri = server.start()
        token = os.environ.get(args.token_env) if args.token_env else None
        options = ConnectionOptions(uri, token=token, ca_file=args.ca_file,
                                    insecure=args.insecure, compression=args.compression)
        pool = engine.connect(options, count=args.connections)
        plan = LoadPlan(rate=args.rate, messages=args.messages, duration_s=args.duration,
                        window=args.window, reply_timeout_s=args.reply_timeout, name="cli")
        result = engine.run_step(pool, plan, MessageTemplate(payload_size=args.payload_size),
                                 server_pid=server.pid if server else None)
    except WebSocketLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        engine.close()
        if server is not None:
            server.stop()
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        width = max(map(len, summary))
        for key, value in summary.items():
            print(f"{key:<{width}}  {value}")
    ok = result.load_applied and result.delivery_ratio >= args.min_delivery
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
