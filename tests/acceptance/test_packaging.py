"""The package, as a user gets it: a wheel built from this checkout, installed into a clean
virtual environment outside the checkout, then `robot` on a suite that says
`Library    WebSocketLoadLibrary` with no --pythonpath (the mock server and a load agent
start from the installed package), `libdoc WebSocketLoadLibrary` and the console scripts.

About a minute, most of it installing the dependencies (from pip's cache once they have
been downloaded). Skip it with `./run tests -k "not packaging"`.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from robot_runs import ROOT

pytestmark = pytest.mark.timeout(900)

SECRET = "packaging-test-secret-0123456789"
SUITE = """\
*** Settings ***
Documentation     The installed library, imported by its name alone.
Library           WebSocketLoadLibrary
Suite Setup       Start Mock Server
Suite Teardown    Stop All Mock Servers


*** Test Cases ***
The Library And The Mock Server Come From The Installed Package
    ${module}=    Evaluate    WebSocketLoadLibrary.__file__    modules=WebSocketLoadLibrary
    Should Start With    ${module}    ${SITE_PACKAGES}
    Connect Clients    count=2
    ${result}=    Send Burst At Rate    messages=200    rate=max
    Should Be Equal As Integers    ${result.received}    200
    Delivery Ratio Should Be At Least    1.0
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[messages_received]    200
    [Teardown]    Disconnect All Clients

A Load Agent Started From The Installed Package Runs A Step
    Connect Load Agents    ${AGENT}
    ${uri}=    Start Mock Server    alias=for the agent
    Connect Clients On Agents    ${uri}    count=2
    ${result}=    Run Load On Agents    max    messages=200
    Should Be Equal As Integers    ${result.received}    200
    Delivery Ratio Should Be At Least    1.0
    [Teardown]    Run Keywords    Disconnect Clients On Agents    AND    Disconnect Load Agents
"""


@dataclass
class Installed:
    source: Path
    wheel: Path
    venv: Path
    site_packages: Path
    work: Path
    env: dict

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *command: str, timeout_s: float = 180,
            env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              cwd=self.work, env=env or self.env)


def _outside_the_checkout(path: Path) -> Path:
    path = path.resolve()
    assert ROOT != path and ROOT not in path.parents, f"{path} is inside the checkout"
    return path


def _clean_environment(venv: Path) -> dict:
    """No PYTHONPATH, no trace of this checkout's .venv: only the new environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "LOAD_AGENT_SECRET")}
    paths = [p for p in env.get("PATH", "").split(os.pathsep)
             if p and not Path(p).resolve().is_relative_to(ROOT)]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *paths])
    env["VIRTUAL_ENV"] = str(venv)
    return env


def _pip(*arguments: str, timeout_s: float = 600) -> None:
    completed = subprocess.run([sys.executable, "-m", "pip", *arguments], capture_output=True,
                               text=True, timeout=timeout_s)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    work = _outside_the_checkout(tmp_path_factory.mktemp("packaging"))
    # build from a copy, so that setuptools' build/ and *.egg-info never land in the checkout
    source = work / "source"
    shutil.copytree(ROOT / "libraries" / "WebSocketLoadLibrary",
                    source / "libraries" / "WebSocketLoadLibrary",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    # the build backend is setuptools, already in the test environment (hdrhistogram needs
    # it): no isolated build environment to download; else pip makes one
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    _pip("wheel", "--no-deps", *isolation, "--wheel-dir", str(work / "dist"), str(source))
    wheel, = (work / "dist").glob("robotframework_websocketload-*.whl")
    # a clean environment without pip of its own: this pip installs into it (--python);
    # the dependencies are those the wheel declares, at requirements.txt's pins (cached)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    _pip("--python", str(venv / "bin" / "python"), "install", "--quiet",
         "--constraint", str(ROOT / "requirements.txt"), str(wheel))
    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    run_dir = work / "run"
    run_dir.mkdir()
    return Installed(source, wheel, venv, Path(site), run_dir, _clean_environment(venv))


