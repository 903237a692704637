*** Settings ***
Documentation     Stress: as fast as the server answers, on the most connections, for the stress
...               duration; then past the connection limit.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Apply Quick Mode
Test Teardown     Disconnect All Clients

Test Tags         stress


*** Test Cases ***
Unpaced Load On Many Connections Is Delivered
    [Documentation]    Rate max on the most connections for the stress duration: delivered, at
    ...    the peak throughput target, with the generator's memory within its limit.
    Connect Test Clients    count=${MAX_CONCURRENT_CONNECTIONS}
    Run Sustained Load    max    ${STRESS_TEST_DURATION}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Throughput Should Be At Least    ${PEAK_THROUGHPUT_TARGET}
    Memory Growth Should Be Below    ${MAX_MEMORY_GROWTH}    process=generator

Connections Beyond The Limit Are Refused Cleanly
    [Documentation]    A server limited to 5 connections closes the sixth with code 1013;
    ...    the five admitted keep working.
    Requires Embedded Mock Server
    Start Mock Server    max_connections=5    alias=limited
    Connect Clients    count=5    alias=admitted
    Run Keyword And Expect Error    *1013*    Connect Clients    count=1    alias=refused
    ${stats}=    Get Mock Server Stats
    Should Be True    ${stats}[connections_refused] >= 1
    Switch Clients    admitted
    Send Burst At Rate    messages=100    rate=200/s
    Delivery Ratio Should Be At Least    1.0
    [Teardown]    Run Keywords    Disconnect All Clients    AND    Stop Mock Server    limited
