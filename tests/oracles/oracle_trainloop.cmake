# Training's exact resume through the CLI (issue 13): `lmforge finetune` on the demo model,
# killed with SIGKILL at random moments and resumed until done, must write the uninterrupted
# run's adapter byte for byte; resumes with another data file, base or option are refused.
add_test(NAME oracle.finetune_resume
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_finetune_resume.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --model ${PROJECT_SOURCE_DIR}/models/demo
                 --workdir ${LMFORGE_ORACLE_WORK}/finetune_resume)
set_tests_properties(oracle.finetune_resume PROPERTIES TIMEOUT 1200 LABELS "oracle")

# Data-parallel `lmforge finetune` under mpirun (issue 13, item 6): 2 ranks with --batch b give
# one process's adapter with --batch 2b; resume under MPI; a failing rank ends the run. Skipped
# (exit 77) where the build found no MPI.
if(NOT LMFORGE_MPIRUN)
  set(LMFORGE_MPIRUN "")
endif()
add_test(NAME oracle.finetune_mpi
         COMMAND ${LMFORGE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/check_finetune_mpi.py
                 --lmforge $<TARGET_FILE:lmforge>
                 --fixtures ${LMFORGE_FIXTURE_DIR}
                 --model ${PROJECT_SOURCE_DIR}/models/demo
                 --mpirun "${LMFORGE_MPIRUN}"
                 --workdir ${LMFORGE_ORACLE_WORK}/finetune_mpi)
set_tests_properties(oracle.finetune_mpi PROPERTIES TIMEOUT 900 LABELS "oracle" SKIP_RETURN_CODE 77)
