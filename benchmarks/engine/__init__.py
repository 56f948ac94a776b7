"""``python -m benchmarks.engine``: latency, throughput and quality of the engine's decoding settings on one device.

Rooms: ``args`` (the command's flags, torch-free), ``cases`` (the workloads), ``variants`` (decoding
settings, plain decoding included), ``measure`` (timing), ``quality`` (a fixed HumanEval-infilling subset),
``report`` (tables, JSON, plots) and ``run`` (the command). Speed targets are measured here, never asserted
in tests.
"""
