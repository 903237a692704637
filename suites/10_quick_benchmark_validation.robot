*** Settings ***
Documentation     Quick benchmark validation: a short run that checks the whole chain (server,
...               clients, pacing, correlation, histograms) in seconds. QUICK_MODE=true runs
...               only tests tagged quick; the capacity line (tag capacity) searches for the
...               highest rate within the targets and runs without QUICK_MODE.

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

Quick Benchmark Capacity
    [Documentation]    The capacity line: a short search for the highest rate at which the
    ...    target still meets p95 and delivery targets (figures from the variable file);
    ...    logs the capacity found and asserts only that the lowest rate met them.
    [Tags]    capacity
    Connect Test Clients    count=${BENCHMARK_CAPACITY_CONNECTIONS}
    ${found}=    Find Maximum Rate    ${BENCHMARK_CAPACITY_LOW}/s    ${BENCHMARK_CAPACITY_HIGH}/s
    ...    probe_duration=${BENCHMARK_CAPACITY_PROBE}    warm_up=${BENCHMARK_CAPACITY_WARM_UP}
    ...    pause=${BENCHMARK_CAPACITY_PAUSE}    max_probes=${BENCHMARK_CAPACITY_MAX_PROBES}
    ...    time_budget=${BENCHMARK_CAPACITY_TIME_BUDGET}    retries=1    name=benchmark capacity
    ...    p95=${BENCHMARK_CAPACITY_P95}    delivery=${BENCHMARK_CAPACITY_DELIVERY}
    Log    Capacity ${found.capacity_msg_s} msg/s: ${found.message}
    Capacity Should Be At Least    ${BENCHMARK_CAPACITY_LOW}/s
