*** Settings ***
Documentation    Protocols real servers speak over WebSocket, against the embedded mock
...              server speaking them: for each, request-reply steps whose replies (acks,
...              receipts, results, PUBACKs) are matched by id, a subscription stream and a
...              fan-out, with the protocol's keep-alives answered through every step.

Resource         ../resources/throughput.resource

Test Setup       Run Keywords    Apply Quick Mode    AND    Requires The Mock Server
Test Teardown    Run Keywords    Disconnect All Clients    AND    Stop All Mock Servers

Test Tags        protocols


*** Variables ***
# the mock server pings this often and closes a client silent for the timeout after a
# ping: a step of PROTOCOL_DURATION outlasts several pings
&{SOCKETIO_SERVER}    ping_interval_s=0.5    ping_timeout_s=0.5
&{STOMP_SERVER}       heart_beat=500,500
&{GRAPHQL_SERVER}     ping_interval_s=0.5    ping_timeout_s=1


*** Test Cases ***
SocketIO Acks Are Replies Under Load
    [Documentation]    Every event asks for an ack; each ack is the event's reply, matched by
    ...    the ack id in the packet prefix, while the server's pings are answered on time.
    [Tags]    quick    socketio
    Start SocketIO Mock Server
    Connect Clients    count=${CONNECTIONS}    protocol=socketio    event=echo
    ${result}=    Run Sustained Load    rate=${PROTOCOL_RATE}    duration=${PROTOCOL_DURATION}
    Delivery Ratio Should Be At Least    100%
    Latency P95 Should Be Below    ${LATENCY_P95}
    Should Be Equal    ${result.connections_closed}    ${{ {} }}
    VAR    ${protocol}    ${result.sections}[protocol]
    Should Be True    ${protocol.keepalives_answered} >= ${CONNECTIONS}

SocketIO Dropped Acks Fail The Delivery Ratio
    [Documentation]    The server drops a tenth of its acks: the step counts them lost.
    [Tags]    socketio
    Start SocketIO Mock Server    drop_ratio=0.1
    Connect Clients    count=${CONNECTIONS}    protocol=socketio
    Send Burst At Rate    messages=1000    rate=${PROTOCOL_RATE}    reply_timeout=1 s
    Run Keyword And Expect Error    Delivery ratio 0.*, expected at least 0.99*
    ...    Delivery Ratio Should Be At Least    0.99

SocketIO Stream On A Subscription
    [Documentation]    Each connection asks for a stream with an event; the stream's events
    ...    are measured (rate, gaps, staleness) and the pings are no stream messages.
    [Tags]    quick    socketio
    Start SocketIO Mock Server
    Connect Clients    count=${STREAM_CONNECTIONS}    protocol=socketio
    ...    opening_messages=42["stream",{"op":"stream","rate":${STREAM_RATE_PER_CONNECTION},"duration":30}]
    ...    opening_reply="op":"streaming"
    Listen For Messages    duration=${STREAM_DURATION}    sequence_field=seq    timestamp_field=ts
    Missing Messages Should Be At Most    0
    ${floor}=    Evaluate    ${STREAM_CONNECTIONS} * ${STREAM_RATE_PER_CONNECTION} * 0.9
    Stream Rate Should Be At Least    ${floor}

SocketIO Fan Out Through A Room
    [Documentation]    Subscribers join a room with an event; every publish reaches every one.
    [Tags]    quick    socketio
    Start SocketIO Mock Server
    Connect Clients    count=${FANOUT_SUBSCRIBERS}    alias=subscribers    protocol=socketio
    ...    opening_messages=42["subscribe",{"op":"subscribe","topic":"room"}]
    ...    opening_reply="op":"subscribed"
    Connect Clients    count=1    alias=publishers    protocol=socketio
    Set Message Template    {"op":"publish","topic":"room","message_id":$message_id}
    Publish At Rate    ${FANOUT_RATE}    subscribers=subscribers    duration=${FANOUT_DURATION}
    ...    publishers=publishers
    Delivery Ratio Should Be At Least    100%
    Every Subscriber Should Receive At Least    100%
    [Teardown]    Run Keywords    Set Message Template    AND    Disconnect All Clients
    ...    AND    Stop All Mock Servers

