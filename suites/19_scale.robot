*** Settings ***
Documentation     Scale: a crowd of connections from one machine -- 100,000 in production,
...               a few hundred in CI -- opened at a rate over worker processes, held with
...               keep-alive pings, a paced step across all of them, a broadcast to every
...               one, memory per connection, and every connection closed with nothing left
...               open. Counts per environment in variables/ (SCALE_*).

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target    max_connections=${{2 * ${SCALE_CONNECTIONS}}}
...                   processes=${{2 if ${SCALE_CONNECTIONS} < 20000 else 1}}
Suite Teardown    Stop Load Test Target
Test Setup        Run Keywords    Apply Quick Mode    AND    Requires Embedded Mock Server
Test Teardown     Disconnect All Clients

Test Tags         scale


*** Variables ***
${SUBSCRIBE}    {"op":"subscribe","topic":"everyone"}
${ANNOUNCE}     {"op":"publish","topic":"everyone","message_id":$message_id,"send_time":$send_time}


*** Test Cases ***
A Crowd Opens At Rate, Is Held And Closes Leaving Nothing Open
    [Documentation]    The crowd opens at its rate over worker processes, every connection
    ...    in time, each costing the generator less than its memory bound; held with
    ...    keep-alive pings, none drops; closed, the server holds none.
    [Tags]    quick
    Open Crowd
    Connection Failures Should Be At Most    0
    Connect Latency Percentile Should Be Below    99    ${SCALE_CONNECT_P99}
    Memory Per Connection Should Be Below    ${SCALE_MEMORY_PER_CONNECTION}
    Crowd Is Held With None Dropped
    Disconnect Clients    crowd
    Wait Until Keyword Succeeds    ${SCALE_CLOSE_TIMEOUT}    200 ms    Server Holds No Connection

A Paced Step Runs Across Every Connection
    [Documentation]    A low rate per connection over the whole crowd, every reply back.
    Open Crowd
    Run Sustained Load    ${SCALE_STEP_RATE}    ${SCALE_STEP_DURATION}
    Delivery Ratio Should Be At Least    100%
    Latency P99 Should Be Below    ${SCALE_LATENCY_P99}

A Broadcast Reaches Every Connection
    [Documentation]    One publish to the crowd, every connection a subscriber: delivered to
    ...    every one, whichever process of the server holds it.
    Open Crowd    opening_messages=${SUBSCRIBE}    opening_reply=op == subscribed
    Connect Clients    ${TARGET_URI}    count=1    alias=announcer
    Set Message Template    ${ANNOUNCE}
    TRY
        Publish At Rate    1/s    subscribers=crowd    messages=1    publishers=announcer
        ...    delivery_timeout=10 s    name=broadcast
    FINALLY
        Set Message Template
    END
    Delivery Ratio Should Be At Least    100%
    Every Subscriber Should Receive At Least    100%

Memory Per Connection Fails Above Its Bound
    [Documentation]    The same figures, a bound below them: the check fails naming them.
    Open Crowd
    Run Keyword And Expect Error    Generator memory per connection is *, expected below 1 B
    ...    Memory Per Connection Should Be Below    1 B
    Run Keyword And Expect Error    Server memory per connection is *, expected below 1 B
    ...    Memory Per Connection Should Be Below    1 B    side=server


*** Keywords ***
Crowd Is Held With None Dropped
    [Documentation]    Holds the crowd for ``${SCALE_HOLD}`` with keep-alive pings going back
    ...    and forth; every connection is still open on both sides.
    Sleep    ${SCALE_HOLD}    the keep-alive pings go back and forth meanwhile
    ${open}=    Get Open Connection Count    alias=crowd
    Should Be Equal As Integers    ${open}    ${SCALE_CONNECTIONS}
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[connections_active]    ${SCALE_CONNECTIONS}

Open Crowd
    [Documentation]    The crowd: SCALE_CONNECTIONS opened at SCALE_RATE (alias ``crowd``).
    [Arguments]    &{options}
    ${result}=    Open Connections At Rate    ${SCALE_CONNECTIONS}    ${SCALE_RATE}
    ...    uri=${TARGET_URI}    alias=crowd    processes=${SCALE_PROCESSES}
    ...    ping_interval=${SCALE_PING_INTERVAL}    &{options}
    RETURN    ${result}

Server Holds No Connection
    [Documentation]    Fails while the mock server still holds a connection.
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[connections_active]    0
