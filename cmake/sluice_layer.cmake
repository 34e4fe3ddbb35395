# sluice_layer(<name> SOURCES ... [DEPS <layers>...] [LIBS <external targets>...])
#
# Declares the library of one src/ layer, `sluice_<name>`. With
# SLUICE_SANITIZER_TESTS, a layer named in SLUICE_SANITIZER_LAYERS also gets
# `sluice_<name>_asan`, the same sources built under ASan+UBSan, so its unit
# tests run under both.
# DEPS name other layers only (without the sluice_ prefix); the layering rule
# of DESIGN.md is checked by tools/check_layers.py.

# Whether the layers `names` all get an ASan+UBSan twin: SLUICE_SANITIZER_LAYERS
# lists them ("all": every layer).
function(sluice_sanitized out)
  set(result ${SLUICE_SANITIZER_TESTS})
  if(result AND NOT SLUICE_SANITIZER_LAYERS STREQUAL "all")
    foreach(name IN LISTS ARGN)
      if(NOT name IN_LIST SLUICE_SANITIZER_LAYERS)
        set(result OFF)
      endif()
    endforeach()
  endif()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

function(sluice_layer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LIBS;GENERATED_INCLUDE" ${ARGN})
  set(variants plain)
  sluice_sanitized(sanitized ${name})
  if(sanitized)
    sluice_sanitized(deps_sanitized ${ARG_DEPS})
    if(NOT deps_sanitized)
      message(FATAL_ERROR "SLUICE_SANITIZER_LAYERS names ${name} without all of its DEPS (${ARG_DEPS})")
    endif()
    list(APPEND variants asan)
  endif()
  foreach(variant_name IN LISTS variants)
    set(variant "")
    if(variant_name STREQUAL "asan")
      set(variant "_asan")
    endif()
    set(target sluice_${name}${variant})
    add_library(${target} STATIC ${ARG_SOURCES})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src ${ARG_GENERATED_INCLUDE})
    target_compile_options(${target} PRIVATE ${SLUICE_WARNINGS})
    foreach(dep IN LISTS ARG_DEPS)
      target_link_libraries(${target} PUBLIC sluice_${dep}${variant})
    endforeach()
    target_link_libraries(${target} PUBLIC ${ARG_LIBS})
    if(variant STREQUAL "_asan")
      target_compile_options(${target} PUBLIC ${SLUICE_SANITIZER_FLAGS})
      target_link_options(${target} PUBLIC ${SLUICE_SANITIZER_FLAGS})
    endif()
  endforeach()
endfunction()

# sluice_unit_test(<name> SOURCES ... LAYERS <layers>... [LIBS ...] [NO_SANITIZER] [NO_UNITY])
#
# A GoogleTest executable registered with ctest, plus its ASan+UBSan twin
# `<name>_asan` when every one of its LAYERS has one (unless NO_SANITIZER, or
# SLUICE_SANITIZER_LAYERS is "all"). The plain variant's own sources build at
# -O1: test code needs no -O2, and it is a third of the build. NO_UNITY: the
# sources still define the same helper names in anonymous namespaces, so
# they compile one by one even in a unity build (SLUICE_UNITY_BUILD).
function(sluice_unit_test name)
  cmake_parse_arguments(ARG "NO_SANITIZER;NO_UNITY" "" "SOURCES;LAYERS;LIBS" ${ARGN})
  set(variants plain)
  sluice_sanitized(sanitized ${ARG_LAYERS})
  if(ARG_NO_SANITIZER AND NOT SLUICE_SANITIZER_LAYERS STREQUAL "all")
    set(sanitized OFF)
  endif()
  if(sanitized)
    list(APPEND variants asan)
  endif()
  foreach(variant_name IN LISTS variants)
    set(variant "")
    if(variant_name STREQUAL "asan")
      set(variant "_asan")
    endif()
    set(target ${name}${variant})
    add_executable(${target} ${ARG_SOURCES})
    if(ARG_NO_UNITY)
      set_target_properties(${target} PROPERTIES UNITY_BUILD OFF)
    endif()
    target_compile_options(${target} PRIVATE ${SLUICE_WARNINGS})
    if(variant STREQUAL "")
      target_compile_options(${target} PRIVATE -O1)
    endif()
    foreach(layer IN LISTS ARG_LAYERS)
      target_link_libraries(${target} PRIVATE sluice_${layer}${variant})
    endforeach()
    target_link_libraries(${target} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
    add_test(NAME ${target} COMMAND ${target})
    set_tests_properties(${target} PROPERTIES ENVIRONMENT
      "SLUICE_FIXTURES=${PROJECT_SOURCE_DIR}/tests/fixtures;ASAN_OPTIONS=detect_leaks=1;UBSAN_OPTIONS=print_stacktrace=1")
  endforeach()
endfunction()
