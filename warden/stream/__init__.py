"""Stream processing: `warden worker` moderates items from a Redis stream (`worker.py`).

Producers `XADD` one entry per item to `stream.input_stream` with a field `item` holding the item's
JSON (the same object `POST /v1/moderate` takes); workers of one consumer group share the stream,
store each decision (idempotent by content id) and append it to `stream.output_stream`.
"""
