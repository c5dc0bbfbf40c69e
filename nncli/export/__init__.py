"""Exporting a model: to an ONNX graph (``onnx_graph``) and to a standalone Python file
(``python_file``), both built from one ``plan`` of the model's steps."""
