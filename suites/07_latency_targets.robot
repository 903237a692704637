*** Settings ***
Documentation     Latency targets: p50, p95, p99 and p99.9 at the sustained rate, measured per
...               message from its intended send time; a slow or stalled server fails them.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Apply Quick Mode
Test Teardown     Disconnect All Clients

Test Tags         latency


*** Test Cases ***
Latency Percentiles Are Within Targets
    [Documentation]    Five seconds' worth of messages at the sustained rate: p50, p95, p99 and
    ...    p99.9 within their targets.
    [Tags]    quick
    Connect Test Clients    count=${CONNECTIONS}
    Send Burst At Rate    messages=${{${SUSTAINED_THROUGHPUT_TARGET} * 5}}    rate=${SUSTAINED_THROUGHPUT_TARGET}
    Latency P50 Should Be Below    ${LATENCY_P50}
    Latency P95 Should Be Below    ${LATENCY_P95}
    Latency P99 Should Be Below    ${LATENCY_P99}
    Latency Percentile Should Be Below    99.9    ${LATENCY_P999}

A Slow Server Fails The Latency Target
    [Documentation]    A reply delay of one and a half times the p95 target fails the p95
    ...    assertion, with the figures.
    Requires Embedded Mock Server
    Connect Test Clients    count=${CONNECTIONS}
    ${delay}=    Evaluate    robot.utils.timestr_to_secs($LATENCY_P95) * 1.5    modules=robot.utils
    Set Mock Server Faults    response_delay=${delay}
    Send Burst At Rate    messages=${SUSTAINED_THROUGHPUT_TARGET}    rate=${SUSTAINED_THROUGHPUT_TARGET}
    Run Keyword And Expect Error    Latency p95 is *ms, expected below *
    ...    Latency P95 Should Be Below    ${LATENCY_P95}
    [Teardown]    Run Keywords    Clear Mock Server Faults    AND    Disconnect All Clients

A Stall Shows In The Tail Latency
    [Documentation]    A one-second stall in the middle of a paced run: the messages due
    ...    during the stall wait for it, and latency from the intended send time says so.
    Requires Embedded Mock Server
    Connect Test Clients    count=${CONNECTIONS}
    Set Mock Server Faults    stall=1 s
    Send Burst At Rate    messages=${{${SUSTAINED_THROUGHPUT_TARGET} * 3}}
    ...    rate=${SUSTAINED_THROUGHPUT_TARGET}
    Run Keyword And Expect Error    Latency p99 is *ms, expected below 200 ms*
    ...    Latency P99 Should Be Below    200 ms
    [Teardown]    Run Keywords    Clear Mock Server Faults    AND    Disconnect All Clients
