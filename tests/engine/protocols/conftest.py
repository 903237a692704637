"""The interoperability tests start the protocols' reference servers (node, RabbitMQ,
mosquitto): real, and seconds each, so they run with the acceptance tests (`./run tests`),
not in the quick loop. The codecs' own tests here need no server and stay quick."""
import pytest

REFERENCE_SERVERS = {"socketio_server", "graphql_server", "rabbitmq", "mosquitto"}


@pytest.hookimpl(tryfirst=True)   # before `-m "not acceptance"` deselects
def pytest_collection_modifyitems(config, items):
    for item in items:
        if REFERENCE_SERVERS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.acceptance)
