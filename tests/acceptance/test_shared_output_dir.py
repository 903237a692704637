"""Runs that share an output directory: a run never removes the result files of a run that
is still going, and a later run on its own still replaces a finished run's files."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from robot.api import ExecutionResult

from robot_runs import run_robot
from WebSocketLoadLibrary.base.result_files import ResultFiles
from WebSocketLoadLibrary.engine import LoadResult
from WebSocketLoadLibrary.reports.merge import merge_folder
from WebSocketLoadLibrary.reports.records import result_documents

# each run saves a result, then waits until the other has saved its own: so whichever
# saves second does so (and cleans up) while the first is still running
SUITE = """
*** Settings ***
Library           OperatingSystem
Library           WebSocketLoadLibrary
Suite Setup       Start Mock Server
Suite Teardown    Stop All Mock Servers

*** Variables ***
${ME}             alone
${OTHER}          ${EMPTY}

*** Test Cases ***
Side By Side
    Connect Clients    count=1
    Send Burst At Rate    50    500/s    name=shared step
    Create File    ${OUTPUT DIR}${/}${ME}.saved
    IF    $OTHER    Wait Until Created    ${OUTPUT DIR}${/}${OTHER}.saved    timeout=120 s
    Disconnect All Clients
"""


def run(suite, outdir, me: str, other: str = ""):
    completed = run_robot(outdir, "--output", f"{me}.xml", "--log", "NONE", "--report", "NONE",
                          "--variable", f"ME:{me}", "--variable", f"OTHER:{other}", str(suite),
                          timeout_s=300)
    test = ExecutionResult(str(outdir / f"{me}.xml")).suite.all_tests
    test = next(iter(test))
    assert test.status == "PASS", test.message + completed.stdout[-2000:] + completed.stderr
    return completed


def saved(outdir) -> dict[str, dict]:
    return {path.name: data for path, data in result_documents(outdir)}


def test_two_runs_side_by_side_keep_each_others_results_and_a_later_run_replaces_them(
        tmp_path):
    suite = tmp_path / "shared.robot"
    suite.write_text(SUITE)
    outdir = tmp_path / "out"
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(run, suite, outdir, "first", "second"),
                pool.submit(run, suite, outdir, "second", "first")]
        for future in runs:
            future.result()
    files = saved(outdir)
    # both kept, under two names though both runs chose the same one
    assert set(files) == {"Shared--Side_By_Side--shared_step.json",
                          "Shared--Side_By_Side--shared_step--2.json"}
    assert len({data["run_id"] for data in files.values()}) == 2
    assert merge_folder(outdir).total_row["steps"] == 2

    run(suite, outdir, "alone")
    files = saved(outdir)
    assert list(files) == ["Shared--Side_By_Side--shared_step.json"]
    assert merge_folder(outdir).total_row["steps"] == 1


# -- which files a run removes ---------------------------------------------------------------
def files_in(folder) -> ResultFiles:
    files = ResultFiles()
    files.output_dir = lambda: folder
    return files


def earlier(folder, name: str, saved_by) -> None:
    """A file an earlier run saved automatically, with its `saved_by` (None: before the
    library named the run's processes)."""
    files = files_in(folder)
    if saved_by is not None:
        files._saved_by = saved_by
    path = files.save(LoadResult(name=name, sent=1, received=1))
    if saved_by is None:
        import json
        data = json.loads(path.read_text())
        del data["saved_by"]
        path.write_text(json.dumps(data))


def test_a_run_removes_files_of_finished_runs_only(tmp_path):
    me = files_in(tmp_path).saved_by()
    host, ((pid, started),) = me["host"], me["processes"]
    earlier(tmp_path, "alive", {"host": host, "processes": [[pid, started]]})
    earlier(tmp_path, "reused pid", {"host": host, "processes": [[pid, started - 3600]]})
    earlier(tmp_path, "gone", {"host": host, "processes": [[2**22 + 1, started]]})
    earlier(tmp_path, "old library", None)
    earlier(tmp_path, "other host", {"host": "elsewhere", "processes": [[2**22 + 1, 0]]})
    (tmp_path / "load-results" / "mine.json").write_text('{"not": "a result"}')
    files_in(tmp_path).save(LoadResult(name="now", sent=1, received=1))
    assert sorted(saved(tmp_path)) == ["suite--setup--alive.json", "suite--setup--now.json",
                                       "suite--setup--other_host.json"]
    assert (tmp_path / "load-results" / "mine.json").exists()


def test_runs_of_plain_robot_and_pabot_in_one_output_dir_clean_up_after_each_other(tmp_path):
    gone = {"host": files_in(tmp_path).saved_by()["host"], "processes": [[2**22 + 1, 0]]}
    earlier(tmp_path / "pabot_results" / "0", "pabot step", gone)
    earlier(tmp_path, "robot step", gone)
    earlier(tmp_path / "pabot_results" / "1", "sibling", gone)
    # a pabot process cleans what a plain run left, never its siblings (this pabot run's)
    pabot = files_in(tmp_path / "pabot_results" / "0")
    assert pabot.saved_by()["processes"][1][0] == os.getppid()   # pabot's run is alive
    pabot.save(LoadResult(name="new", sent=1, received=1))
    names = sorted(path.relative_to(tmp_path).as_posix() for path, _ in
                   result_documents(tmp_path))
    assert names == ["pabot_results/0/load-results/suite--setup--new.json",
                     "pabot_results/1/load-results/suite--setup--sibling.json"]
    # a plain run cleans what a finished pabot run left under its output directory
    files_in(tmp_path).save(LoadResult(name="plain", sent=1, received=1))
    names = sorted(path.relative_to(tmp_path).as_posix() for path, _ in
                   result_documents(tmp_path))
    assert names == ["load-results/suite--setup--plain.json",
                     "pabot_results/0/load-results/suite--setup--new.json"]


PABOT_SUITE = """
*** Settings ***
Library           WebSocketLoadLibrary
Test Setup        Start Mock Server
Test Teardown     Stop All Mock Servers

*** Test Cases ***
One
    Connect Clients    count=1
    Send Burst At Rate    50    500/s

Two
    Connect Clients    count=1
    Send Burst At Rate    50    500/s

Three
    Connect Clients    count=1
    Send Burst At Rate    50    500/s
"""


def test_a_pabot_run_keeps_every_process_files_and_replaces_a_plain_runs(tmp_path):
    suite = tmp_path / "Shared.robot"
    suite.write_text(SUITE)
    run(suite, tmp_path / "out", "alone")              # a plain run first, finished
    suite.write_text(PABOT_SUITE)
    pabot = run_robot(tmp_path / "out", "--processes", "2", "--testlevelsplit", str(suite),
                      runner="pabot", timeout_s=300)
    assert pabot.returncode == 0, pabot.stdout[-3000:]
    folders = sorted(path.parent.parent.relative_to(tmp_path / "out").as_posix()
                     for path, _ in result_documents(tmp_path / "out"))
    # three processes, the third started after one of the first two had finished
    assert len(folders) == 3 and all(f.startswith("pabot_results/") for f in folders)
    assert merge_folder(tmp_path / "out").total_row["steps"] == 3
