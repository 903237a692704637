*** Settings ***
Documentation     Concurrent clients: several connections share one paced step; every message
...               of every client is answered.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Apply Quick Mode
Test Teardown     Disconnect All Clients

Test Tags         concurrent


*** Test Cases ***
Concurrent Clients Each Send Their Messages
    [Documentation]    ${CONCURRENT_CLIENTS} clients x ${MESSAGES_PER_CLIENT} messages, spread
    ...    round-robin, all answered.
    [Tags]    quick
    ${open}=    Connect Test Clients    count=${CONCURRENT_CLIENTS}
    Should Be Equal As Integers    ${open}    ${CONCURRENT_CLIENTS}
    VAR    ${total}    ${{${CONCURRENT_CLIENTS} * ${MESSAGES_PER_CLIENT}}}
    ${result}=    Send Burst At Rate    messages=${total}    rate=${{${CONCURRENT_CLIENTS} * 10}}/s
    Should Be Equal As Integers    ${result.received}    ${total}
    Should Be Equal As Integers    ${result.connections}    ${CONCURRENT_CLIENTS}
    Delivery Ratio Should Be At Least    1.0
    Latency P95 Should Be Below    ${LATENCY_P95}

Server Sees Every Client
    [Documentation]    The mock server counts every connection of the group as active.
    Requires Embedded Mock Server
    Reset Mock Server Stats
    Connect Test Clients    count=${CONCURRENT_CLIENTS}
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[connections_active]    ${CONCURRENT_CLIENTS}

Many Concurrent Connections Hold The Sustained Rate
    [Documentation]    The sustained rate spread over the most connections, for three seconds'
    ...    worth of messages: delivered, with p95 latency within its target.
    Connect Test Clients    count=${MAX_CONCURRENT_CONNECTIONS}
    Send Burst At Rate    messages=${{${SUSTAINED_THROUGHPUT_TARGET} * 3}}    rate=${SUSTAINED_THROUGHPUT_TARGET}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Latency P95 Should Be Below    ${LATENCY_P95}
