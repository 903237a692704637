"""Load agents: one load step spread over several machines, one pass/fail.

An agent (`python -m WebSocketLoadLibrary agent`) serves its machine's share of a step as a
Robot Framework remote library, behind a shared secret; the controller suite's keywords
(`Connect Load Agents`, `Run Load On Agents`, ...) start the step on all agents at one
moment, collect their results and merge them: counters add up, histograms merge (true
percentiles), each agent's clock offset is recorded. Latency is measured on each agent's
own clock, from its own intended send times, so no clock sync across machines is needed.
"""
