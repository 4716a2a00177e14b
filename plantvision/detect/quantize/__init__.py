"""`plantvision quantize`'s engine: INT8 models that are faster and shown to decide the same.

- `graph.py`: the decode head (always kept in float) and the conv blocks the search may keep
  in float, read from the ONNX graph;
- `tools.py`: the only module that knows onnxruntime's quantization tools and the onnx
  package (pre-processing, static QDQ calibration and quantization, the QDQ loss debugger);
- `search.py`: the measured search over blocks kept in float (pure);
- `measure.py`: FP32 and INT8 speed, bare `session.run` interleaved (several backends in one run).

Detection and zone-decision agreement are counted by `plantvision.detect.agreement`; the card
the figures go into is `plantvision.detect.quant_card.QuantCard`.
"""
