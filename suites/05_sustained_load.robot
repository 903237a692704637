*** Settings ***
Documentation     Sustained load: the target throughput holds for the whole run, with latency
...               and delivery within their limits.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Apply Quick Mode
Test Teardown     Disconnect All Clients

Test Tags         sustained


*** Test Cases ***
Sustained Load Holds Latency Targets
    [Documentation]    The sustained rate for the sustained duration: delivery, p95, p99 and
    ...    throughput within their limits; the result is saved for later comparison.
    Connect Test Clients    count=${CONNECTIONS}
    Run Sustained Load    ${SUSTAINED_THROUGHPUT_TARGET}    ${SUSTAINED_LOAD_TIME}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Latency P95 Should Be Below    ${LATENCY_P95}
    Latency P99 Should Be Below    ${LATENCY_P99}
    Throughput Should Be At Least    ${{${SUSTAINED_THROUGHPUT_TARGET} * ${THROUGHPUT_TOLERANCE}}}
    Save Load Results
