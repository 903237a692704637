"""Names shared by the mock server process and its handle."""

AUTH_TOKEN_ENV = "MOCKSERVER_AUTH_TOKEN"
