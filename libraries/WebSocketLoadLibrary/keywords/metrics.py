"""Keywords for the live Prometheus endpoint of the generator (off unless started)."""
from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword

from ..errors import RunError, UsageError
from .component import LibraryComponent


class MetricsKeywords(LibraryComponent):

    @keyword
    def start_metrics_endpoint(self, port: int = 9464, host: str = "127.0.0.1") -> str:
        """Serves live metrics of the load generator for Prometheus at
        ``http://host:port/metrics`` and returns that URL; ``port=0`` picks a free port.

        Off until this keyword runs; binds ``127.0.0.1`` unless ``host`` says otherwise
        (``0.0.0.0`` for every interface). It serves, over every load step this library
        has run (Prometheus counters count from the start of the process):
        ``websocket_load_messages_sent_total``, ``..._received_total``, ``..._lost_total``,
        ``..._unmatched_total`` (counters that only rise), ``websocket_load_step_running``,
        and ``websocket_load_latency_seconds`` (a histogram of reply latency). The figures
        are read from the running step's own counters and HdrHistogram when Prometheus
        scrapes, so the endpoint costs the load nothing per message; latency is updated
        once a second. It stops with `Stop Metrics Endpoint` or at the end of the run.

        Example:
        | ${url}= | Start Metrics Endpoint | port=9464 |
        | Run Sustained Load | 1k/s | 5 min |
        | [Teardown] | Stop Metrics Endpoint |
        """
        from ..reports.metrics import MetricsEndpoint
        if self.state.metrics_endpoint is not None:
            raise UsageError(f"the metrics endpoint already runs at "
                             f"{self.state.metrics_endpoint.url}; stop it first")
        try:
            endpoint = MetricsEndpoint(self.state.live, port=port, host=host)
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
