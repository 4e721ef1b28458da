"""MBIM, sans I/O: framing and fragments (framing.py), the information-buffer layout language
(layout.py), the declarative catalogue (catalogue.py + catalogue/*.json), building and decoding
messages (message.py), transactions and timeouts given the time (client.py), summaries and
redaction (render.py), and telling MBIM bytes from QMUX bytes (detect.py)."""
