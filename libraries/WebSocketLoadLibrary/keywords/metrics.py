"""Keywords for the live Prometheus endpoint of the generator (off unless started)."""
from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword

from ..base.component import LibraryComponent
from ..errors import RunError, UsageError


class MetricsKeywords(LibraryComponent):

    @keyword
    def start_metrics_endpoint(self, port: int = 9464, host: str = "127.0.0.1") -> str:
        """Serves live metrics of the load generator for Prometheus at
        ``http://host:port/metrics`` and returns that URL; ``port=0`` picks a free port.

        Off until this keyword runs; binds ``127.0.0.1`` unless ``host`` says otherwise
        (``0.0.0.0`` for every interface). It serves, over every load step this library
        has run since the process started, steps on load agents included:

        | = metric = | = type = | = what = |
        | ``websocket_load_messages_sent_total``, ``..._received_total``, ``..._lost_total``, ``..._unmatched_total`` | counter | messages and replies (received: replies, fan-out deliveries and stream messages together, so received over sent is no delivery ratio) |
        | ``websocket_load_send_errors_total`` | counter | messages that could not be sent |
        | ``websocket_load_late_messages_total`` | counter | messages sent late (the generator fell behind its schedule) |
        | ``websocket_load_latency_seconds`` | histogram | reply latency (``_bucket``, ``_sum``, ``_count``) |
        | ``websocket_load_generator_cpu_seconds_total`` | counter | CPU time of the generator process |
        | ``websocket_load_generator_resident_memory_bytes`` | gauge | RSS of the generator process |
        | ``websocket_load_open_connections`` | gauge | per client pool (label ``pool``) |
        | ``websocket_load_steps_running``, ``websocket_load_steps_finished_total`` | gauge, counter | a step on agents counts once |
        | ``websocket_load_step_load_applied`` | gauge | 1 if the step's load is applied: ``step="running"`` the running step's so far (no message unsent, no more late than the verdict allows), from its first second; ``step="last"`` the last step's verdict |
        | ``websocket_load_step_late_share`` | gauge | share of the step's messages sent late: ``step="running"`` so far, ``step="last"`` |
        | ``websocket_load_last_step_load_applied`` | gauge | 1 if the last step's load was applied, else 0 (as ``step="last"`` above) |

        Each generator series has an ``agent`` label: ``local`` for this process, the
        agent's name for its share of a step on load agents (the controller polls the
        agents' figures while a step runs, at most once a second on a scrape when no `Wait
        For Load On Agents` is polling). There is no separate total series: ``sum()`` over
        the label is the whole load, e.g. ``sum(rate(websocket_load_messages_sent_total[1m]))``.
        The standard ``process_*`` figures of this process are served too.

        The figures are read from the running steps' own counters and HdrHistograms when
        Prometheus scrapes, so the endpoint costs the load nothing per message; latency is
        updated once a second. It stops with `Stop Metrics Endpoint` or at the end of the
        run. The README has a Prometheus scrape config and a Grafana dashboard for it.

        Example:
        | ${url}= | Start Metrics Endpoint | port=9464 |
        | Run Sustained Load | 1k/s | 5 min |
        | [Teardown] | Stop Metrics Endpoint |
        """
        from ..reports.metrics_endpoint import MetricsEndpoint
        if self.state.metrics_endpoint is not None:
            raise UsageError(f"the metrics endpoint already runs at "
                             f"{self.state.metrics_endpoint.url}; stop it first")
        try:
            endpoint = MetricsEndpoint(self.state.live, port=port, host=host,
                                       state=self.state)
        except OSError as error:
            raise RunError(f"cannot serve metrics on {host}:{port}: "
                           f"{error.strerror or error}") from None
        self.state.metrics_endpoint = endpoint
        logger.info(f"Metrics endpoint at {endpoint.url}")
        return endpoint.url

    @keyword
    def stop_metrics_endpoint(self) -> None:
        """Stops the endpoint `Start Metrics Endpoint` started; does nothing if none runs.

        Example:
        | [Teardown] | Stop Metrics Endpoint |
        """
        endpoint, self.state.metrics_endpoint = self.state.metrics_endpoint, None
        if endpoint is not None:
            endpoint.stop()
            logger.info(f"Metrics endpoint at {endpoint.url} stopped")
