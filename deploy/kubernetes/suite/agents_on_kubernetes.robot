*** Settings ***
Documentation     The controller suite of the Kubernetes manifests (deploy/kubernetes/): one
...               load step spread over every load agent pod behind the headless Service,
...               one merged pass/fail.
...
...               Its settings come from the environment, which the manifests set from the
...               ConfigMap ``websocketload-run`` (deploy/kubernetes/kustomization.yaml):
...               ``LOAD_AGENTS`` (``dns:NAME:PORT``), ``EXPECTED_AGENTS`` (the least number
...               of agents to wait for), ``AGENT_WAIT``, ``AGENT_CONNECTIONS`` (per agent),
...               ``AGENT_RATE``, ``AGENT_DURATION``, ``TARGET_URI`` (the server under test as
...               the agents reach it; empty: a mock server in the controller's pod, on
...               ``AGENT_SERVER_HOST``, the pod's IP), ``LOAD_AGENT_SECRET_FILE`` and, for
...               agents serving TLS (the tls component), ``AGENT_CA_FILE``. The live
...               metrics are served on ``METRICS_HOST``:``METRICS_PORT`` for Prometheus.
...               tests/agents/test_dns_agents_netns.py runs this very file, with the same
...               environment, against agents in network namespaces found through dnsmasq.

Library           WebSocketLoadLibrary

Suite Setup       Start Metrics Endpoint    port=${METRICS_PORT}    host=${METRICS_HOST}
Suite Teardown    Release Agents And Target

Test Tags         agents    kubernetes


*** Variables ***
${LOAD_AGENTS}          %{LOAD_AGENTS=dns:websocketload-agents:8270}
${EXPECTED_AGENTS}      %{EXPECTED_AGENTS=2}
${AGENT_WAIT}           %{AGENT_WAIT=2 min}
${AGENT_CONNECTIONS}    %{AGENT_CONNECTIONS=10}
${AGENT_RATE}           %{AGENT_RATE=1000/s}
${AGENT_DURATION}       %{AGENT_DURATION=5 s}
${TARGET_URI}           %{TARGET_URI=}
${AGENT_SERVER_HOST}    %{AGENT_SERVER_HOST=127.0.0.1}
${SECRET_FILE}          %{LOAD_AGENT_SECRET_FILE=}
${CA_FILE}              %{AGENT_CA_FILE=}
${METRICS_HOST}         %{METRICS_HOST=127.0.0.1}
${METRICS_PORT}         %{METRICS_PORT=9464}
${MIN_DELIVERY_RATIO}   %{MIN_DELIVERY_RATIO=0.999}
${LATENCY_P99}          %{LATENCY_P99=250 ms}


*** Test Cases ***
Sustained Load From Every Agent Found By DNS
    [Documentation]    Waits for at least ``${EXPECTED_AGENTS}`` agents behind
    ...    ``${LOAD_AGENTS}``, opens ``${AGENT_CONNECTIONS}`` connections on each and runs
    ...    ``${AGENT_RATE}`` for ``${AGENT_DURATION}`` spread over all of them.
    ${count}=    Connect Load Agents    ${LOAD_AGENTS}    expected=${EXPECTED_AGENTS}
    ...    wait=${AGENT_WAIT}    secret_file=${{ $SECRET_FILE or None }}
    ...    ca_file=${{ $CA_FILE or None }}
    ${target}=    Load Target
    Connect Clients On Agents    ${target}    count=${AGENT_CONNECTIONS}
    Run Load On Agents    ${AGENT_RATE}    duration=${AGENT_DURATION}
    ...    name=load on ${count} agents found by dns
    Delivery Ratio Should Be At Least    ${MIN_DELIVERY_RATIO}
    Latency P99 Should Be Below    ${LATENCY_P99}
    [Teardown]    Disconnect Clients On Agents


*** Keywords ***
Load Target
    [Documentation]    The server under test as the agents reach it: ``${TARGET_URI}``, or a
    ...    mock server started here on ``${AGENT_SERVER_HOST}`` (an address of this pod).
    IF    $TARGET_URI
        RETURN    ${TARGET_URI}
    END
    ${uri}=    Start Mock Server    host=${AGENT_SERVER_HOST}    max_connections=20000
    ...    engine=picows
    RETURN    ${uri}

Release Agents And Target
    [Documentation]    Suite teardown: ends the sessions on the agents, stops the mock server
    ...    and the metrics endpoint.
    Disconnect Load Agents
    Stop All Mock Servers
    Stop Metrics Endpoint
