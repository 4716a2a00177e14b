"""plantvision: an edge-box safety and defect-rejection controller.

Camera frames go through an ONNX detector; people are checked against stop and warning zones,
defects against conveyor timing; the decisions drive a PLC over Modbus TCP. See README.md.
"""

__version__ = "0.1.0"
