*** Settings ***
Documentation     Capacity search: the highest rate at which the server still meets its
...               targets, found by probes that are ordinary paced steps. The mock server
...               serves at most ${CAPACITY_KNOWN} msg/s (max_message_rate: one queue,
...               beyond it latency grows without bound), and the search finds that within
...               10%. A server faster than the generator gives the generator's limit,
...               never a capacity, and a minimum above a slow server's capacity fails.
...
...               The probes here are short (${CAPACITY_PROBE_DURATION}): the mock server's
...               knee is sharp and its latency below it steady. For a real server choose
...               them as `Find Maximum Rate` explains (enough messages for the percentile,
...               and at least 20 times the latency target).

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target    engine=picows
Suite Teardown    Stop Load Test Target
Test Setup        Run Keywords    Apply Quick Mode    AND    Requires Embedded Mock Server
Test Teardown     Run Keywords    Clear Mock Server Faults    AND    Disconnect All Clients

Test Tags         capacity


*** Test Cases ***
The Search Finds The Mock Server's Known Capacity
    [Documentation]    Steps up from 30% of the known capacity, brackets the knee and
    ...    bisects it to 5%: the capacity found is within 10% of max_message_rate.
    Set Mock Server Faults    max_message_rate=${CAPACITY_KNOWN}
    Connect Test Clients
    ${found}=    Find Capacity Of Target
    ...    ${{${CAPACITY_KNOWN} * 0.3}}    ${{${CAPACITY_KNOWN} * 10}}
    Should Be Equal    ${found.stop_reason}    precision reached    ${found.message}
    Capacity Should Be At Least    ${{${CAPACITY_KNOWN} * 0.9}}
    Should Be True    ${found.capacity_msg_s} <= ${CAPACITY_KNOWN} * 1.1    ${found.message}

A Minimum Above A Slow Server's Capacity Fails With What Was Found
    [Documentation]    The server serves a quarter of the known capacity: asking for the
    ...    known capacity fails, naming the capacity found and where the targets were missed.
    ${slow}=    Evaluate    ${CAPACITY_KNOWN} // 4
    Set Mock Server Faults    max_message_rate=${slow}
    Connect Test Clients
    Find Capacity Of Target    ${{${slow} * 0.5}}    ${CAPACITY_KNOWN}    precision=50%
    ...    retries=0
    Run Keyword And Expect Error    Capacity is * msg/s, expected at least * msg/s: capacity *missed at *
    ...    Capacity Should Be At Least    ${CAPACITY_KNOWN}

A Server Faster Than The Generator Gives The Generator's Limit
    [Documentation]    The server's capacity is far above what one generator process can
    ...    send, and the pacer wakes for every message (its costliest way) so that the
    ...    generator, not the server, gives out first: the search stops at the generator's
    ...    limit and says so, and never takes it for the server's capacity; a minimum above
    ...    it fails saying generator limit.
    Set Mock Server Faults    max_message_rate=100000000
    Set Pacing    wake_interval=0    max_run=1
    Connect Test Clients
    ${found}=    Find Capacity Of Target
    ...    ${CAPACITY_GENERATOR_LOW}    ${{${CAPACITY_GENERATOR_LOW} * 64}}
    ...    probe_duration=1 s    warm_up=0.3 s    p95=${LATENCY_P95}
    Should Be Equal    ${found.stop_reason}    generator limit    ${found.message}
    Should Match Regexp    ${found.message}
    ...    ^generator limit reached at [\\d,]+ msg/s: .*the server met its targets .*there; capacity is above
    Run Keyword And Expect Error    Capacity could not be shown to be at least *: generator limit reached at *
    ...    Capacity Should Be At Least    ${{${CAPACITY_GENERATOR_LOW} * 64}}
    [Teardown]    Run Keywords    Set Pacing    AND    Clear Mock Server Faults    AND
    ...    Disconnect All Clients


*** Keywords ***
Find Capacity Of Target
    [Documentation]    `Find Maximum Rate` between ``low`` and ``high`` with the
    ...    environment's probe figures and p95 target, a missed probe retried once (a
    ...    busy machine's stall is not the knee); more arguments override them.
    [Arguments]    ${low}    ${high}    &{options}
    ${found}=    Find Maximum Rate    ${low}    ${high}
    ...    probe_duration=${CAPACITY_PROBE_DURATION}    warm_up=${CAPACITY_WARM_UP}
    ...    pause=${CAPACITY_PAUSE}    time_budget=${CAPACITY_TIME_BUDGET}    reply_timeout=2 s
    ...    retries=1    p95=${CAPACITY_P95}    delivery=99%    &{options}
    RETURN    ${found}
