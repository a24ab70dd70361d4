# `lmforge serve` (issue 12) against real clients, on the committed demo model, on 127.0.0.1
# with ports picked at runtime; every wait bounded:
#  - serve_sdk: the official `openai` npm SDK and @langchain/openai, unchanged, plus greedy
#    output against `lmforge run --temp 0` (check_serve_sdk.py, serve_sdk.mjs);
#  - serve_hostile: malformed and hostile requests over raw sockets, slow clients,
#    disconnects mid-stream, the connection cap (check_serve_hostile.py);
#  - serve_endpoints: /v1/ask over an index, /tokenize and /detokenize against `lmforge
#    tokenize`, /metrics, /slots, SIGINT with a stream in flight (check_serve_endpoints.py);
#  - serve_load: 64 concurrent clients mixing streams, plain requests, embeddings, cancels and
#    malformed requests; no 5xx but 503 + Retry-After, slots idle and RSS flat after
#    (check_serve_load.py);
#  - serve_nginx: two replicas behind nginx with docs/nginx/lmforge.conf, streaming through it
#    (check_serve_nginx.py).
foreach(check serve_sdk serve_hostile serve_endpoints serve_load serve_nginx)
  add_test(NAME oracle.${check}
           COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_${check}.py
                   --lmforge $<TARGET_FILE:lmforge>
                   --fixtures ${LMFORGE_FIXTURE_DIR}
                   --workdir ${LMFORGE_ORACLE_WORK}/${check})
  set_tests_properties(oracle.${check} PROPERTIES TIMEOUT 600 LABELS "oracle;serve")
endforeach()
set_tests_properties(oracle.serve_sdk PROPERTIES LABELS "oracle;serve;node")
