"""Text utilities shared by detectors: normalisation, hashed n-gram features, language id."""
