"""Reports on results: charts, saved result files, merged runs, regression checks, live metrics.

Plain Python over the engine's results; no Robot Framework imports, so the command line
(`python -m WebSocketLoadLibrary merge|compare`) uses it as the keywords do. matplotlib and
prometheus-client are imported only by the modules that draw or serve (charts, metrics), and
only when they are used, so importing the engine stays light.
"""
