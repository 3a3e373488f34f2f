# Helpers shared by every directory.

# picket_library(NAME SOURCES ... LIBS ...): one static library per pipeline stage.
# Includes are relative to daemon/ ("common/result.h", "netfilter/flow.h").
function(picket_library name)
  cmake_parse_arguments(L "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${L_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/daemon)
  target_compile_options(${name} PRIVATE ${PICKET_WARNINGS})
  target_link_libraries(${name} PUBLIC ${L_LIBS})
endfunction()

# picket_test(NAME SOURCES ... LIBS ... [ROOT]): a GoogleTest binary registered with CTest.
# ROOT tests need root (network namespaces, netfilter, BPF); they skip themselves otherwise
# and carry the CTest label "root". All others carry "unit".
function(picket_test name)
  cmake_parse_arguments(T "ROOT" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/daemon ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${PICKET_WARNINGS})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(T_ROOT)
    set_tests_properties(${name} PROPERTIES LABELS root TIMEOUT ${T_TIMEOUT} RUN_SERIAL TRUE)
  else()
    set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT ${T_TIMEOUT})
  endif()
endfunction()

# picket_fuzz_target(NAME SOURCE FILE CORPUS DIR LIBS ...): a libFuzzer entry point
# (LLVMFuzzerTestOneInput). With PICKET_FUZZ and clang it links -fsanitize=fuzzer; otherwise it is
# linked with a replay driver and registered as a CTest test that runs every file of the seed
# corpus through it, so each target is built and exercised in every build.
function(picket_fuzz_target name)
  cmake_parse_arguments(F "" "SOURCE;CORPUS" "LIBS" ${ARGN})
  if(PICKET_FUZZ)
    add_executable(${name} ${F_SOURCE})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  else()
    add_executable(${name} ${F_SOURCE} ${PROJECT_SOURCE_DIR}/tests/fuzz_replay_main.cc)
    add_test(NAME ${name}_replay COMMAND ${name} ${F_CORPUS})
    set_tests_properties(${name}_replay PROPERTIES LABELS unit TIMEOUT 120)
  endif()
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/daemon)
  target_compile_options(${name} PRIVATE ${PICKET_WARNINGS})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
endfunction()
