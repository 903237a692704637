*** Settings ***
Documentation     Connection scalability: throughput grows with the number of connections at a
...               fixed rate per connection; the efficiency is measured against linear growth.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Apply Quick Mode
Test Teardown     Disconnect All Clients

Test Tags         scaling    connections


*** Test Cases ***
Throughput Scales With Connections
    [Documentation]    One step per connection count at a fixed rate per connection: throughput
    ...    grows in line with the connections, every step delivers and holds p95.
    Run Connection Scaling    ${CONNECTION_SCALING_STEPS}    ${RATE_PER_CONNECTION}
    ...    ${TEST_DURATION_PER_STEP}    uri=${TARGET_URI}
    Scaling Efficiency Should Be At Least    ${MIN_SCALING_EFFICIENCY}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Latency P95 Should Be Below    ${LATENCY_P95}

Maximum Concurrent Connections Stay Open Under Load
    [Documentation]    The most connections, all loaded at the rate per connection, are all still
    ...    open after the step.
    ${open}=    Connect Test Clients    count=${MAX_CONCURRENT_CONNECTIONS}
    Should Be Equal As Integers    ${open}    ${MAX_CONCURRENT_CONNECTIONS}
    Run Sustained Load    ${{${RATE_PER_CONNECTION} * ${MAX_CONCURRENT_CONNECTIONS}}}    ${TEST_DURATION_PER_STEP}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    ${still_open}=    Get Open Connection Count
    Should Be Equal As Integers    ${still_open}    ${MAX_CONCURRENT_CONNECTIONS}
