*** Settings ***
Documentation     Connection storms: connections opened at a rate, open loop, as after a
...               deploy that dropped every client; connect latency from each one's due
...               time and failures by kind. Every assertion passes on a healthy mock server
...               and fails on a slow, refusing, rate-limited or hanging one.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target    max_connections=${{max(1000, 2 * ${STORM_CONNECTIONS})}}
Suite Teardown    Stop Load Test Target
Test Setup        Run Keywords    Apply Quick Mode    AND    Requires Embedded Mock Server
Test Teardown     Clean Up Storm

Test Tags         lifecycle


*** Test Cases ***
A Storm Opens Every Connection In Time
    [Documentation]    A healthy server opens every connection of the storm, each within
    ...    the connect latency target, and the connections then carry messages.
    [Tags]    quick
    Open Connections At Rate    ${STORM_CONNECTIONS}    ${STORM_RATE}    uri=${TARGET_URI}
    Connection Failures Should Be At Most    0
    Connect Latency P95 Should Be Below    ${CONNECT_LATENCY_P95}
    Connect Latency P95 Should Be Below    ${CONNECT_LATENCY_P95}    phase=handshake
    Send Burst At Rate    ${STORM_CONNECTIONS}    ${STORM_RATE}
    Delivery Ratio Should Be At Least    100%

A Slow Handshake Fails The Connect Latency Bound
    [Documentation]    Every handshake is answered one and a half times the target late:
    ...    every connection opens, and the latency check fails with the figures.
    ${delay}=    Evaluate    robot.utils.timestr_to_secs($CONNECT_LATENCY_P95) * 1.5
    ...    modules=robot.utils
    Set Mock Server Faults    handshake_delay=${delay}
    Open Connections At Rate    ${STORM_CONNECTIONS}    ${STORM_RATE}    uri=${TARGET_URI}
    Connection Failures Should Be At Most    0
    Run Keyword And Expect Error    Connect latency p95 is *ms, expected below *
    ...    Connect Latency P95 Should Be Below    ${CONNECT_LATENCY_P95}
    Run Keyword And Expect Error    Connect latency p95 (handshake) is *ms, expected below *
    ...    Connect Latency P95 Should Be Below    ${CONNECT_LATENCY_P95}    phase=handshake

A Refusing Server Fails The Connection Failures Check
    [Documentation]    The server answers every handshake with HTTP 503: each failure is
    ...    counted by kind, on both sides, and the failures check fails.
    Set Mock Server Faults    refuse_for=60 s
    ${result}=    Open Connections At Rate    ${STORM_CONNECTIONS}    ${STORM_RATE}
    ...    uri=${TARGET_URI}
    VAR    ${connect}    ${result.sections}[connect]
    Should Be Equal As Integers    ${connect.failures}[HTTP 503]    ${STORM_CONNECTIONS}
    Run Keyword And Expect Error    * connections failed (100.00%): *HTTP 503*; expected at most 0
    ...    Connection Failures Should Be At Most    0
    Run Keyword And Expect Error    Connect latency p95 cannot be measured: no connection got through*
    ...    Connect Latency P95 Should Be Below    ${CONNECT_LATENCY_P95}
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[handshakes_refused_503]    ${STORM_CONNECTIONS}

A Rate Limited Server Answers 429 Past Its Limit
    [Documentation]    The server accepts a quarter of the storm's rate: the handshakes
    ...    beyond it get HTTP 429, counted as such, and the failures check fails.
    Set Mock Server Faults    max_handshake_rate=${{max(1, ${STORM_RATE} // 4)}}
    ${result}=    Open Connections At Rate    ${STORM_CONNECTIONS}    ${STORM_RATE}
    ...    uri=${TARGET_URI}
    VAR    ${connect}    ${result.sections}[connect]
    Should Be True    ${connect.failures}[HTTP 429] > 0 and ${connect.opened} > 0
    Run Keyword And Expect Error    * connections failed *HTTP 429*; expected at most 0
    ...    Connection Failures Should Be At Most    0
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[handshakes_refused_429]    ${connect.failures}[HTTP 429]

A Server That Never Answers Times The Clients Out
    [Documentation]    The server accepts TCP and never answers the handshake: each attempt
    ...    times out after the open timeout, counted, and nothing hangs.
    Set Mock Server Faults    hang_handshakes=60 s
    VAR    ${count}    ${{min(20, ${STORM_CONNECTIONS})}}
    ${result}=    Open Connections At Rate    ${count}    ${STORM_RATE}    uri=${TARGET_URI}
    ...    open_timeout=1 s
    VAR    ${connect}    ${result.sections}[connect]
    Should Be Equal As Integers    ${connect.failures}[timed out]    ${count}
    Run Keyword And Expect Error    * connections failed *timed out*; expected at most 0
    ...    Connection Failures Should Be At Most    0


*** Keywords ***
Clean Up Storm
    [Documentation]    Test teardown: faults off, clients closed.
    Clear Mock Server Faults
    Disconnect All Clients
