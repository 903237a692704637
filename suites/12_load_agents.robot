*** Settings ***
Documentation     One load step spread over load agents on other machines, one pass/fail.
...
...               Runs when ``\${LOAD_AGENTS}`` lists agents (environment variable LOAD_AGENTS,
...               or ``--variable LOAD_AGENTS:http://10.0.0.5:8270,http://10.0.0.6:8270``),
...               each started with ``python -m WebSocketLoadLibrary agent`` and the shared
...               secret in ``$LOAD_AGENT_SECRET`` here and there. Without agents every test is
...               skipped. The load goes to ``\${AGENT_TARGET_URI}`` when set, otherwise to an
...               embedded mock server bound to ``\${AGENT_SERVER_HOST}`` (an address of this
...               machine the agents reach). See the README, "Load agents".

Resource          ../resources/throughput.resource

Suite Setup       Connect Agents Or Skip
Suite Teardown    Release Agents
Test Setup        Apply Quick Mode

Test Tags         agents    distributed


*** Test Cases ***
Burst Spread Over Agents Meets The Latency Targets
    [Documentation]    The same burst on every agent at one moment; the merged result sums
    ...    the agents' counters and takes percentiles from their merged histograms.
    [Tags]    quick    smoke
    Connect Clients On Agents    ${AGENT_URI}    count=${AGENT_CONNECTIONS}
    ${result}=    Run Load On Agents    ${AGENT_RATE}    messages=${AGENT_MESSAGES}
    ...    name=agents burst
    Should Be Equal As Integers    ${result.sent}    ${AGENT_MESSAGES}
    ${sum}=    Evaluate    sum(part.received for part in $result.agent_results())
    Should Be Equal As Integers    ${result.received}    ${sum}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Latency P95 Should Be Below    ${LATENCY_P95}
    Latency P99 Should Be Below    ${LATENCY_P99}
    Throughput Should Be At Least    ${{ ${AGENT_RATE} * ${THROUGHPUT_TOLERANCE} }}
    [Teardown]    Disconnect Clients On Agents

Sustained Load Started And Awaited Separately
    [Documentation]    A non-blocking start, other work meanwhile, then the wait.
    Connect Clients On Agents    ${AGENT_URI}    count=${AGENT_CONNECTIONS}
    ${step}=    Start Load On Agents    ${AGENT_RATE}    duration=${AGENT_DURATION}
    ...    name=agents sustained
    Log    The step runs on the agents while the controller goes on.
    Wait For Load On Agents    ${step}
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Latency P99 Should Be Below    ${LATENCY_P99}
    Memory Growth Should Be Below    ${MAX_MEMORY_GROWTH}
    [Teardown]    Disconnect Clients On Agents

Dropped Replies Fail The Merged Delivery Check
    [Documentation]    The merged result fails an assertion when the server misbehaves.
    Requires Embedded Mock Server
    Connect Clients On Agents    ${AGENT_URI}    count=${AGENT_CONNECTIONS}
    Set Mock Server Faults    drop_ratio=0.05
    Run Load On Agents    ${AGENT_RATE}    messages=2000    reply_timeout=1 s
    ...    name=agents under 5% drops
    Run Keyword And Expect Error    Delivery ratio 0.9*, expected at least 0.999 (*
    ...    Delivery Ratio Should Be At Least    0.999
    [Teardown]    Run Keywords    Clear Mock Server Faults    AND    Disconnect Clients On Agents


*** Keywords ***
Connect Agents Or Skip
    [Documentation]    Suite setup: skips the suite without ``\${LOAD_AGENTS}``, else connects
    ...    the agents and sets the suite's target ``\${AGENT_URI}``: the server under test or
    ...    an embedded mock server the agents reach.
    # the target is the suite's, for every test: what suite variables are for
    # robocop: off=no-suite-variable
    Skip If    not $LOAD_AGENTS
    ...    No load agents given: set LOAD_AGENTS (or --variable LOAD_AGENTS:http://host:8270,...) to run this suite.
    Connect Load Agents    ${LOAD_AGENTS}
    IF    $AGENT_TARGET_URI
        VAR    ${AGENT_URI}    ${AGENT_TARGET_URI}    scope=SUITE
        VAR    ${EMBEDDED_SERVER}    ${False}    scope=SUITE
    ELSE
        ${uri}=    Start Mock Server    host=${AGENT_SERVER_HOST}    max_connections=2000
        VAR    ${AGENT_URI}    ${uri}    scope=SUITE
        VAR    ${EMBEDDED_SERVER}    ${True}    scope=SUITE
    END

Release Agents
    [Documentation]    Suite teardown: disconnects the agents and stops every mock server.
    Disconnect Load Agents
    Stop All Mock Servers
