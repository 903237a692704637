*** Settings ***
Documentation     Basic functionality: the mock server answers, clients connect, messages are
...               sent on schedule, replies are correlated by id and latency is measured; and
...               the assertions fail when the server misbehaves.

Resource          ../resources/throughput.resource

Suite Setup       Start Load Test Target
Suite Teardown    Stop Load Test Target
Test Setup        Apply Quick Mode
Test Teardown     Disconnect All Clients

Test Tags         basic


*** Test Cases ***
Client Connects To The Target
    [Documentation]    One connection to the target opens.
    [Tags]    quick    smoke
    ${open}=    Connect Test Clients    count=1
    Should Be Equal As Integers    ${open}    1

Messages Are Answered And Correlated By Id
    [Documentation]    Every message of a short paced burst gets its own reply, matched by id:
    ...    none lost, none unmatched, and p50 latency within its target.
    [Tags]    quick    smoke
    Connect Test Clients    count=1
    ${result}=    Send Burst At Rate    messages=50    rate=50/s
    Should Be Equal As Integers    ${result.sent}    50
    Should Be Equal As Integers    ${result.received}    50
    Should Be Equal As Integers    ${result.unmatched}    0
    Delivery Ratio Should Be At Least    1.0
    Latency P50 Should Be Below    ${LATENCY_P50}

Mock Server Counts What It Received
    [Documentation]    The mock server's own counters agree with what the clients sent.
    [Tags]    quick
    Requires Embedded Mock Server
    Reset Mock Server Stats
    Connect Test Clients    count=2
    Send Burst At Rate    messages=100    rate=200/s
    ${stats}=    Get Mock Server Stats
    Should Be Equal As Integers    ${stats}[messages_received]    100
    Should Be Equal As Integers    ${stats}[messages_sent]    100

Bearer Token Is Required When The Server Asks For One
    [Documentation]    The token is a Robot Secret: it reaches the server but never the log.
    Requires Embedded Mock Server
    ${token}=    Create Random Token
    ${uri}=    Start Mock Server    auth_token=${token}    alias=with auth
    Run Keyword And Expect Error    *HTTP 401*missing*    Connect Clients    ${uri}
    ${open}=    Connect Clients    ${uri}    count=2    token=${token}
    Should Be Equal As Integers    ${open}    2
    Send Burst At Rate    messages=20    rate=100/s
    Delivery Ratio Should Be At Least    1.0
    [Teardown]    Run Keywords    Disconnect All Clients    AND    Stop Mock Server    with auth

Dropped Replies Fail The Delivery Assertion
    [Documentation]    The same assertion that passes above fails, with the figures, when
    ...    the server drops a fifth of the replies.
    Requires Embedded Mock Server
    Connect Test Clients    count=2
    Set Mock Server Faults    drop_ratio=20%
    Send Burst At Rate    messages=500    rate=500/s    reply_timeout=500 ms
    Run Keyword And Expect Error    Delivery ratio 0.*, expected at least 0.95 (* replies to 500 messages:*
    ...    Delivery Ratio Should Be At Least    0.95
    [Teardown]    Run Keywords    Clear Mock Server Faults    AND    Disconnect All Clients

An Unreachable Rate Is Never Passed
    [Documentation]    Ten million messages a second cannot be sent from here: the result
    ...    says the load was not applied and every assertion refuses it.
    Connect Test Clients    count=1
    ${result}=    Send Burst At Rate    messages=20000    rate=10M/s
    Should Not Be True    ${result.load_applied}
    Run Keyword And Expect Error    Refusing to judge throughput*not applied*
    ...    Throughput Should Be At Least    1/s
    Run Keyword And Expect Error    Refusing to judge delivery ratio*
    ...    Delivery Ratio Should Be At Least    0.5
