*** Settings ***
Documentation     Quick benchmark validation: a short run that checks the whole chain (server,
...               clients, pacing, correlation, histograms) in seconds. QUICK_MODE=true runs
...               only tests tagged quick, this one among them.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Apply Quick Mode
Test Teardown     Disconnect All Clients

Test Tags         benchmark


*** Test Cases ***
Quick Benchmark Validation
    [Documentation]    A thousand messages at the maximum rate on one connection: applied,
    ...    delivered, p95 and throughput within their targets; logs the figures.
    [Tags]    quick    smoke
    Connect Test Clients    count=1
    ${result}=    Send Burst At Rate    messages=1000    rate=${MAX_MESSAGE_RATE}
    Should Be True    ${result.load_applied}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Latency P95 Should Be Below    ${LATENCY_P95}
    Throughput Should Be At Least    ${{${MAX_MESSAGE_RATE} * ${THROUGHPUT_TOLERANCE}}}
    ${summary}=    Get Load Summary
    Log
    ...    p50 ${summary}[latency_p50_ms] ms, p99 ${summary}[latency_p99_ms] ms, ${summary}[achieved_receive_rate] msg/s