def test_packaging_the_wheel_is_named_and_versioned_like_the_library(installed):
    from WebSocketLoadLibrary import __version__
    assert installed.wheel.name == f"robotframework_websocketload-{__version__}-py3-none-any.whl"
    shown = installed.run(installed.bin("python"), "-m", "pip", "--version")
    assert shown.returncode != 0, "the clean environment should have no pip of its own"
    listed = subprocess.run([sys.executable, "-m", "pip", "--python", installed.bin("python"),
                             "show", "--files", "robotframework-websocketload"],
                            capture_output=True, text=True, timeout=120)
    assert f"Version: {__version__}" in listed.stdout, listed.stdout + listed.stderr
    # every file of the package is in the wheel: modules of every subpackage, py.typed and
    # any data file the library reads at run time
    with zipfile.ZipFile(installed.wheel) as wheel:
        packed = {name for name in wheel.namelist() if name.startswith("WebSocketLoadLibrary/")}
    package = installed.source / "libraries"
    files = {path.relative_to(package).as_posix()
             for path in (package / "WebSocketLoadLibrary").rglob("*") if path.is_file()}
    assert files == packed, (files - packed, packed - files)
    assert "WebSocketLoadLibrary/py.typed" in packed


def test_packaging_robot_runs_a_suite_with_the_installed_library(installed):
    """No --pythonpath, run from a folder outside the checkout: the library, the mock server
    (a subprocess) and a load agent (a console script) all come from the installed package."""
    (installed.work / "installed.robot").write_text(SUITE)
    agent_log = installed.work / "agent.log"
    with agent_log.open("w") as log:
        agent = subprocess.Popen(
            [installed.bin("websocketload-agent"), "--port", "0", "--name", "packaged"],
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=installed.work,
            env={**installed.env, "LOAD_AGENT_SECRET": SECRET})
    try:
        ready = agent.stdout.readline()
        assert "ready at http://127.0.0.1:" in ready, ready + agent_log.read_text()
        address = ready.split("ready at ")[1].split()[0]
        started = time.monotonic()
        run = installed.run(installed.bin("robot"), "--outputdir", "out", "--console", "dotted",
                            "--variable", f"SITE_PACKAGES:{installed.site_packages}",
                            "--variable", f"AGENT:{address}", "installed.robot",
                            env={**installed.env, "LOAD_AGENT_SECRET": SECRET})
        print(f"robot on the installed package: {time.monotonic() - started:.1f} s")
    finally:
        agent.terminate()
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(5)
        agent.stdout.close()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "2 tests, 2 passed, 0 failed" in run.stdout
    assert (installed.work / "out" / "log.html").exists()
    saved = list((installed.work / "out" / "load-results").glob("*.json"))
    assert len(saved) == 2, saved


def test_packaging_libdoc_documents_the_installed_library(installed):
    html = installed.run(installed.bin("libdoc"), "WebSocketLoadLibrary", "keywords.html")
    assert html.returncode == 0, html.stdout + html.stderr
    assert "Send Burst At Rate" in (installed.work / "keywords.html").read_text()
    spec = installed.run(installed.bin("libdoc"), "--format", "JSON", "WebSocketLoadLibrary",
                         "keywords.json")
    assert spec.returncode == 0, spec.stdout + spec.stderr
    library = json.loads((installed.work / "keywords.json").read_text())
    assert library["source"].startswith(str(installed.site_packages)), library["source"]
    assert len(library["keywords"]) >= 30


def test_packaging_console_scripts(installed):
    """websocketload (run, merge, compare, agent), websocketload-agent and
    websocketload-mockserver, on the environment's PATH."""
    for script in ("websocketload", "websocketload-agent", "websocketload-mockserver"):
        helped = installed.run(script, "--help", timeout_s=60)
        assert helped.returncode == 0 and "usage:" in helped.stdout, (script, helped.stderr)
    # the engine command line: one step against the mock server it starts itself
    step = installed.run("websocketload", "run", "--rate", "max", "--messages", "300",
                         "--connections", "2", "--json")
    assert step.returncode == 0, step.stdout + step.stderr
    assert json.loads(step.stdout)["received"] == 300
    # merge and its bad-input exit code: a folder with no saved result exits 2
    empty = installed.work / "nothing-saved"
    empty.mkdir()
    merged = installed.run("websocketload", "merge", str(empty))
    assert merged.returncode == 2 and "error" in merged.stderr, merged.stdout + merged.stderr
    # the mock server on its own announces itself with one ready line and stops on EOF
    server = subprocess.Popen(["websocketload-mockserver", "--port", "0", "--exit-on-stdin-eof"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=installed.work, env=installed.env)
    try:
        ready = json.loads(server.stdout.readline())
        assert ready["event"] == "ready" and ready["uri"].startswith("ws://127.0.0.1:"), ready
    finally:
        server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        server.stdout.close()
