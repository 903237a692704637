*** Settings ***
Documentation     Servers that push: a stream measured per connection (rate, missing messages,
...               staleness), and pushes told apart from replies. Every assertion passes on
...               a healthy mock server and fails on a faulty one.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target    engine=picows
Suite Teardown    Stop Load Test Target
Test Setup        Run Keywords    Apply Quick Mode    AND    Requires Embedded Mock Server
Test Teardown     Disconnect All Clients

Test Tags         push


*** Test Cases ***
A Stream Meets Its Rate, Sequence And Staleness Targets
    [Documentation]    Every connection gets its stream at the rate asked for, no number
    ...    missing, and the messages are fresh on arrival.
    [Tags]    quick
    Connect Stream Clients
    Listen For Messages    ${STREAM_DURATION}    sequence_field=seq    timestamp_field=ts
    Stream Rate Should Be At Least    ${{${STREAM_CONNECTIONS} * ${STREAM_RATE_PER_CONNECTION} * 0.9}}
    Stream Rate Should Be At Least    ${{${STREAM_RATE_PER_CONNECTION} * 0.9}}    per_connection=${True}
    Missing Messages Should Be At Most    0
    Staleness P99 Should Be Below    ${STALENESS_P99}

A Slower Stream Fails The Rate Bound
    [Documentation]    Streams at half the rate: the rate assertion fails with the figures.
    Connect Stream Clients    rate=${{max(1, ${STREAM_RATE_PER_CONNECTION} // 2)}}
    Listen For Messages    ${STREAM_DURATION}
    Run Keyword And Expect Error    Stream rate is *msg/s, expected at least *
    ...    Stream Rate Should Be At Least    ${{${STREAM_CONNECTIONS} * ${STREAM_RATE_PER_CONNECTION} * 0.9}}

A Sequence Gap Fails The Missing Messages Bound
    [Documentation]    The server skips every 50th number: the gaps are counted per connection.
    Set Mock Server Faults    sequence_gap_every=50
    Connect Stream Clients
    Listen For Messages    ${STREAM_DURATION}    sequence_field=seq
    Run Keyword And Expect Error    Missing messages: *expected at most 0
    ...    Missing Messages Should Be At Most    0
    Missing Messages Should Be At Most    5%
    [Teardown]    Run Keywords    Clear Mock Server Faults    AND    Disconnect All Clients

A Delayed Stream Fails The Staleness Bound
    [Documentation]    Each stream message is held one and a half times the staleness
    ...    target before it leaves: its age on arrival says so.
    ${delay}=    Evaluate    robot.utils.timestr_to_secs($STALENESS_P99) * 1.5    modules=robot.utils
    Set Mock Server Faults    response_delay=${delay}
    Connect Stream Clients
    Listen For Messages    ${STREAM_DURATION}    timestamp_field=ts
    Run Keyword And Expect Error    Staleness p99 is *ms, expected below *
    ...    Staleness P99 Should Be Below    ${STALENESS_P99}
    [Teardown]    Run Keywords    Clear Mock Server Faults    AND    Disconnect All Clients

Heartbeats Are Pushes, Not Invalid Replies
    [Documentation]    A server that pushes heartbeats between its replies: every message
    ...    still gets its reply, the heartbeats are counted as pushes and nothing is invalid.
    [Tags]    quick
    Set Mock Server Options    heartbeat=${HEARTBEAT_INTERVAL}
    Connect Test Clients
    ${result}=    Send Burst At Rate    ${{${SUSTAINED_THROUGHPUT_TARGET} * 2}}
    ...    rate=${SUSTAINED_THROUGHPUT_TARGET}
    Delivery Ratio Should Be At Least    100%
    Pushes Should Be At Least    ${CONNECTIONS}
    Should Be Equal As Integers    ${result.invalid_replies}    0
    [Teardown]    Run Keywords    Set Mock Server Options    heartbeat=0    AND
    ...    Disconnect All Clients

Every Part Of A Reply In Parts Arrives
    [Documentation]    The server answers each message three times: every message gets its
    ...    three parts, and its latency runs to the last of them.
    Set Mock Server Options    replies=3
    Connect Test Clients
    Send Burst At Rate    ${SUSTAINED_THROUGHPUT_TARGET}    rate=${SUSTAINED_THROUGHPUT_TARGET}
    ...    replies=3
    Delivery Ratio Should Be At Least    100%
    Latency P99 Should Be Below    ${LATENCY_P99}
    [Teardown]    Run Keywords    Set Mock Server Options    replies=1    AND
    ...    Disconnect All Clients

A Missing Part Fails Delivery
    [Documentation]    The server answers twice where three parts are expected: no message
    ...    is complete, and the delivery check fails with the figures.
    Set Mock Server Options    replies=2
    Connect Test Clients
    Send Burst At Rate    ${{${SUSTAINED_THROUGHPUT_TARGET} // 2}}
    ...    rate=${SUSTAINED_THROUGHPUT_TARGET}    replies=3    reply_timeout=1 s
    Run Keyword And Expect Error    Delivery ratio 0.000000, expected at least *
    ...    Delivery Ratio Should Be At Least    99%
    [Teardown]    Run Keywords    Set Mock Server Options    replies=1    AND
    ...    Disconnect All Clients

Without Heartbeats The Pushes Check Fails
    [Documentation]    The same step against a server that pushes nothing.
    Connect Test Clients
    Send Burst At Rate    ${SUSTAINED_THROUGHPUT_TARGET}    rate=${SUSTAINED_THROUGHPUT_TARGET}
    Run Keyword And Expect Error    0 pushes arrived, expected at least *
    ...    Pushes Should Be At Least    1
