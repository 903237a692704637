*** Settings ***
Documentation     Publish/subscribe fan-out: every publish expected at every subscriber,
...               matched by its id; delivery ratio overall and per subscriber, delivery
...               latency from the publish's intended time, the slowest subscriber. Every
...               assertion passes on a healthy mock server and fails on a faulty one.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target    engine=picows
Suite Teardown    Stop Load Test Target
Test Setup        Run Keywords    Apply Quick Mode    AND    Requires Embedded Mock Server
Test Teardown     Clean Up Fan Out

Test Tags         fanout


*** Test Cases ***
Every Subscriber Gets Every Publish
    [Documentation]    A healthy server delivers each publish to every subscriber, in time.
    [Tags]    quick
    Connect Fan Out Groups
    Publish At Rate    ${FANOUT_RATE}    subscribers=subscribers    duration=${FANOUT_DURATION}
    ...    publishers=publishers
    Delivery Ratio Should Be At Least    100%
    Every Subscriber Should Receive At Least    100%
    Latency P99 Should Be Below    ${FANOUT_LATENCY_P99}

Dropped Deliveries Fail The Delivery Ratio
    [Documentation]    The server drops a tenth of its deliveries: overall and per
    ...    subscriber, the delivery checks fail.
    Set Mock Server Faults    drop_ratio=0.1
    Connect Fan Out Groups
    Publish At Rate    ${FANOUT_RATE}    subscribers=subscribers    duration=${FANOUT_DURATION}
    ...    publishers=publishers    delivery_timeout=1 s
    Run Keyword And Expect Error    Delivery ratio 0.*, expected at least 0.99 (* deliveries of * expected*
    ...    Delivery Ratio Should Be At Least    0.99
    Run Keyword And Expect Error    * subscribers got less than 0.99 of the publishes*
    ...    Every Subscriber Should Receive At Least    0.99

A Delivery Delay Fails The Latency Bound
    [Documentation]    Every delivery held one and a half times the latency target.
    ${delay}=    Evaluate    robot.utils.timestr_to_secs($FANOUT_LATENCY_P99) * 1.5
    ...    modules=robot.utils
    Set Mock Server Faults    response_delay=${delay}
    Connect Fan Out Groups
    Publish At Rate    ${FANOUT_RATE}    subscribers=subscribers    duration=${FANOUT_DURATION}
    ...    publishers=publishers
    Run Keyword And Expect Error    Latency p99 is *ms, expected below *
    ...    Latency P99 Should Be Below    ${FANOUT_LATENCY_P99}

A Slow Subscriber Shows As The Slowest
    [Documentation]    One subscriber's deliveries are held 200 ms: it is named the slowest,
    ...    and it alone is that slow.
    Set Mock Server Faults    slow_subscriber_delay=0.2
    Connect Fan Out Groups
    ${result}=    Publish At Rate    ${FANOUT_RATE}    subscribers=subscribers
    ...    duration=${FANOUT_DURATION}    publishers=publishers
    VAR    ${fanout}    ${result.sections}[fanout]
    Should Be True    ${fanout.slowest_subscriber}[1] >= 150
    ${slow}=    Evaluate    sum(1 for mean in $fanout.subscriber_latency_mean_ms if mean >= 100)
    Should Be Equal As Integers    ${slow}    1
    Run Keyword And Expect Error    Latency p99 is *ms, expected below 100 ms*
    ...    Latency P99 Should Be Below    100 ms
    Every Subscriber Should Receive At Least    100%


*** Keywords ***
Clean Up Fan Out
    [Documentation]    Test teardown: faults off, the default message back, clients closed.
    Clear Mock Server Faults
    Set Message Template
    Disconnect All Clients
