*** Settings ***
Documentation     Churn and reconnect: connections replaced while messages flow, and a server
...               restart in the middle of a step that every client survives. Every message
...               is accounted for: delivered, lost (while a connection was down) or cut by
...               the client's own close. A restart without reconnects fails the step.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Run Keywords    Apply Quick Mode    AND    Requires Embedded Mock Server
Test Teardown     Clean Up Churn

Test Tags         lifecycle


*** Test Cases ***
Churn Under Load Loses Nothing
    [Documentation]    Each connection lives a short while, then the client closes it and
    ...    opens another at once: every reply arrives, and what the closes cut off is
    ...    counted as cut, never as lost.
    [Tags]    quick    churn
    Connect Test Clients    ${CHURN_CONNECTIONS}
    Churn Clients    ${CHURN_LIFETIME}    ${CHURN_MAX_LIFETIME}
    ${result}=    Run Sustained Load    ${CHURN_RATE}    ${CHURN_DURATION}
    Delivery Ratio Should Be At Least    100%
    VAR    ${lifecycle}    ${result.sections}[lifecycle]
    Should Be True    ${lifecycle.replacements} >= ${CHURN_CONNECTIONS}
    Should Be Equal As Integers    ${result.lost}    0

Every Client Survives A Server Restart
    [Documentation]    The server closes every connection mid-step (1012 service restart)
    ...    and refuses new ones for a moment: every client comes back, the step passes,
    ...    and the messages lost while down are counted.
    [Tags]    reconnect
    Connect Test Clients    ${CHURN_CONNECTIONS}
    Reconnect Clients Automatically    max_attempts=10    initial_delay=50 ms    max_delay=500 ms
    Restart Mock Server Connections    after=${RESTART_AFTER}    down_for=${RESTART_DOWN_FOR}
    ${result}=    Run Sustained Load    ${CHURN_RATE}    ${CHURN_DURATION}
    Delivery Ratio Should Be At Least    ${RESTART_DELIVERY_RATIO}
    Every Client Should Be Back    ${result}
    VAR    ${lifecycle}    ${result.sections}[lifecycle]
    Should Be True    ${lifecycle.lost_while_down} > 0
    The Server Should Have Restarted Once

A Restart Without Reconnects Fails The Step
    [Documentation]    The same restart with reconnects off: the connections stay closed
    ...    and the step fails, naming the server's close.
    [Tags]    reconnect
    Connect Test Clients    ${CHURN_CONNECTIONS}
    Restart Mock Server Connections    after=${RESTART_AFTER}
    Run Keyword And Expect Error    Load step * lost ${CHURN_CONNECTIONS} of * (*code 1012 (service restart)*
    ...    Run Sustained Load    ${CHURN_RATE}    ${CHURN_DURATION}

Connections Closed After Their Lifetime Come Back
    [Documentation]    The server closes each connection a while after its handshake
    ...    (1001): the clients reconnect each time and the step passes.
    [Tags]    reconnect
    ${lifetime}=    Evaluate    robot.utils.timestr_to_secs($CHURN_DURATION) / 3
    ...    modules=robot.utils
    Set Mock Server Faults    close_after=${lifetime}
    Connect Test Clients    ${CHURN_CONNECTIONS}
    Reconnect Clients Automatically    max_attempts=10    initial_delay=50 ms    max_delay=500 ms
    ${result}=    Run Sustained Load    ${CHURN_RATE}    ${CHURN_DURATION}
    Delivery Ratio Should Be At Least    ${RESTART_DELIVERY_RATIO}
    Every Client Should Be Back    ${result}    open_now=${False}
    ${stats}=    Get Mock Server Stats
    Should Be True    ${stats}[closes_by_close_after] >= ${CHURN_CONNECTIONS}


*** Keywords ***
The Server Should Have Restarted Once
    [Documentation]    Fails unless the mock server counted one restart, which closed every
    ...    client connection.
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[restarts]    1
    Should Be Equal As Integers    ${stats}[closes_by_restart]    ${CHURN_CONNECTIONS}

Every Client Should Be Back
    [Documentation]    Fails unless every client reconnected during the step and none was
    ...    given up: the step's lifecycle figures, and with ``open_now`` the connections
    ...    open now (not while the server may still be closing some).
    [Arguments]    ${result}    ${open_now}=${True}
    VAR    ${lifecycle}    ${result.sections}[lifecycle]
    Should Be True    ${lifecycle.reconnects} >= ${CHURN_CONNECTIONS}
    Should Be Equal As Integers    ${lifecycle.gave_up}    0
    IF    ${open_now}
        ${open}=    Get Open Connection Count
        Should Be Equal As Integers    ${open}    ${CHURN_CONNECTIONS}
    END

Clean Up Churn
    [Documentation]    Test teardown: churn and reconnects off, faults off, clients closed.
    Stop Churn And Reconnects
    Clear Mock Server Faults
    Disconnect All Clients
