"""The Robot Framework library class: components on robotframework-pythonlibcore."""
from __future__ import annotations

from robot.api import logger
from robotlibcore import DynamicCore

from .version import __version__
from .base.state import LibraryState
from .engine import loop_kind_named
from .errors import WebSocketLoadError
from .keywords.agents import AgentKeywords
from .keywords.assertions import AssertionKeywords
from .keywords.capacity import CapacityKeywords
from .keywords.connections import ConnectionKeywords
from .keywords.fanout import FanoutKeywords
from .keywords.lifecycle import LifecycleKeywords
from .keywords.load import LoadKeywords
from .keywords.metrics import MetricsKeywords
from .keywords.reporting import ReportingKeywords
from .keywords.server import ServerKeywords
from .keywords.streams import StreamKeywords
from .utils.arguments import CONVERTERS, refuse_unconverted


class KeywordError(WebSocketLoadError):
    """One of the library's own errors as Robot shows it: the message alone, capitalised;
    the error itself, and what caused it, chained to it for the DEBUG log."""


class WebSocketLoadLibrary(DynamicCore):
    """WebSocketLoadLibrary load-tests WebSocket servers from Robot Framework, and tells the
    truth about latency.

    = Table of contents =

    %TOC%

    = How a load test reads =

    | ``*** Settings ***``
    | Library           WebSocketLoadLibrary
    | Suite Setup       Start Mock Server
    | Suite Teardown    Stop Mock Server
    |
    | ``*** Test Cases ***``
    | Sustained Load Holds Latency Targets
    |     Connect Clients    count=10
    |     Send Burst At Rate    messages=10000    rate=2k/s
    |     Delivery Ratio Should Be At Least    0.999
    |     Latency P95 Should Be Below    200 ms
    |     Throughput Should Be At Least    1900/s
    |     [Teardown]    Disconnect Clients

    `Start Mock Server` runs the embedded server in its own process on a free port;
    `Connect Clients` opens connections (to the mock server, or to any ``ws://`` or
    ``wss://`` URI); a load keyword (`Send Burst At Rate`, `Run Sustained Load`, `Run Rate
    Scaling`, `Run Connection Scaling`) sends messages and returns a result, which it also
    remembers as the *last result*; the assertion keywords check the last result unless
    given one with ``result=``. Every example suite on this page runs as it is, against the
    embedded mock server (the one of `Load agents` needs its agents running): save it as a
    ``.robot`` file and run ``robot`` on it (with ``--pythonpath libraries`` in a checkout
    of this repository).

    = What is measured =

    - *Open loop.* At a paced rate every message has an intended send time (message k
      is due at k / rate). The pacer sends what is due; when it falls behind, the result
      records how far (generator lag).
    - *Latency* of a message is its reply time minus its *intended* send time, so a stall
      of the server or of the generator shows in full instead of hiding in fewer sends
      (no coordinated omission). *Service time* (reply minus actual send) is kept too. At
      ``rate=max`` each connection keeps a window of messages in flight; latency is then
      service time, and the result says so.
    - *Correlation.* Replies are matched to messages by id (JSON field ``message_id`` by
      default, see `Set Message Template`). A message without a reply within the reply
      timeout is *lost*; a reply that matches no message is *unmatched*.
    - *Percentiles* come from HdrHistograms of every message (3 significant digits,
      mergeable across processes). Lost messages rank above every reply.
    - *Load applied.* A paced step is marked *not applied*, with reasons, when the server
      did not get the planned load: messages could not be sent; the achieved send rate
      fell short of the target (5% by default) and the step ended behind its schedule by
      more than a *hiccup* (0.25 s, at most a quarter of the step); the pacer was behind
      for a sustained part of the step -- more than 5% of the messages, and more than a
      hiccup's worth, went out *late*, or it was behind for an unbroken stretch of over
      1 s; or replies waited unread in the generator's sockets. A message is late when it
      went out later than one connection's planned interval between two messages after
      its due time (at least 10 ms, at most 100 ms). One late send recovered at once is
      none of these: its latency already counts the delay. The reason says whose doing it
      was (the server's TCP backpressure, or the generator's CPU or a busy machine); the
      figures (late messages, longest stretch behind, lag p99 / max / final) are in the
      summary table whatever the verdict. Every assertion keyword refuses to pass a
      result whose load was not applied: a test cannot pass on load that never happened.
    - *Resources.* RSS and CPU of this process and of the embedded mock server are
      sampled during every step (psutil).

    = Push and streams =

    A server that pushes on its own -- a price feed, a game state, notifications -- is
    measured with connections that send nothing: each says its subscription as an opening
    message (``opening_messages``, waiting for ``opening_reply``, see `Connect Clients`), then
    `Listen For Messages` reads the stream for a while. The stream's rate per connection,
    the messages its sequence numbers say are missing, and its *staleness* (age on arrival,
    from the server's timestamp) are checked by `Stream Rate Should Be At Least`, `Missing
    Messages Should Be At Most` and `Staleness P99 Should Be Below`. Messages a server pushes
    between its replies (heartbeats, welcomes) are counted as pushes, never as replies:
    `Pushes Should Be At Least`.

    | ``*** Settings ***``
    | Library           WebSocketLoadLibrary
    | Suite Setup       Start Mock Server
    | Suite Teardown    Stop Mock Server
    |
    | ``*** Test Cases ***``
    | Every Connection Gets Its Stream Fresh And Whole
    |     Connect Clients    count=10    opening_messages={"op":"stream","rate":100,"duration":10}
    |     ...    opening_reply=op == streaming
    |     Listen For Messages    3 s    sequence_field=seq    timestamp_field=ts
    |     Stream Rate Should Be At Least    900/s
    |     Missing Messages Should Be At Most    0
    |     Staleness P99 Should Be Below    100 ms
    |     [Teardown]    Disconnect Clients

    = Fan-out =

    Publish/subscribe: `Publish At Rate` paces publishes on one client group and expects
    each at every connection of another, the subscribers, matched by the publish's id.
    Delivery is deliveries over those expected (publishes times subscribers), overall with
    `Delivery Ratio Should Be At Least` and for the worst subscriber with `Every Subscriber
    Should Receive At Least`; latency runs from the publish's intended send time to each
    delivery. The log names the slowest subscriber.

    | ``*** Settings ***``
    | Library           WebSocketLoadLibrary
    | Suite Setup       Start Mock Server
    | Suite Teardown    Stop Mock Server
    |
    | ``*** Test Cases ***``
    | Every Subscriber Gets Every Publish
    |     Connect Clients    count=50    alias=subscribers
    |     ...    opening_messages={"op":"subscribe","topic":"news"}    opening_reply=op == subscribed
    |     Connect Clients    count=1    alias=publishers
    |     Set Message Template    {"op":"publish","topic":"news","message_id":$message_id}
    |     Publish At Rate    20/s    subscribers=subscribers    duration=3 s    publishers=publishers
    |     Delivery Ratio Should Be At Least    100%
    |     Every Subscriber Should Receive At Least    100%
    |     Latency P99 Should Be Below    100 ms
    |     [Teardown]    Run Keywords    Set Message Template    AND    Disconnect All Clients

    = Connection lifecycle =

    Connections come and go: `Open Connections At Rate` opens them open loop, as after a
    deploy that dropped every client (a *connection storm*: connect latency from each one's
    due time, failures by kind, `Connection Failures Should Be At Most`, `Connect Latency
    P95 Should Be Below`); `Churn Clients` replaces each connection after its lifetime while
    messages flow; `Reconnect Clients Automatically` brings back what the server closes
    (`Restart Mock Server Connections` closes them all). Messages in flight on a connection
    the client closed are *cut*, neither delivered nor lost.

    | ``*** Settings ***``
    | Library           WebSocketLoadLibrary
    | Suite Setup       Start Mock Server
    | Suite Teardown    Stop Mock Server
    |
    | ``*** Test Cases ***``
    | A Storm Of Connections Opens In Time
    |     Open Connections At Rate    200    100/s
    |     Connection Failures Should Be At Most    0
    |     Connect Latency P95 Should Be Below    500 ms
    |     [Teardown]    Disconnect All Clients
    |
    | Churned Connections Lose No Message
    |     Connect Clients    count=10
    |     Churn Clients    500 ms    1 s
    |     Run Sustained Load    200/s    3 s
    |     Delivery Ratio Should Be At Least    100%
    |     [Teardown]    Disconnect All Clients

    = Capacity =

    How much the server holds within its targets: `Find Maximum Rate` runs paced probes,
    steps the rate up until one misses the targets (``p95=``, ``delivery=``, ...), then
    bisects to the precision asked for; `Find Maximum Connections` and `Find Maximum
    Subscribers` search the number of connections and of a fan-out's subscribers. A probe
    the generator could not apply stops the search at the *generator's* limit, never taken
    for the server's capacity. `Capacity Should Be At Least` checks what was found.

    | ``*** Settings ***``
    | Library           WebSocketLoadLibrary
    | Suite Setup       Start Mock Server
    | Suite Teardown    Stop Mock Server
    |
    | ``*** Test Cases ***``
    | The Server Holds A Thousand Messages A Second Within 50 ms
    |     Set Mock Server Faults    max_message_rate=2000
    |     Connect Clients    count=10
    |     Find Maximum Rate    500/s    8k/s    probe_duration=1 s    warm_up=0.3 s    pause=0.2 s
    |     ...    precision=50%    retries=1    p95=50 ms    delivery=99%
    |     Capacity Should Be At Least    1000/s
    |     [Teardown]    Run Keywords    Clear Mock Server Faults    AND    Disconnect All Clients

    = Load agents =

    When one machine cannot generate the load, start ``python -m WebSocketLoadLibrary
    agent`` (``./run agent``) on each load machine, with the same shared secret in
    ``LOAD_AGENT_SECRET`` there and here, and drive them from one suite; with an agent
    running on this machine (``LOAD_AGENT_SECRET=... ./run agent --port 8270``) this one
    runs as it is, and with ``@{AGENTS}`` naming other machines (and the URI of a server
    they reach) it spreads the load over them:

    | ``*** Settings ***``
    | Library           WebSocketLoadLibrary
    | Suite Setup       Connect Load Agents    @{AGENTS}
    | Suite Teardown    Run Keywords    Disconnect Load Agents    AND    Stop All Mock Servers
    |
    | ``*** Variables ***``
    | @{AGENTS}         http://127.0.0.1:8270
    |
    | ``*** Test Cases ***``
    | The Agents' Load Together Meets The Latency Target
    |     ${uri}=    Start Mock Server
    |     Connect Clients On Agents    ${uri}    count=10
    |     Run Load On Agents    1k/s    duration=3 s
    |     Delivery Ratio Should Be At Least    99.9%
    |     Latency P99 Should Be Below    100 ms

    Agents serve their share of a step as a Robot Framework remote library
    (robotremoteserver); every request is signed with the shared secret, which never
    crosses the network. The step starts on all agents at one moment; the result merges
    theirs (counters summed, histograms merged: true percentiles of every message) and every
    assertion keyword works on it. Latency is measured on each agent's own clock, so the
    machines need no clock sync; each agent's clock offset is measured and recorded, and
    used only to start the agents together and to line up their timelines. An agent that
    dies mid-step fails the step, naming it, and the others' results are kept.

    = Protocols =

    Servers that speak a protocol over WebSocket -- Socket.IO, STOMP, GraphQL over
    WebSocket, MQTT -- are loaded in it: ``protocol=`` and the protocol's options on
    `Connect Clients` (a Socket.IO ``event``, a STOMP ``destination``, ...). Each request is
    framed as the protocol's message that asks for an answer (an acked event, a SEND with a
    receipt) and its answer is the reply; the protocol's keep-alives are answered all the
    while, and its own messages are never counted as replies. `Start Mock Server` speaks the
    protocols too.

    | ``*** Settings ***``
    | Library           WebSocketLoadLibrary
    | Suite Teardown    Stop All Mock Servers
    |
    | ``*** Test Cases ***``
    | Socket.IO Acks Are Replies Under Load
    |     Start Mock Server    protocol=socketio
    |     Connect Clients    count=10    protocol=socketio
    |     Run Sustained Load    500/s    3 s
    |     Delivery Ratio Should Be At Least    100%
    |     Latency P95 Should Be Below    50 ms
    |     [Teardown]    Disconnect All Clients

    = Arguments =

    Times are Robot Framework time strings: ``200 ms``, ``1.5 s``, ``1 min 30 s``, or a
    number of seconds. Rates are messages per second: ``1000``, ``1000/s``, ``2k/s``,
    ``500 msg/s``, or ``max``. Sizes: ``100 MB``, ``512 KiB``. Ratios: ``0.999`` or
    ``99.9%``. Percentiles: ``99.9`` or ``p99.9``. A malformed value fails the keyword
    with a message naming the argument and the accepted forms.

    = Failures =

    A keyword fails with a plain message when what it was given cannot be used (an
    argument, a template, a file), when something the test needs fails (a connection, the
    mock server, a load agent, a step that does not finish in time) or when a check of the
    figures fails. What lay behind the message, the low-level error and where it was
    raised, is in the log at DEBUG level (``--loglevel DEBUG``). A failure that starts with
    a Python exception name (``ValueError: ...``, ``KeyError: ...``) is a bug of the
    library: please report it with the traceback from the log.

    = Secrets =

    Give a bearer token as a Robot ``Secret`` (Robot Framework 7.4 or newer), for example
    ``VAR    ${token: Secret}    %{API_TOKEN}``, or name its environment variable with
    ``token_env=API_TOKEN``. The library never writes the token to log.html, output.xml,
    report.html or the console, at any log level. A plain-text token works but gets a
    warning, because Robot itself logs plain arguments at TRACE level.

    = Reports =

    Every load keyword logs a summary table and charts (inline SVG, drawn with
    matplotlib): messages sent and received per second and latency p50/p99 per second
    over the step, and the latency percentile distribution (HdrHistogram spectrum, on a
    1/(1-p) axis); `Run Rate Scaling` charts achieved rate and p95 against the target
    rate, `Run Connection Scaling` throughput against connections with the ideal line and
    each step's efficiency. Its headline figures go where report.html shows them: a line of
    the test's message per result, and the suite's metadata *Load figures* (its steps by
    kind; the top suite's lists every suite), so a reviewer sees them without the log.

    Every load keyword also saves its result, histograms included, to
    ``${OUTPUT DIR}/load-results/<suite>--<test>--<step>.json`` as soon as it has it, so
    a test that fails later keeps its figures. The folder holds the latest run: results
    an earlier run saved there automatically are removed by the first save of a run, once
    that run has finished (two runs side by side in one output directory keep both).
    `Merge Load Results` (or ``python -m WebSocketLoadLibrary merge DIR``) merges them
    into one page, each kind of step apart (a stream's messages or a fan-out's deliveries
    are no replies: a ratio is never taken over different kinds); `Load Results Should Not
    Regress` (or ``python -m WebSocketLoadLibrary compare BASELINE CURRENT``) checks them
    against a baseline; `Start Metrics Endpoint` serves live Prometheus metrics while steps
    run.

    = Parallel runs =

    Each mock server binds a port chosen by the operating system, so suites run in
    parallel with pabot (``pabot --processes 2 --testlevelsplit ...``) without port
    conflicts: each process starts its own server. Each process saves its results under
    its own ``pabot_results/N/load-results/``, with encoded histograms, and `Merge Load
    Results` finds them all and merges them into true percentiles.

    = Importing =

    ``loop`` chooses the event loop of the background thread that runs the load:
    ``auto`` (default: uvloop, which the library installs, else asyncio), ``uvloop`` or
    ``asyncio``. uvloop measures faster where the generator is busiest: a connection storm
    here keeps about 2,000 connections/s where the asyncio loop falls behind near 1,500,
    with the same pacing accuracy. ``loop=asyncio`` is there for a tool that must share
    the standard loop.
    """
    ROBOT_LIBRARY_SCOPE = "GLOBAL"
    ROBOT_LIBRARY_VERSION = __version__
    ROBOT_LIBRARY_DOC_FORMAT = "ROBOT"
    ROBOT_LIBRARY_CONVERTERS = CONVERTERS
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, loop: str = "auto"):
        self.state = LibraryState(loop_kind=loop_kind_named(loop))
        self.ROBOT_LIBRARY_LISTENER = self
        self._agent_keywords = AgentKeywords(self)
        super().__init__([ServerKeywords(self), ConnectionKeywords(self), LoadKeywords(self),
                          AssertionKeywords(self), StreamKeywords(self), FanoutKeywords(self),
                          LifecycleKeywords(self), ReportingKeywords(self),
                          MetricsKeywords(self), self._agent_keywords, CapacityKeywords(self)])

    def run_keyword(self, name, args, kwargs=None):
        # Only the library's own error family becomes a plain failure. Anything else is a
        # bug and goes to Robot as it is, so log.html names it and keeps its traceback.
        try:
            refuse_unconverted(self.keywords[name], args, kwargs)
            return super().run_keyword(name, args, kwargs)
        except WebSocketLoadError as error:
            raise KeywordError(_capital(str(error))) from _unhidden(error)

    # -- listener: nothing outlives the run --------------------------------------------
    def end_test(self, data, result) -> None:
        """A step started on load agents and never waited for is waited for here, with a
        warning (as Browser does with its promises): its load happened, so its figures are
        kept, and the agents are free for the next test."""
        step = self.state.agent_step
        if step is None:
            return
        logger.warn(f"Test '{data.name}' started the load step '{step.plan.name}' on load "
                    f"agents and did not wait for it: waiting for it now (use Wait For Load "
                    f"On Agents).")
        try:
            self._agent_keywords.wait_for_load_on_agents(fail_on_disconnect=False)
        except Exception as error:  # noqa: BLE001 - the test is over; say so, do not fail it
            logger.warn(f"The load step '{step.plan.name}' on load agents: {error}")

    def close(self) -> None:
        try:
            self.state.close()
        except Exception as error:  # the run is over; say so, do not fail it
            logger.warn(f"WebSocketLoadLibrary cleanup: {error}")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _unhidden(error: BaseException) -> BaseException:
    """`error` with the low-level errors behind it shown in its traceback again. Raise sites
    say `from None` to keep them out of the user's message; the DEBUG log, where Robot
    writes the failure's traceback, is where they belong."""
    seen, link = set(), error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__suppress_context__ = False
        link = link.__cause__ or link.__context__
    return error
