# The layer order of src/: the one place it is written down. Every #include of a file under
# src/ (and tests/) must point to its own folder or to a folder of a lower layer; folders on one
# line are peers and never include each other. The build (target lmforge_layer_check), the
# per-layer libraries in CMakeLists.txt and the CTest test `layers.include_check` all read this
# list; docs/architecture.md shows it as one line.
#
# Lowest first. What each layer may know, and must not, is in docs/architecture.md.
set(LMFORGE_LAYERS
  "core"                 # errors, bytes, mapped files, dtypes, tensors, atomic outputs, threads
  "quant"                # one table per element type: block sizes, reference encode/decode
  "kernels"              # SIMD and scalar math (matmul, norms, RoPE, attention) with scalar twins
  "formats"              # file containers, knowing no architecture
  "arch"                 # model descriptions: config, one tensor table per architecture
  "tokenizer sampling"   # text <-> token ids; logits -> the next token
  "convert"              # whole models assembled from containers, and their writers
  "engine"               # the loaded model, KV cache, forward passes
  "generate"             # generation sessions, chat templates, perplexity
  "gptq retrieval train mpi" # GPTQ / RTN quantization with calibration text; text splitting, index store, search; training (LoRA, full); core's Collective over MPI (built only where MPI is found)
  "serve"                # the OpenAI-compatible HTTP server: routes, request parsing, SSE, limits, metrics
  "cli"                  # parse, call one function, print
)
