"""Fine-tuned text encoders (issue 15): a BERT encoder with a multi-label head, trained end to end.

- `model.py`   the encoder in plain PyTorch (loads Hugging Face BERT weights);
- `data.py`    tokenised partial labels and length-bucketed batches;
- `prepare.py` data sets -> a job folder (`config.json`, `prepared.npz`);
- `loop.py`    the training loop (one process, torchrun DDP or Ray Train workers run the same code);
- `launch.py`  runs a job one of those three ways;
- `export.py`  best checkpoint -> ONNX (int8 where it keeps quality) for `detectors/finetuned.py`.
"""
