"""Noise check: does a healthy run stay green on a busy machine?

    ./run noisy tests|suites|pabot|agents [--runs N] [--busy K] [--timeout MIN]
                                          [--outdir DIR] [-- extra args for the run]

Runs one of these N times, each run with K busy processes beside it (each one
`python -c "while True: pass"`, started before the run and killed after it, by PID):

- tests:  `./run tests` (pytest)                                        default 5 runs
- suites: `./run suites --variablefile variables/ci.py` (the CI suites)  default 5 runs
- pabot:  `./run pabot --variablefile variables/ci.py`                   default 3 runs
- agents: two load agents on 127.0.0.1 (`./run agent --port 0 --port-file F --name a1`,
          a2; a shared secret made up for the run in LOAD_AGENT_SECRET), then
          `LOAD_AGENTS=http://127.0.0.1:P1,http://127.0.0.1:P2 ./run suites --include agents`,
          then the agents are stopped, by PID                           default 3 runs

K defaults to one per core minus one (`os.cpu_count() - 1`, at least 1); `--busy 0` is the
quiet baseline. Arguments after `--` go to the run, e.g.
`./run noisy suites --runs 1 -- --include quick` or `./run noisy tests -- tests/engine/test_plan.py`.

Each robot run writes into its own output directory (DIR/suites-1/, DIR/pabot-2/, ...;
DIR defaults to output/noisy, emptied before each run), each run's whole console output goes
to DIR/<what>-<n>.log (the agents' own output to DIR/agents-<n>-a1.log, -a2.log). One line
per run: run number, PASS/FAIL, exit code, seconds, and the summary line found in the output
(pytest: "N passed, M failed ..."; robot/pabot: "N tests, N passed, N failed, N skipped").
For a failed run, the log's path and the failed tests (pytest: its FAILED/ERROR lines;
robot: the failed tests of output.xml with their messages). Then
"noisy <what>: X of N runs passed"; exit status 0 when every run passed, 1 otherwise
(130 when interrupted, 2 on bad usage). An agents run in which any test was skipped fails:
the agents were not used.

Nothing hangs: each run (agents' start-up included) has a timeout (--timeout, 20 minutes by
default), after which its process group gets SIGTERM and, 10 s later, SIGKILL. Every child
is started in its own session and stopped by its PID (process group) whatever happens:
failure, timeout, Ctrl+C or SIGTERM. Processes a run leaves behind in its process group are
stopped too, with a note under its line. TARGET_URI, AGENT_TARGET_URI, LOAD_AGENTS and
LOAD_AGENT_SECRET are removed from the runs' environment (the agents run sets its own): the
load goes to the embedded mock servers on 127.0.0.1.

A healthy harness passes 5 of 5 (tests, suites) and 3 of 3 (pabot, agents) on a 2-core
machine with the default busy processes.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = str(ROOT / "run")
DEFAULT_RUNS = {"tests": 5, "suites": 5, "pabot": 3, "agents": 3}
CI_VARIABLES = ("--variablefile", "variables/ci.py")
STOP_GRACE_S = 10
AGENT_START_S = 60
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

PYTEST_SUMMARY = re.compile(
    r"((?:\d+ (?:passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?|rerun)"
    r"(?:, )?)+|no tests ran) in [\d.]+s")
ROBOT_SUMMARY = re.compile(r"\b\d+ tests?, \d+ passed, \d+ failed(?:, \d+ skipped)?")


class Terminated(Exception):
    """SIGTERM or SIGHUP: stop like on Ctrl+C, cleaning up first."""


def _on_signal(signum, frame):
    raise Terminated(signal.Signals(signum).name)


@contextlib.contextmanager
def shielded():
    """Holds back Ctrl+C / SIGTERM / SIGHUP while children are being stopped; a signal that
    arrives meanwhile is delivered after."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(process: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> bool:
    """Stops the child's process group (it was started in its own session, so the group id is
    its PID): SIGTERM, SIGKILL after grace_s. True when anything was still running."""
    pgid = process.pid
    process.poll()
    if not group_alive(pgid):
        return False
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            process.poll()
            if not group_alive(pgid):
                return True
            time.sleep(0.05)
    process.poll()
    return True


