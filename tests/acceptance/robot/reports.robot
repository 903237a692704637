*** Settings ***
Documentation     Charts, saved results, regression checks, merging and live metrics, as a user
...               meets them. Run by tests/test_reports.py, which reads output.xml, log.html and
...               the files under load-results/.

Library           WebSocketLoadLibrary
Library           String

Suite Setup       Start Mock Server    seed=3
Suite Teardown    Stop All Mock Servers
Test Setup        Connect Clients    count=2
Test Teardown     Disconnect All Clients


*** Test Cases ***
Burst With Charts
    Send Burst At Rate    1500    1000/s    name=charted burst

Rate Scaling With Charts
    @{rates}=    Create List    200/s    400/s
    Run Rate Scaling    ${rates}    1 s

Connection Scaling With Charts
    @{counts}=    Create List    1    2
    Run Connection Scaling    ${counts}    100/s    1 s

A Failing Test Still Leaves Its Result
    Send Burst At Rate    300    300/s    name=before the failure
    Fail    Failed on purpose after the load

Two Steps Of One Name Get Two Files
    Send Burst At Rate    200    400/s    name=same name
    Send Burst At Rate    200    400/s    name=same name

Equal Results Do Not Regress
    Send Burst At Rate    1000    1000/s    name=regression step
    ${path}=    Save Load Results    ${OUTPUT DIR}/baseline/baseline.json
    Load Results Should Not Regress    ${path}    tolerance=10%

A 20% Throughput Drop Regresses
    Send Burst At Rate    800    800/s    name=regression step
    Load Results Should Not Regress    ${OUTPUT DIR}/baseline/baseline.json    tolerance=10%

The Metrics Endpoint Counts What Was Sent
    ${url}=    Start Metrics Endpoint    port=0
    Should Start With    ${url}    http://127.0.0.1:
    ${before}=    Evaluate    urllib.request.urlopen($url).read().decode()    modules=urllib.request
    Send Burst At Rate    300    600/s
    ${after}=    Evaluate    urllib.request.urlopen($url).read().decode()    modules=urllib.request
    FOR    ${metric}    IN    websocket_load_messages_sent_total
    ...    websocket_load_messages_received_total    websocket_load_latency_seconds_count
        ${then}=    Metric Value    ${before}    ${metric}
        ${now}=    Metric Value    ${after}    ${metric}
        ${rise}=    Evaluate    ${now} - ${then}
        Should Be Equal As Numbers    ${rise}    300    ${metric} rose by ${rise}
    END
    [Teardown]    Run Keywords    Stop Metrics Endpoint    AND    Disconnect All Clients

Merge Of The Run So Far
    [Setup]    No Operation
    ${merged}=    Merge Load Results
    Set Test Message    ${merged}[total][received] replies in ${merged}[total][steps] steps
    [Teardown]    No Operation


*** Keywords ***
Metric Value
    [Documentation]    The value of one metric in Prometheus' text format.
    [Arguments]    ${text}    ${name}
    ${line}=    Get Lines Matching Pattern    ${text}    ${name}{agent="local"} *
    Should Not Be Empty    ${line}    No ${name} in the metrics
    ${value}=    Fetch From Right    ${line}    ${SPACE}
    RETURN    ${value}
