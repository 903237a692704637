*** Settings ***
Documentation     Bursts: a burst at the maximum configured rate is applied and answered, and an
...               unpaced burst (rate max) reaches the peak throughput target.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Apply Quick Mode
Test Teardown     Disconnect All Clients

Test Tags         burst


*** Test Cases ***
Burst At The Maximum Rate Is Delivered
    [Documentation]    A paced burst at the maximum configured rate is applied, delivered and
    ...    answered within the p99 target, at that throughput.
    Connect Test Clients    count=${CONNECTIONS}
    ${result}=    Send Burst At Rate    messages=${BURST_MESSAGES}    rate=${MAX_MESSAGE_RATE}
    Should Be True    ${result.load_applied}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Latency P99 Should Be Below    ${LATENCY_P99}
    Throughput Should Be At Least    ${{${MAX_MESSAGE_RATE} * ${THROUGHPUT_TOLERANCE}}}

Unpaced Burst Reaches The Peak Throughput
    [Documentation]    At rate max each connection keeps a window of messages in flight;
    ...    latency is then service time.
    Connect Test Clients    count=${CONNECTIONS}
    ${result}=    Send Burst At Rate    messages=${BURST_MESSAGES}    rate=max
    Should Contain    ${result.latency_basis}    service time
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Throughput Should Be At Least    ${PEAK_THROUGHPUT_TARGET}
