*** Settings ***
Documentation     Linear rate scaling: the achieved throughput follows the target rate step by
...               step, and latency holds at every step.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Apply Quick Mode
Test Teardown     Disconnect All Clients

Test Tags         scaling    rate-scaling


*** Test Cases ***
Throughput Scales Linearly With The Message Rate
    [Documentation]    One step per target rate: every step reaches its rate (scaling
    ...    efficiency), delivers and holds p95, and the peak throughput reaches the last
    ...    step's rate less the tolerance.
    Connect Test Clients    count=${CONNECTIONS}
    Run Rate Scaling    ${MESSAGE_RATE_SCALING_STEPS}    ${TEST_DURATION_PER_STEP}
    ...    max_messages_per_step=${MAX_MESSAGES_PER_STEP}
    Scaling Efficiency Should Be At Least    ${MIN_SCALING_EFFICIENCY}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Latency P95 Should Be Below    ${LATENCY_P95}
    Throughput Should Be At Least    ${{${MESSAGE_RATE_SCALING_STEPS}[-1] * ${THROUGHPUT_TOLERANCE}}}
