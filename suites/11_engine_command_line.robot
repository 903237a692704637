*** Settings ***
Documentation    Smoke run of the load engine against the embedded mock server, through the
...              engine's command line. The keyword library and the scenario suites build on
...              the same engine.

Library          Collections
Library          Process

Test Tags        quick    cli


*** Variables ***
${RATE}           1000
${MESSAGES}       3000
${CONNECTIONS}    5


*** Test Cases ***
Engine Holds The Target Rate Against The Embedded Mock Server
    [Documentation]    A paced step from the command line holds its rate and gets every reply.
    ${summary}=    Run Load Step    --rate    ${RATE}    --messages    ${MESSAGES}
    ...    --connections    ${CONNECTIONS}
    Should Be Equal As Integers    ${summary}[received]    ${MESSAGES}
    Should Be True    ${summary}[load_applied]
    Should Be True    ${summary}[achieved_send_rate] >= ${RATE} * 0.99
    ...    achieved ${summary}[achieved_send_rate] msg/s, target ${RATE} msg/s

Unreachable Rate Is Reported As Not Applied
    [Documentation]    Ten million messages a second cannot be sent from here: the command
    ...    line says the load was not applied, why, and exits 1.
    ${summary}=    Run Load Step    --rate    10000000    --messages    20000    expected_rc=1
    Should Not Be True    ${summary}[load_applied]
    Should Contain    ${summary}[not_applied_reasons][0]    achieved send rate


*** Keywords ***
Run Load Step
    [Documentation]    Runs ``python -m WebSocketLoadLibrary run ... --json`` with this
    ...    interpreter, checks its exit code and returns the summary it printed.
    [Arguments]    @{args}    ${expected_rc}=0
    ${run}=    Run Process    ${{sys.executable}}    -m    WebSocketLoadLibrary    run    @{args}    --json
    ...    env:PYTHONPATH=${CURDIR}/../libraries    timeout=120 s
    Log    ${run.stdout}
    Should Be Equal As Integers    ${run.rc}    ${expected_rc}    ${run.stderr}
    ${summary}=    Evaluate    json.loads($run.stdout)    modules=json
    Log Dictionary    ${summary}
    RETURN    ${summary}