def start(command: list[str], log, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def child_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TARGET_URI", "AGENT_TARGET_URI", "LOAD_AGENTS", "LOAD_AGENT_SECRET")}
    env.update(extra)
    return env


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass
class Outcome:
    index: int
    ok: bool = False
    code: int | None = None
    seconds: float = 0.0
    summary: str = ""
    notes: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    warnings: list = field(default_factory=list)   # shown, but the run still passes
    logs: list = field(default_factory=list)


@dataclass
class Agent:
    name: str
    process: subprocess.Popen
    log: object
    log_path: Path
    uri: str = ""


def start_agents(names, folder: Path, stem: str, env: dict, deadline: float,
                 agents: list, outcome: Outcome) -> None:
    """Starts one `./run agent` per name on 127.0.0.1 with a free port, appending each to
    `agents` at once (so the caller stops it whatever happens), and waits for the ports."""
    for name in names:
        port_file = folder / f"{name}.port"
        log_path = folder.parent / f"{stem}-{name}.log"
        log = open(log_path, "w")
        command = [RUN, "agent", "--host", "127.0.0.1", "--port", "0", "--port-file",
                   str(port_file), "--name", name]
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        agents.append(Agent(name, start(command, log, env), log, log_path))
        outcome.logs.append(log_path)
    for agent in agents:
        port_file = folder / f"{agent.name}.port"
        limit = min(deadline, time.monotonic() + AGENT_START_S)
        while time.monotonic() < limit:
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text.isdigit():
                agent.uri = f"http://127.0.0.1:{text}"
                break
            if agent.process.poll() is not None:
                raise RuntimeError(f"agent {agent.name} exited with {agent.process.returncode} "
                                   f"before listening (see {rel(agent.log_path)})")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"agent {agent.name} wrote no port within "
                               f"{AGENT_START_S} s (see {rel(agent.log_path)})")


def robot_failures(output_xml: Path) -> tuple[list[str], tuple | None]:
    """The failed tests of output.xml with their messages, and (total, passed, failed,
    skipped)."""
    if not output_xml.exists():
        return [f"no {rel(output_xml)}"], None
    try:
        from robot.api import ExecutionResult
        result = ExecutionResult(str(output_xml))
    except Exception as error:  # a run killed mid-write leaves a broken file
        return [f"cannot read {rel(output_xml)}: {error}"], None
    failures = []
    for test in result.suite.all_tests:
        if test.status == "FAIL":
            message = " ".join(test.message.split())
            if len(message) > 400:
                message = message[:400] + " ..."
            failures.append(f"{test.full_name}: {message}")
    total = result.statistics.total
    return failures, (total.total, total.passed, total.failed, total.skipped)


def pytest_failures(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.startswith(("FAILED ", "ERROR "))]


def last_match(pattern: re.Pattern, text: str) -> str:
    found = ""
    for line in text.splitlines():
        match = pattern.search(line)
        if match:
            found = match.group(0)
    return found


def run_once(what: str, index: int, args, extra: list[str]) -> Outcome:
    outcome = Outcome(index)
    outdir = args.outdir
    stem = f"{what}-{index}"
    folder = outdir / stem
    log_path = outdir / f"{stem}.log"
    outcome.logs.insert(0, log_path)
    if what != "tests":
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    busy: list[subprocess.Popen] = []
    agents: list[Agent] = []
    child = None
    env = child_env()
    if what == "tests":
        command = [RUN, "tests", *extra]
        env["COLUMNS"] = "200"   # pytest's FAILED lines, cut at the terminal's width
    elif what == "suites":
        command = [RUN, "suites", *CI_VARIABLES, "--outputdir", str(folder), *extra]
    elif what == "pabot":
        command = [RUN, "pabot", *CI_VARIABLES, "--outputdir", str(folder), *extra]
    else:
        command = [RUN, "suites", "--include", "agents", "--outputdir", str(folder), *extra]
        env = child_env(LOAD_AGENT_SECRET=secrets.token_urlsafe(32),
                        AGENT_SERVER_HOST="127.0.0.1")
    started = time.monotonic()
    deadline = started + args.timeout * 60
    with open(log_path, "w") as log:
        try:
            for _ in range(args.busy):
                busy.append(subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                             stdin=subprocess.DEVNULL, start_new_session=True))
            if what == "agents":
                start_agents(("a1", "a2"), folder, stem, env, deadline, agents, outcome)
                env["LOAD_AGENTS"] = ",".join(agent.uri for agent in agents)
                log.write(f"LOAD_AGENTS={env['LOAD_AGENTS']}\n")
            log.write(f"$ {' '.join(command)}\n(busy processes: {args.busy}, "
                      f"timeout {args.timeout:g} min)\n")
            log.flush()
            child = start(command, log, env)
            try:
                outcome.code = child.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                outcome.notes.append(f"TIMEOUT after {args.timeout:g} min: stopped")
        except RuntimeError as error:
            outcome.notes.append(str(error))
        finally:
            with shielded():
                if child is not None:
                    if stop_group(child) and outcome.code is not None:
                        outcome.warnings.append("it left processes behind in its process "
                                                "group: stopped them")
                    if outcome.code is None:   # timed out: the code it was stopped with
                        outcome.code = child.returncode
                for agent in agents:
                    if agent.process.poll() is not None:
                        outcome.notes.append(f"agent {agent.name} had exited with "
                                             f"{agent.process.returncode} before the end")
                    stop_group(agent.process)
                    agent.log.close()
                for process in busy:
                    process.kill()
                for process in busy:
                    process.wait()
    outcome.seconds = time.monotonic() - started
    text = log_path.read_text(errors="replace")
    outcome.ok = outcome.code == 0 and not outcome.notes
    if what == "tests":
        # ./run tests runs pytest twice (the quick loop's tests, then the acceptance ones)
        outcome.summary = " + ".join(match.group(0) for line in text.splitlines()
                                     for match in [PYTEST_SUMMARY.search(line)] if match)
        if not outcome.ok:
            outcome.failures = pytest_failures(text)
    elif child is not None:
        outcome.summary = last_match(ROBOT_SUMMARY, text)
        failures, stats = robot_failures(folder / "output.xml")
        if stats is None:   # robot's own errors tell why (no tests matched, bad option, ...)
            failures += [line.strip() for line in text.splitlines()
                         if line.startswith("[ ERROR ]")][:10]
        if stats and not outcome.summary:
            outcome.summary = "%d tests, %d passed, %d failed, %d skipped (output.xml)" % stats
        if what == "agents" and stats and (stats[3] or not stats[0]):
            outcome.ok = False
            outcome.notes.append(f"{stats[3]} of {stats[0]} tests skipped: the agents were "
                                 f"not used")
        if not outcome.ok:
            outcome.failures = failures
    return outcome