STOMP Receipts Are Replies Under Load
    [Documentation]    Every SEND asks for a receipt; each RECEIPT is its reply, matched by
    ...    the receipt id, while heart-beats go both ways every half second.
    [Tags]    quick    stomp
    Start Mock Server    engine=picows    protocol=stomp    protocol_options=${STOMP_SERVER}
    Connect Clients    count=${CONNECTIONS}    protocol=stomp    heart_beat=500,500
    ${result}=    Run Sustained Load    rate=${PROTOCOL_RATE}    duration=${PROTOCOL_DURATION}
    Delivery Ratio Should Be At Least    100%
    Latency P95 Should Be Below    ${LATENCY_P95}
    Should Be Equal    ${result.connections_closed}    ${{ {} }}
    VAR    ${protocol}    ${result.sections}[protocol]
    Should Be True    ${protocol.heartbeats_sent} >= ${CONNECTIONS}

STOMP Delayed Receipts Fail The Latency Bound
    [Documentation]    Every receipt held one and a half times the latency target.
    [Tags]    stomp
    ${delay}=    Evaluate    robot.utils.timestr_to_secs($LATENCY_P95) * 1.5
    ...    modules=robot.utils
    Start Mock Server    engine=picows    protocol=stomp    response_delay=${delay}
    Connect Clients    count=${CONNECTIONS}    protocol=stomp
    Send Burst At Rate    messages=200    rate=${PROTOCOL_RATE}
    Run Keyword And Expect Error    Latency p95 is *ms, expected below *
    ...    Latency P95 Should Be Below    ${LATENCY_P95}

STOMP Stream On A Subscription
    [Documentation]    Each connection subscribes to a destination in its handshake, then
    ...    SENDs it the mock server's stream command; the MESSAGE frames' bodies are measured.
    [Tags]    stomp
    VAR    ${STREAM_COMMAND}    {"op":"stream","rate":${STREAM_RATE_PER_CONNECTION},"duration":30}
    Start Mock Server    engine=picows    protocol=stomp
    Connect Clients
    ...    count=${STREAM_CONNECTIONS}
    ...    protocol=stomp
    ...    subscribe=/topic/stream
    ...    opening_messages=SEND\ndestination:/topic/stream\n\n${STREAM_COMMAND}\x00
    Listen For Messages    duration=${STREAM_DURATION}    sequence_field=seq    timestamp_field=ts
    Missing Messages Should Be At Most    0
    ${floor}=    Evaluate    ${STREAM_CONNECTIONS} * ${STREAM_RATE_PER_CONNECTION} * 0.9
    Stream Rate Should Be At Least    ${floor}

STOMP Fan Out To Subscribers
    [Documentation]    Subscribers SUBSCRIBE to a topic as their handshake ends; every SEND
    ...    to it reaches every one as a MESSAGE.
    [Tags]    quick    stomp
    Start Mock Server    engine=picows    protocol=stomp
    Connect Clients    count=${FANOUT_SUBSCRIBERS}    alias=subscribers    protocol=stomp
    ...    subscribe=/topic/room
    Connect Clients    count=1    alias=publishers    protocol=stomp    destination=/topic/room
    Publish At Rate    ${FANOUT_RATE}    subscribers=subscribers    duration=${FANOUT_DURATION}
    ...    publishers=publishers
    Delivery Ratio Should Be At Least    100%
    Every Subscriber Should Receive At Least    100%

GraphQL Results Are Replies Under Load
    [Documentation]    Every request is a subscribe with its own operation id; its ``next``
    ...    is the reply and its ``complete`` the protocol's own, while pings are answered.
    [Tags]    quick    graphql
    Start Mock Server    engine=picows    protocol=graphql-ws    protocol_options=${GRAPHQL_SERVER}
    Connect Clients    count=${CONNECTIONS}    protocol=graphql-ws
    ${result}=    Run Sustained Load    rate=${PROTOCOL_RATE}    duration=${PROTOCOL_DURATION}
    Delivery Ratio Should Be At Least    100%
    Latency P95 Should Be Below    ${LATENCY_P95}
    Should Be Equal As Integers    ${result.unmatched}    0
    Should Be Equal    ${result.connections_closed}    ${{ {} }}

GraphQL Subscription Stream
    [Documentation]    Each connection subscribes to a stream in its handshake; the ``next``
    ...    messages' data is measured (rate, gaps, staleness).
    [Tags]    quick    graphql
    Start Mock Server    engine=picows    protocol=graphql-ws
    Connect Clients    count=${STREAM_CONNECTIONS}    protocol=graphql-ws
    ...    subscription=subscription { ticks { seq ts } }
    ...    subscription_variables={"op":"stream","rate":${STREAM_RATE_PER_CONNECTION},"duration":30}
    Listen For Messages    duration=${STREAM_DURATION}    sequence_field=seq    timestamp_field=ts
    Missing Messages Should Be At Most    0
    ${floor}=    Evaluate    ${STREAM_CONNECTIONS} * ${STREAM_RATE_PER_CONNECTION} * 0.9
    Stream Rate Should Be At Least    ${floor}

