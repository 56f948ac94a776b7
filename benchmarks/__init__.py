"""diffill's measurement suite: engine speed and quality, server latency, the repository benchmark.

Run from a checkout (``python -m benchmarks.engine``, ``python benchmarks/server_latency.py``); nothing
here ships in the wheel, and the runtime packages never import it.
"""
