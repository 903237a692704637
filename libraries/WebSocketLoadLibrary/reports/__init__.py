"""Reports on results: charts (`charts/`, one module per subject), the summary tables of the
log (`summary_table`), saved result files (`records`), merged runs (`merge`: steps by kind as
`kinds` declares them and `figure_words` writes them, capacity searches in `searches`, the
page in `merged_page`), the headline figures report.html shows (`headlines`), regression
checks, live metrics (`metrics`, `live_state`, `metrics_endpoint`), and how seconds and
bytes read (`formatting`).

Plain Python over the engine's results; no Robot Framework imports, so the command line
(`python -m WebSocketLoadLibrary merge|compare`) uses it as the keywords do. matplotlib and
prometheus-client are imported only by the modules that draw or serve (charts, metrics), and
only when they are used, so importing the engine stays light.
"""
