*** Settings ***
Documentation     The controller keywords against two loopback agents (started by the test),
...               at TRACE level so that a leaked secret would show.

Library           WebSocketLoadLibrary
Library           OperatingSystem

Suite Setup       Start Mock Server
Suite Teardown    Run Keywords    Disconnect Load Agents    AND    Stop All Mock Servers


*** Test Cases ***
A Wrong Secret Is Refused By Every Agent
    VAR    ${wrong: Secret}    %{WSLOAD_WRONG_AGENT_SECRET}
    Run Keyword And Expect Error
    ...    2 of 2 load agents could not connect: load agent http://127.0.0.1:*refused the shared secret (HTTP 403)*
    ...    Connect Load Agents    ${AGENTS}    secret=${wrong}

A Missing Secret Says How To Make One
    Run Keyword And Expect Error
    ...    No shared secret: environment variable WSLOAD_NO_SUCH_SECRET is empty or not set*
    ...    Connect Load Agents    ${AGENTS}    secret_env=WSLOAD_NO_SUCH_SECRET

An Unreachable Agent Is Named
    Run Keyword And Expect Error
    ...    1 of 1 load agents could not connect: load agent http://127.0.0.1:9 cannot be reached*connection refused*
    ...    Connect Load Agents    http://127.0.0.1:9    timeout=3 s

Load Before Connecting Agents Says What To Do
    Run Keyword And Expect Error    No load agents connected: use Connect Load Agents first
    ...    Run Load On Agents    1000/s    messages=100

A Step On Two Agents Gives One Merged Result
    VAR    ${secret: Secret}    %{LOAD_AGENT_SECRET}
    ${count}=    Connect Load Agents    ${AGENTS}    secret=${secret}
    Should Be Equal As Integers    ${count}    2
    ${open}=    Connect Clients On Agents    count=3
    Should Be Equal As Integers    ${open}    6
    ${result}=    Run Load On Agents    2k/s    messages=3000    name=two agents
    Should Be Equal As Integers    ${result.sent}    3000
    Should Be Equal As Integers    ${result.connections}    6
    Delivery Ratio Should Be At Least    1.0
    Latency P99 Should Be Below    100 ms
    Throughput Should Be At Least    1900/s
    ${summary}=    Get Load Summary
    Should Be Equal    ${summary}[agents][1][agent]    agent-2
    Should Be Equal As Integers    ${summary}[agents][0][sent]    1500
    Run Keyword And Expect Error    Latency p50 is * ms, expected below * (over 3,000 messages: 3,000 replies*
    ...    Latency P50 Should Be Below    0.001 ms

A Step Never Waited For Is Awaited At The End Of The Test
    Start Load On Agents    1000/s    messages=500    name=forgotten step
    # no Wait For Load On Agents: the library waits at the end of the test, with a warning

The Forgotten Step Was Kept
    ${summary}=    Get Load Summary
    Should Be Equal    ${summary}[name]    forgotten step
    Should Be Equal As Integers    ${summary}[received]    500

An Agent Dying Mid-Step Fails The Step And Keeps The Others
    Connect Clients On Agents    count=2
    ${step}=    Start Load On Agents    1000/s    duration=4 s    name=doomed step
    Sleep    1.5 s
    Evaluate    os.kill(${DOOMED_PID}, signal.SIGKILL)    modules=os,signal
    Run Keyword And Expect Error
    ...    Load step 'doomed step' failed on 1 of 2 load agents (agent-2): load agent agent-2 (http://127.0.0.1:*) cannot be reached*The results of the other agents (agent-1) are kept*
    ...    Wait For Load On Agents
    ...    ${step}
    ${summary}=    Get Load Summary
    Should Be Equal As Integers    ${summary}[sent]    2000
    Should Not Be True    ${summary}[load_applied]
    Run Keyword And Expect Error    Refusing to judge*not applied*agent agent-2 failed*
    ...    Delivery Ratio Should Be At Least    0.5