def report(outcome: Outcome) -> None:
    code = "-" if outcome.code is None else outcome.code
    print(f"{'PASS' if outcome.ok else 'FAIL'}  exit {code:<3}  {outcome.seconds:7.1f} s  "
          f"{outcome.summary or '(no summary line found)'}", flush=True)
    for warning in outcome.warnings:
        print(f"    note: {warning}")
    if not outcome.ok:
        for note in outcome.notes:
            print(f"    {note}")
        print(f"    log: {', '.join(rel(path) for path in outcome.logs)}")
        for failure in outcome.failures:
            print(f"    failed: {failure}")
        sys.stdout.flush()


def parse_args(argv: list[str]):
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    else:
        extra = []
    parser = argparse.ArgumentParser(
        prog="./run noisy", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=tuple(DEFAULT_RUNS))
    parser.add_argument("--runs", type=int, metavar="N",
                        help="how many runs (default 5 for tests and suites, 3 for pabot "
                             "and agents)")
    parser.add_argument("--busy", type=int, metavar="K", default=max(1, (os.cpu_count() or 2) - 1),
                        help="busy processes beside each run (default: cores - 1, at least 1; "
                             "0: a quiet baseline)")
    parser.add_argument("--timeout", type=float, metavar="MIN", default=20.0,
                        help="minutes per run before it is stopped (default 20)")
    parser.add_argument("--outdir", type=Path, default=ROOT / "output" / "noisy",
                        help="where logs and output directories go (default output/noisy)")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = DEFAULT_RUNS[args.what]
    if args.runs < 1 or args.busy < 0 or args.timeout <= 0:
        parser.error("--runs must be at least 1, --busy at least 0, --timeout above 0")
    return args, extra


def main(argv=None) -> int:
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even if started ignoring it
    signal.signal(signal.SIGTERM, _on_signal)
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:       # nohup stays nohup
        signal.signal(signal.SIGHUP, _on_signal)
    args.outdir = args.outdir.resolve()
    args.outdir.mkdir(parents=True, exist_ok=True)
    print(f"noisy {args.what}: {args.runs} run(s), {args.busy} busy process(es) beside each "
          f"({os.cpu_count()} cores), timeout {args.timeout:g} min per run, output in "
          f"{rel(args.outdir)}/" + (f", extra args: {' '.join(extra)}" if extra else ""),
          flush=True)
    passed = 0
    try:
        for index in range(1, args.runs + 1):
            print(f"run {index}/{args.runs}  ", end="", flush=True)
            outcome = run_once(args.what, index, args, extra)
            report(outcome)
            passed += outcome.ok
    except (KeyboardInterrupt, Terminated) as stop:
        print(f"\nnoisy {args.what}: interrupted ({str(stop) or 'Ctrl+C'}) after {passed} passed "
              f"run(s); every child stopped", flush=True)
        return 130
    print(f"noisy {args.what}: {passed} of {args.runs} runs passed", flush=True)
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
