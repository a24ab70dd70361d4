lmforge_oracle_check(onnx 900 oracle)  # ONNX reader/writer vs python3-onnx 1.12; llama exports vs PyTorch float64 (and llama.cpp)
