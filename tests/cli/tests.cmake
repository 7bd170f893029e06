# The flag definitions are compiled into test_cli too, so tests can parse command lines in process
# (tests/cli/local_generation_test.cpp) as well as through the executable.
target_sources(test_cli PRIVATE ${CMAKE_SOURCE_DIR}/src/cli/flags.cpp ${CMAKE_SOURCE_DIR}/src/cli/reference_flags.cpp)
