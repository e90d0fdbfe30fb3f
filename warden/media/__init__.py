"""Safe media intake: decoding with explicit limits before any detector sees the pixels."""
