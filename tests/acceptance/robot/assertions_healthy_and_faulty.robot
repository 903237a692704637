*** Settings ***
Documentation     Every assertion keyword, once against a healthy mock server (it must pass)
...               and once against a faulty one (it must fail with expected vs measured).
...               Run by tests/test_keywords_in_robot.py, which reads output.xml.

Library           WebSocketLoadLibrary

Suite Setup       Start Mock Server    seed=7
Suite Teardown    Stop All Mock Servers
Test Setup        Connect Clients    count=2
Test Teardown     Run Keywords    Clear Mock Server Faults    AND    Disconnect All Clients


*** Test Cases ***
Assertion Without A Result
    [Documentation]    The first test: no load has run yet.
    [Setup]    No Operation
    Latency P95 Should Be Below    1 s
    [Teardown]    No Operation

P50 Healthy
    Send Burst At Rate    400    400/s
    Latency P50 Should Be Below    50 ms

P50 Delay
    Set Mock Server Faults    response_delay=100 ms
    Send Burst At Rate    400    400/s
    Latency P50 Should Be Below    50 ms

P95 Healthy
    Send Burst At Rate    400    400/s
    Latency P95 Should Be Below    50 ms

P95 Drop
    Set Mock Server Faults    drop_ratio=10%
    Send Burst At Rate    400    400/s    reply_timeout=300 ms
    Latency P95 Should Be Below    50 ms

P99 Healthy
    Send Burst At Rate    600    600/s
    Latency P99 Should Be Below    50 ms

P99 Stall
    Set Mock Server Faults    stall=500 ms
    Send Burst At Rate    600    600/s
    Latency P99 Should Be Below    50 ms

Percentile Healthy
    Send Burst At Rate    400    400/s
    Latency Percentile Should Be Below    99.9    50 ms

Percentile Delay
    Set Mock Server Faults    response_delay=80 ms
    Send Burst At Rate    400    400/s
    Latency Percentile Should Be Below    p99.9    50 ms

Delivery Healthy
    Send Burst At Rate    1000    1000/s
    Delivery Ratio Should Be At Least    99.9%

Delivery Drop
    Set Mock Server Faults    drop_ratio=0.05
    Send Burst At Rate    1000    1000/s    reply_timeout=300 ms
    Delivery Ratio Should Be At Least    99.9%

Throughput Healthy
    Send Burst At Rate    2000    max    window=4
    Throughput Should Be At Least    1k/s

Throughput Delay
    Set Mock Server Faults    response_delay=100 ms
    Send Burst At Rate    200    max    window=4
    Throughput Should Be At Least    1k/s

Memory Healthy
    Set Message Template    payload_size=16000
    Send Burst At Rate    2000    1000/s
    Memory Growth Should Be Below    20 MB    process=server
    [Teardown]    Run Keywords    Set Message Template    AND    Disconnect All Clients

Memory Stall
    [Documentation]    Replies pile up in the stalled server: its memory grows.
    Set Message Template    payload_size=16000
    Set Mock Server Faults    stall=3 s
    Send Burst At Rate    2000    1000/s    reply_timeout=10 s
    Memory Growth Should Be Below    20 MB    process=server
    [Teardown]    Run Keywords    Set Message Template    AND    Clear Mock Server Faults
    ...    AND    Disconnect All Clients

Efficiency Healthy
    @{rates}=    Create List    200/s    400/s
    Run Rate Scaling    ${rates}    1 s
    Scaling Efficiency Should Be At Least    0.9

Efficiency Stall
    Set Mock Server Faults    stall=1.5 s
    @{rates}=    Create List    200/s    400/s
    Run Rate Scaling    ${rates}    1 s
    Scaling Efficiency Should Be At Least    0.9

Connection Efficiency Healthy
    @{counts}=    Create List    1    2    4
    Run Connection Scaling    ${counts}    100/s    1 s
    Scaling Efficiency Should Be At Least    90%

Every Assertion Refuses Load That Was Not Applied
    ${result}=    Send Burst At Rate    20000    10M/s
    Should Not Be True    ${result.load_applied}
    FOR    ${assertion}    IN
    ...    Latency P50 Should Be Below    Latency P95 Should Be Below    Latency P99 Should Be Below
        Run Keyword And Expect Error    Refusing to judge latency*not applied*    ${assertion}    10 s
    END
    Run Keyword And Expect Error    Refusing to judge*    Latency Percentile Should Be Below    50    10 s
    Run Keyword And Expect Error    Refusing to judge*    Delivery Ratio Should Be At Least    0
    Run Keyword And Expect Error    Refusing to judge*    Throughput Should Be At Least    1
    Run Keyword And Expect Error    Refusing to judge*    Memory Growth Should Be Below    10 GB
    Run Keyword And Expect Error    Refusing to judge*    Scaling Efficiency Should Be At Least    0

Malformed Rate
    Send Burst At Rate    100    2x/s

Malformed Time
    Latency P95 Should Be Below    200 xs

Malformed Size
    Memory Growth Should Be Below    100 XB

Malformed Ratio
    Delivery Ratio Should Be At Least    1.5

Malformed Percentile
    Latency Percentile Should Be Below    101    1 s