GraphQL Fan Out To Subscribers
    [Documentation]    Subscribers subscribe to a topic; every publish mutation reaches each.
    [Tags]    graphql
    Start Mock Server    engine=picows    protocol=graphql-ws
    Connect Clients    count=${FANOUT_SUBSCRIBERS}    alias=subscribers    protocol=graphql-ws
    ...    subscription=subscription { messages(topic: "room") }
    ...    subscription_variables={"op":"subscribe","topic":"room"}
    Connect Clients    count=1    alias=publishers    protocol=graphql-ws
    Set Message Template    {"op":"publish","topic":"room","message_id":$message_id}
    Publish At Rate    ${FANOUT_RATE}    subscribers=subscribers    duration=${FANOUT_DURATION}
    ...    publishers=publishers
    Delivery Ratio Should Be At Least    100%
    Every Subscriber Should Receive At Least    100%
    [Teardown]    Run Keywords    Set Message Template    AND    Disconnect All Clients
    ...    AND    Stop All Mock Servers

MQTT PUBACKs Are Replies Under Load
    [Documentation]    Every request is a QoS 1 PUBLISH; its PUBACK, by the packet id of its
    ...    connection, is the reply, while PINGREQs keep the connection alive.
    [Tags]    quick    mqtt
    Start Mock Server    engine=picows    protocol=mqtt
    Connect Clients    count=${CONNECTIONS}    protocol=mqtt    keep_alive=2
    ${result}=    Run Sustained Load    rate=${PROTOCOL_RATE}    duration=${PROTOCOL_DURATION}
    Delivery Ratio Should Be At Least    100%
    Latency P95 Should Be Below    ${LATENCY_P95}
    Should Be Equal    ${result.connections_closed}    ${{ {} }}

MQTT Dropped PUBACKs Fail The Delivery Ratio
    [Documentation]    The broker drops a tenth of its PUBACKs: the step counts them lost.
    [Tags]    mqtt
    Start Mock Server    engine=picows    protocol=mqtt    drop_ratio=0.1
    Connect Clients    count=${CONNECTIONS}    protocol=mqtt
    Send Burst At Rate    messages=1000    rate=${PROTOCOL_RATE}    reply_timeout=1 s
    Run Keyword And Expect Error    Delivery ratio 0.*, expected at least 0.99*
    ...    Delivery Ratio Should Be At Least    0.99

MQTT Stream On A Subscription
    [Documentation]    Each connection subscribes to a topic in its handshake, then publishes
    ...    the mock server's stream command (``opening_publish``), its PUBACK ending the
    ...    handshake; the deliveries' payloads are measured.
    [Tags]    mqtt
    VAR    ${STREAM_COMMAND}    {"op":"stream","rate":${STREAM_RATE_PER_CONNECTION},"duration":30}
    Start Mock Server    engine=picows    protocol=mqtt
    Connect Clients
    ...    count=${STREAM_CONNECTIONS}
    ...    protocol=mqtt
    ...    subscribe=wsload/stream
    ...    opening_publish=${STREAM_COMMAND}
    Listen For Messages    duration=${STREAM_DURATION}    sequence_field=seq    timestamp_field=ts
    Missing Messages Should Be At Most    0
    ${floor}=    Evaluate    ${STREAM_CONNECTIONS} * ${STREAM_RATE_PER_CONNECTION} * 0.9
    Stream Rate Should Be At Least    ${floor}

MQTT Fan Out To Subscribers
    [Documentation]    Subscribers SUBSCRIBE to a topic in their handshake; every QoS 0
    ...    PUBLISH to it reaches each one.
    [Tags]    quick    mqtt
    Start Mock Server    engine=picows    protocol=mqtt
    Connect Clients    count=${FANOUT_SUBSCRIBERS}    alias=subscribers    protocol=mqtt
    ...    subscribe=room
    Connect Clients    count=1    alias=publishers    protocol=mqtt    topic=room
    Publish At Rate    ${FANOUT_RATE}    subscribers=subscribers    duration=${FANOUT_DURATION}
    ...    publishers=publishers
    Delivery Ratio Should Be At Least    100%
    Every Subscriber Should Receive At Least    100%


*** Keywords ***
Requires The Mock Server
    [Documentation]    Each test starts the mock server speaking its protocol.
    Skip If    $TARGET_URI    Runs against the mock server speaking each protocol (TARGET_URI is set).

Start SocketIO Mock Server
    [Documentation]    The embedded mock server speaking Socket.IO, pinging every half second.
    [Arguments]    &{faults}
    Start Mock Server    engine=picows    protocol=socketio    protocol_options=${SOCKETIO_SERVER}
    ...    &{faults}
