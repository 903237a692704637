"""The host's limits named before a large open (engine/runtime/host_limits.py): the
open-file limit, the ephemeral ports per source address, somaxconn and the SYN backlog."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from paths import ROOT
from WebSocketLoadLibrary.engine import HostLimitError, HostLimits
from WebSocketLoadLibrary.engine.runtime.host_limits import check, processes_for


def limits(**given) -> HostLimits:
    values = dict(open_files_soft=20_000, open_files_hard=20_000, port_low=32768,
                  port_high=60999, somaxconn=4096, syn_backlog=2048, syncookies=1, cpus=2)
    values.update(given)
    return HostLimits(**values)


def test_this_host_as_read():
    here = HostLimits.read()
    assert here.open_files_soft <= here.open_files_hard and here.ports_per_source > 1000
    assert set(here.as_dict()) >= {"open_files_soft", "ephemeral_ports", "somaxconn"}


def test_100000_connections_here_need_six_processes_and_four_source_addresses():
    host = limits()
    assert processes_for(100_000, host) == 6 and host.sources_needed(100_000) == 4
    check(host, 100_000, 3000, 6, 4, server_here=True, server_processes=6)


def test_too_few_descriptors_per_process_is_named_with_the_way_to_raise_it():
    with pytest.raises(HostLimitError, match=r"the open-file limit \(RLIMIT_NOFILE\) is 1,024 "
                       r"per process \(hard limit 1,024\): 100,000 connections over 8 "
                       r"process\(es\) need 12,756 each.*ulimit -n 12756"):
        check(limits(open_files_soft=1024, open_files_hard=1024), 100_000, 3000, 8, 4, True)


def test_too_few_ports_is_named_with_the_source_addresses_needed():
    with pytest.raises(HostLimitError, match=r"the ephemeral port range is 32768-60999 "
                       r"\(28,232 ports per source address.*100,000 connections from 1 source "
                       r"address\(es\) need 4 source addresses.*ip_local_port_range"):
        check(limits(), 100_000, 3000, 6, 1, True)


def test_a_listen_queue_too_short_for_the_rate_is_named():
    with pytest.raises(HostLimitError, match=r"somaxconn is 128: .* 50,000 arrivals a second "
                       r"bring 5,000 in 100 ms.*net.core.somaxconn=5000"):
        check(limits(somaxconn=128), 10_000, 50_000, 1, 1, server_here=True)
    check(limits(somaxconn=128), 10_000, 50_000, 1, 1, server_here=False)  # not our host's
    with pytest.raises(HostLimitError, match=r"SYN backlog .* is 128 with SYN cookies off"):
        check(limits(syn_backlog=128, syncookies=0), 10_000, 3000, 1, 1, server_here=True)


def test_a_storm_asked_of_a_process_whose_open_file_limit_is_too_low_fails_at_once():
    """The soft and hard limits set low in a child process (as `prlimit --nofile=300:300`
    would): the open fails before any connection, naming the limit and how to raise it."""
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(ROOT / 'libraries')!r})
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300))
        from WebSocketLoadLibrary.engine import (ArrivalPlan, ConnectionOptions,
                                                 HostLimitError, LoadEngine)
        engine = LoadEngine()
        try:
            engine.open_at_rate(ConnectionOptions("ws://127.0.0.1:9"), ArrivalPlan(5000, 1000))
        except HostLimitError as error:
            print(error)
        finally:
            engine.close()
        """)
    if sys.platform != "linux":
        pytest.skip("RLIMIT_NOFILE as Linux has it")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    found = re.match(r"the open-file limit \(RLIMIT_NOFILE\) is 300 per process \(hard limit "
                     r"300\): 5,000 connections over \d+ process\(es\) need ([\d,]+) each",
                     done.stdout)
    assert found, done.stdout
    assert f"ulimit -n {found.group(1).replace(',', '')}" in done.stdout
