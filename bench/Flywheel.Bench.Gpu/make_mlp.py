# A model made only of standard ONNX operators (MatMul, Add, Relu, Sigmoid), every one of which
# has a CUDA kernel: the check that a worker's session really runs on the GPU when it can.
#   python3 make_mlp.py out.onnx
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)
widths = [64, 512, 512, 1]
nodes, inits, previous = [], [], "x"
for i in range(len(widths) - 1):
    w = numpy_helper.from_array((rng.standard_normal((widths[i], widths[i + 1])) / np.sqrt(widths[i])).astype(np.float32), f"w{i}")
    b = numpy_helper.from_array(np.zeros(widths[i + 1], dtype=np.float32), f"b{i}")
    inits += [w, b]
    nodes.append(helper.make_node("MatMul", [previous, f"w{i}"], [f"m{i}"]))
    nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]))
    last = i == len(widths) - 2
    nodes.append(helper.make_node("Sigmoid" if last else "Relu", [f"a{i}"], ["y" if last else f"h{i}"]))
    previous = f"h{i}"
graph = helper.make_graph(nodes, "mlp",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
